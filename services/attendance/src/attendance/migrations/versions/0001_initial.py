"""Messaging tables; the roster (batches, enrolments, withdrawals), sessions, attendance, completions."""

from alembic import op
from karmayogi_runtime.schema import MESSAGING_TABLES

revision = "0001"
down_revision = None

TABLES = (
    # Batches as known from the enrolments received: sessions can be scheduled only for these.
    """
    CREATE TABLE batches (
        tenant           text    NOT NULL,
        id               uuid    PRIMARY KEY,
        course           jsonb   NOT NULL,
        centre           jsonb   NOT NULL,
        start_date       date    NOT NULL,
        end_date         date    NOT NULL,
        mode             text    NOT NULL,
        sessions_planned integer NOT NULL,
        snapshot_at      timestamptz NOT NULL
    )
    """,
    # One row per enrolment, with the snapshot completion needs and its progress (never lowered).
    """
    CREATE TABLE enrolments (
        tenant            text        NOT NULL,
        enrolment_id      uuid        PRIMARY KEY,
        employee_id       text        NOT NULL,
        employee_name     text        NOT NULL,
        batch_id          uuid        NOT NULL,
        course            jsonb       NOT NULL,
        centre            jsonb       NOT NULL,
        centre_id         uuid        NOT NULL,
        district          text        NOT NULL,
        sessions_planned  integer     NOT NULL,
        minimum_attendance_percent integer NOT NULL,
        mandatory_session_ids uuid[]  NOT NULL,
        enrolled_at       timestamptz NOT NULL,
        withdrawn_at      timestamptz,
        sessions_attended integer     NOT NULL DEFAULT 0,
        attendance_percent numeric(5, 2) NOT NULL DEFAULT 0,
        completed_at      timestamptz
    )
    """,
    "CREATE INDEX enrolments_batch ON enrolments (batch_id)",
    "CREATE INDEX enrolments_tenant_centre ON enrolments (tenant, centre_id)",
    # A withdrawal may arrive before its enrolment (another topic): kept here, applied when it does.
    """
    CREATE TABLE withdrawals (
        tenant       text        NOT NULL,
        enrolment_id uuid        PRIMARY KEY,
        employee_id  text        NOT NULL,
        batch_id     uuid        NOT NULL,
        withdrawn_at timestamptz NOT NULL,
        reason       text        NOT NULL
    )
    """,
    """
    CREATE TABLE sessions (
        tenant           text        NOT NULL,
        id               uuid        PRIMARY KEY,
        batch_id         uuid        NOT NULL REFERENCES batches (id),
        starts_at        timestamptz NOT NULL,
        duration_minutes integer     NOT NULL,
        mode             text        NOT NULL,
        scheduled_at     timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX sessions_batch ON sessions (batch_id, starts_at)",
    # One row per enrolment and session, however many reports: the most minutes any source gave.
    """
    CREATE TABLE attendance (
        tenant           text        NOT NULL,
        enrolment_id     uuid        NOT NULL,
        session_id       uuid        NOT NULL,
        employee_id      text        NOT NULL,
        minutes          integer     NOT NULL,
        duration_minutes integer     NOT NULL,
        starts_at        timestamptz NOT NULL,
        marked_at        timestamptz NOT NULL,
        sources          text[]      NOT NULL,
        PRIMARY KEY (enrolment_id, session_id)
    )
    """,
    # The exactly-once guard: a completion is published only by the transaction that inserts its row.
    """
    CREATE TABLE completions (
        tenant        text        NOT NULL,
        enrolment_id  uuid        PRIMARY KEY,
        completion_id uuid        NOT NULL UNIQUE,
        completed_at  timestamptz NOT NULL,
        recorded_at   timestamptz NOT NULL DEFAULT now()
    )
    """,
)


def upgrade() -> None:
    for statement in (*MESSAGING_TABLES, *TABLES):
        op.execute(statement)
