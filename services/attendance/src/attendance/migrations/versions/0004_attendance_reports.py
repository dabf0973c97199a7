"""Every attendance report as it was marked, so a completion is dated when the rule was first met.

- `attendance_reports` (enrolment, session, marked_at, minutes): one row per report, with the session's
  length as reported; the same figures at the same moment again are kept once. The `attendance` table keeps
  only each session's best report, which cannot say when an employee first met the rule once reports arrive
  out of order (`domain.first_met`).
- A new table that the old pods neither read nor write, so they run on unchanged while it is created. It is
  not filled from `attendance`: the new pods read each session's best report from there besides these
  (`repository.REPORTS`), which covers what was recorded before this revision and what the old pods record
  during the rollout. For those, only the best report of each session is known, not the smaller ones before it.
"""

from alembic import op

revision = "0004"
down_revision = "0003"

CREATE_TABLE = """
    CREATE TABLE IF NOT EXISTS attendance_reports (
        tenant           text        NOT NULL,
        enrolment_id     uuid        NOT NULL,
        session_id       uuid        NOT NULL,
        minutes          integer     NOT NULL,
        duration_minutes integer     NOT NULL,
        marked_at        timestamptz NOT NULL,
        PRIMARY KEY (enrolment_id, session_id, marked_at, minutes)
    )
"""


def upgrade() -> None:
    op.execute(CREATE_TABLE)
