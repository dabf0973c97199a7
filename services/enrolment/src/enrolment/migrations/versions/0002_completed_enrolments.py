"""Completed enrolments, enrolments found by employee, and revoked certificates.

- `completed_at`: when the certificate of an enrolment was issued (`certificate.issued`), which marks the
  enrolment completed; a completed enrolment can no longer be withdrawn, and it keeps its course, as an
  enrolled one does: an employee completes a course once (the one-per-course index counts it).
- `enrolments_employee`: GET enrolments?employee_id=... read every enrolment of the state without it.
- `revoked_certificates`: a revoked master-trainer certificate no longer makes its holder eligible to train
  spoke batches. Revocations are remembered, because `certificate.revoked` may be read before the
  `certificate.issued` of the same certificate (different topics are not ordered).
- `trainer_eligibility` gets a row per certificate: a master trainer re-certified in the same family stays
  eligible when one of the two certificates is revoked.
"""

from alembic import op

revision = "0002"
down_revision = "0001"

STATEMENTS = (
    "ALTER TABLE enrolments ADD COLUMN completed_at timestamptz",
    "DROP INDEX enrolments_one_active_per_course",
    """
    CREATE UNIQUE INDEX enrolments_one_active_per_course ON enrolments (tenant, employee_id, course_id)
    WHERE status IN ('enrolled', 'waitlisted', 'completed')
    """,
    "CREATE INDEX enrolments_employee ON enrolments (tenant, employee_id, seq)",
    """
    CREATE TABLE revoked_certificates (
        tenant          text NOT NULL,
        certificate_id  uuid NOT NULL,
        revoked_at      timestamptz NOT NULL,
        PRIMARY KEY (tenant, certificate_id)
    )
    """,
    "ALTER TABLE trainer_eligibility DROP CONSTRAINT trainer_eligibility_pkey",
    "ALTER TABLE trainer_eligibility ADD PRIMARY KEY (tenant, certificate_id)",
    "CREATE INDEX trainer_eligibility_family ON trainer_eligibility (tenant, course_family, employee_id)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
