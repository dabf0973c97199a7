"""The one consumer group: every `course.completed`, from attendance or straight from iGOT."""

from karmayogi_runtime.consumer import Subscription

from certification.handlers import Issuer


def subscriptions(issuer: Issuer) -> tuple[Subscription, ...]:
    return (
        Subscription("certification.issuer", ("course.completed",), issuer.issue, handle_many=issuer.issue_many,
                     description="Issues exactly one signed certificate per completed enrolment."),
    )
