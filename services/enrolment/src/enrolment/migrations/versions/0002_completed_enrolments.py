"""Completed enrolments, enrolments found by employee, and revoked certificates.

- `completed_at`: when the certificate of an enrolment was issued (`certificate.issued`), which marks the
  enrolment completed; a completed enrolment can no longer be withdrawn.
- `enrolments_employee`: GET enrolments?employee_id=... read every enrolment of the state without it.
- `revoked_certificates`: a revoked master-trainer certificate no longer makes its holder eligible to train
  spoke batches. Revocations are remembered, because `certificate.revoked` may be read before the
  `certificate.issued` of the same certificate (different topics are not ordered).
"""

from alembic import op

revision = "0002"
down_revision = "0001"

STATEMENTS = (
    "ALTER TABLE enrolments ADD COLUMN completed_at timestamptz",
    "CREATE INDEX enrolments_employee ON enrolments (tenant, employee_id, seq)",
    """
    CREATE TABLE revoked_certificates (
        tenant          text NOT NULL,
        certificate_id  uuid NOT NULL,
        revoked_at      timestamptz NOT NULL,
        PRIMARY KEY (tenant, certificate_id)
    )
    """,
    "CREATE INDEX trainer_eligibility_certificate ON trainer_eligibility (tenant, certificate_id)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
