"""Lapsed waitlists.

An employee still waitlisted when their batch starts never gets a seat in it (nobody joins a batch that
has started). The enrolment is then `lapsed`: no longer active, it stops holding the employee's place in
the course (the one-per-course index counts only enrolled, waitlisted and completed ones), so the
employee can enrol in another batch of the course without withdrawing first.
"""

from alembic import op

revision = "0003"
down_revision = "0002"

STATEMENTS = (
    "ALTER TABLE enrolments DROP CONSTRAINT enrolments_status_check",
    """
    ALTER TABLE enrolments ADD CONSTRAINT enrolments_status_check
    CHECK (status IN ('enrolled', 'waitlisted', 'withdrawn', 'completed', 'lapsed'))
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
