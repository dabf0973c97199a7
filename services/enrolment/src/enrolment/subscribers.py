"""What the enrolment service consumes: master-trainer certificates, which make their holders eligible
to train spoke batches of the course family."""

from karmayogi_runtime.consumer import Subscription

from enrolment.handlers import on_certificate_issued

SUBSCRIPTIONS = (
    Subscription(
        group="enrolment.master-trainers",
        topics=("certificate.issued",),
        handler=on_certificate_issued,
        description="Records who holds a master-trainer certificate of which course family.",
    ),
)
