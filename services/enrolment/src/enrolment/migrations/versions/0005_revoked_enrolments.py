"""Enrolments whose certificate was revoked.

A revoked certificate left its enrolment `completed`, so the employee could never enrol in the course again
("has already completed this course") though they no longer held its certificate. Such an enrolment is now
`revoked`, with `certificate_revoked_at`: it no longer holds the employee's place in the course (the
one-per-course index counts enrolled, waitlisted and completed ones), and the employee may enrol in another
batch of it to earn the certificate again. Enrolments whose certificates were revoked before this revision
stay `completed`: a revocation was remembered by its certificate's id alone.
"""

from alembic import op

revision = "0005"
down_revision = "0004"

STATEMENTS = (
    "ALTER TABLE enrolments ADD COLUMN certificate_revoked_at timestamptz",
    "ALTER TABLE enrolments DROP CONSTRAINT enrolments_status_check",
    """
    ALTER TABLE enrolments ADD CONSTRAINT enrolments_status_check
    CHECK (status IN ('enrolled', 'waitlisted', 'withdrawn', 'completed', 'lapsed', 'revoked'))
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
