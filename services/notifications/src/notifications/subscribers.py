"""The one consumer group of the service: the four topics that tell an employee something happened, and
`employee.updated`, which only keeps their contact up to date."""

from karmayogi_runtime.consumer import Subscription

from .handlers import Notifier

TOPICS = ("employee.enrolled", "course.completed", "certificate.issued", "certificate.revoked", "employee.updated")


def subscriptions(notifier: Notifier) -> tuple[Subscription, ...]:
    return (
        Subscription(
            group="notifications.messages", topics=TOPICS, handler=notifier.handle, handle_many=notifier.handle_many,
            description="Keeps the contact directory (from enrolments and directory updates) and queues one e-mail and "
                        "one SMS per event and employee (none for an update).",
        ),
    )
