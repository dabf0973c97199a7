"""Messaging tables, then the enrolment service's own: directory, courses, centres, batches, enrolments,
trainer eligibility and bulk-import jobs. Every row carries its tenant (the state code)."""

from alembic import op
from karmayogi_runtime.schema import MESSAGING_TABLES

revision = "0001"
down_revision = None

TABLES = (
    """
    CREATE TABLE employees (
        tenant              text NOT NULL,
        id                  text NOT NULL,
        name                text NOT NULL,
        email               text,
        mobile              text,
        preferred_language  text NOT NULL,
        department          text NOT NULL,
        designation         text NOT NULL,
        district            text NOT NULL,
        updated_at          timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, id)
    )
    """,
    """
    CREATE TABLE courses (
        tenant                      text NOT NULL,
        id                          uuid NOT NULL,
        title                       text NOT NULL,
        competencies                jsonb NOT NULL,
        minimum_attendance_percent  integer NOT NULL,
        mandatory_session_ids       uuid[] NOT NULL,
        trains_trainers             boolean NOT NULL,
        family                      text NOT NULL,
        created_at                  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, id)
    )
    """,
    """
    CREATE TABLE centres (
        tenant      text NOT NULL,
        id          uuid NOT NULL,
        name        text NOT NULL,
        tier        text NOT NULL CHECK (tier IN ('hub', 'spoke')),
        district    text NOT NULL,
        hub_id      uuid,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, id),
        FOREIGN KEY (tenant, hub_id) REFERENCES centres (tenant, id),
        CHECK ((tier = 'spoke') = (hub_id IS NOT NULL))
    )
    """,
    """
    CREATE TABLE batches (
        tenant            text NOT NULL,
        id                uuid NOT NULL,
        course_id         uuid NOT NULL,
        centre_id         uuid NOT NULL,
        start_date        date NOT NULL,
        end_date          date NOT NULL,
        capacity          integer NOT NULL CHECK (capacity >= 1),
        mode              text NOT NULL,
        sessions_planned  integer NOT NULL,
        trainers          text[] NOT NULL,
        enrolment_open    boolean NOT NULL,
        enrolled_count    integer NOT NULL DEFAULT 0,
        waitlisted_count  integer NOT NULL DEFAULT 0,
        created_at        timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, id),
        FOREIGN KEY (tenant, course_id) REFERENCES courses (tenant, id),
        FOREIGN KEY (tenant, centre_id) REFERENCES centres (tenant, id),
        CHECK (end_date >= start_date)
    )
    """,
    "CREATE INDEX batches_course ON batches (tenant, course_id)",
    "CREATE INDEX batches_centre ON batches (tenant, centre_id)",
    """
    CREATE TABLE enrolments (
        tenant        text NOT NULL,
        id            uuid NOT NULL,
        seq           bigserial NOT NULL,
        employee_id   text NOT NULL,
        batch_id      uuid NOT NULL,
        course_id     uuid NOT NULL,
        centre_id     uuid NOT NULL,
        status        text NOT NULL CHECK (status IN ('enrolled', 'waitlisted', 'withdrawn', 'completed')),
        channel       text NOT NULL,
        requested_at  timestamptz NOT NULL,
        enrolled_at   timestamptz,
        withdrawn_at  timestamptz,
        withdrawal_reason text,
        PRIMARY KEY (tenant, id),
        FOREIGN KEY (tenant, employee_id) REFERENCES employees (tenant, id),
        FOREIGN KEY (tenant, batch_id) REFERENCES batches (tenant, id)
    )
    """,
    "CREATE UNIQUE INDEX enrolments_seq ON enrolments (seq)",
    # One active enrolment per employee per course, whatever the batch: the database holds the rule too.
    """
    CREATE UNIQUE INDEX enrolments_one_active_per_course ON enrolments (tenant, employee_id, course_id)
    WHERE status IN ('enrolled', 'waitlisted')
    """,
    "CREATE INDEX enrolments_batch ON enrolments (tenant, batch_id, seq)",
    "CREATE INDEX enrolments_waitlist ON enrolments (tenant, batch_id, seq) WHERE status = 'waitlisted'",
    "CREATE INDEX enrolments_course ON enrolments (tenant, course_id, seq)",
    "CREATE INDEX enrolments_centre ON enrolments (tenant, centre_id, seq)",
    """
    CREATE TABLE trainer_eligibility (
        tenant          text NOT NULL,
        employee_id     text NOT NULL,
        course_family   text NOT NULL,
        certificate_id  uuid NOT NULL,
        issued_at       timestamptz NOT NULL,
        PRIMARY KEY (tenant, employee_id, course_family)
    )
    """,
    """
    CREATE TABLE bulk_jobs (
        tenant        text NOT NULL,
        id            uuid NOT NULL,
        format        text NOT NULL,
        channel       text NOT NULL,
        status        text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        lines_read    integer NOT NULL DEFAULT 0,
        accepted      integer NOT NULL DEFAULT 0,
        waitlisted    integer NOT NULL DEFAULT 0,
        duplicate     integer NOT NULL DEFAULT 0,
        rejected      integer NOT NULL DEFAULT 0,
        error         text,
        started_at    timestamptz NOT NULL DEFAULT now(),
        heartbeat_at  timestamptz NOT NULL DEFAULT now(),
        finished_at   timestamptz,
        PRIMARY KEY (tenant, id)
    )
    """,
    """
    CREATE TABLE bulk_job_rows (
        job_id        uuid NOT NULL,
        line          integer NOT NULL,
        outcome       text NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'rejected')),
        status        text,
        employee_id   text,
        batch_id      text,
        enrolment_id  uuid,
        reason        text,
        PRIMARY KEY (job_id, line)
    )
    """,
)


def upgrade() -> None:
    for statement in MESSAGING_TABLES:
        op.execute(statement)
    for statement in TABLES:
        op.execute(statement)

