"""What the enrolment service consumes: the certificates that make their holders master trainers, eligible
to train spoke batches of the course family, and complete their enrolments; and their revocations."""

from karmayogi_runtime.consumer import Subscription

from enrolment.handlers import on_certificate_issued, on_certificate_revoked

SUBSCRIPTIONS = (
    Subscription(
        group="enrolment.master-trainers",
        topics=("certificate.issued",),
        handler=on_certificate_issued,
        description="Records who holds a master-trainer certificate of which course family, and completes "
                    "the certificate's enrolment.",
    ),
    # Its own group: a backlog of one topic never holds up the other, and the two handlers meet only in
    # the database, where they take the same lock on the certificate (repository.LOCK_CERTIFICATE).
    Subscription(
        group="enrolment.revoked-master-trainers",
        topics=("certificate.revoked",),
        handler=on_certificate_revoked,
        description="Marks a revoked certificate's enrolment revoked, which opens the course to the employee "
        "again, and withdraws the eligibility a revoked master-trainer certificate gave its holder.",
    ),
)
