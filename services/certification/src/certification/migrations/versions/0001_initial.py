"""Messaging tables and certificates: one row per enrolment, keyed by the deterministic certificate id."""

from alembic import op
from karmayogi_runtime.schema import MESSAGING_TABLES

revision = "0001"
down_revision = None

CERTIFICATES = """
    CREATE TABLE certificates (
        certificate_id     uuid        PRIMARY KEY,  -- ids.certificate_id(tenant, enrolment_id)
        tenant             text        NOT NULL,
        enrolment_id       uuid        NOT NULL,
        employee_id        text        NOT NULL,
        employee_name      text        NOT NULL,
        course_id          uuid        NOT NULL,
        course_title       text        NOT NULL,
        course_family      text        NOT NULL,
        trains_trainers    boolean     NOT NULL,
        competencies       text[]      NOT NULL,
        centre             text,
        issued_at          timestamptz NOT NULL,
        credential         text        NOT NULL,     -- the signed JWT
        kid                text        NOT NULL,
        revoked_at         timestamptz,
        revocation_reason  text,
        UNIQUE (tenant, enrolment_id)
    )
"""


def upgrade() -> None:
    for statement in MESSAGING_TABLES:
        op.execute(statement)
    op.execute(CERTIFICATES)
    op.execute("CREATE INDEX certificates_by_tenant ON certificates (tenant, issued_at DESC)")
