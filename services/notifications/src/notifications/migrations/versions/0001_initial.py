"""Messaging tables, the contact directory, opt-outs, issued certificates and deliveries."""

from alembic import op
from karmayogi_runtime.schema import MESSAGING_TABLES

revision = "0001"
down_revision = None

TABLES = (
    """
    CREATE TABLE contacts (
        tenant       text        NOT NULL,
        employee_id  text        NOT NULL,
        name         text        NOT NULL,
        email        text,
        mobile       text,
        language     text        NOT NULL,
        enrolled_at  timestamptz NOT NULL,  -- of the enrolment that last set these details (newest wins)
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, employee_id)
    )
    """,
    """
    CREATE TABLE opt_outs (
        tenant       text        NOT NULL,
        employee_id  text        NOT NULL,
        channel      text        NOT NULL CHECK (channel IN ('email', 'sms')),
        opted_out_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, employee_id, channel)
    )
    """,
    """
    CREATE TABLE deliveries (
        id              uuid        PRIMARY KEY,  -- uuid5(event, channel, recipient): also the Message-ID
        tenant          text        NOT NULL,
        employee_id     text        NOT NULL,
        event_id        uuid        NOT NULL,
        event_type      text        NOT NULL,
        channel         text        NOT NULL CHECK (channel IN ('email', 'sms')),
        recipient       text        NOT NULL,     -- the employee, '<tenant>:<employee_id>'
        address         text,                     -- e-mail address or E.164 mobile; null when none
        language        text        NOT NULL,
        subject         text,
        body_text       text        NOT NULL,
        body_html       text,
        status          text        NOT NULL CHECK (status IN
                            ('pending', 'sending', 'sent', 'failed', 'undeliverable', 'opted_out')),
        reason          text,
        attempts        integer     NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        sent_at         timestamptz,
        UNIQUE (event_id, channel, recipient)
    )
    """,
    """
    CREATE TABLE certificates (  -- what a revocation message names: the course and the verification page
        tenant         text NOT NULL,
        certificate_id uuid NOT NULL,
        course_title   text NOT NULL,
        verify_url     text NOT NULL,
        PRIMARY KEY (tenant, certificate_id)
    )
    """,
    "CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending')",
    "CREATE INDEX deliveries_by_employee ON deliveries (tenant, employee_id, created_at)",
)


def upgrade() -> None:
    for statement in MESSAGING_TABLES + TABLES:
        op.execute(statement)
