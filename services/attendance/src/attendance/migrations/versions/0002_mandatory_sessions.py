"""Sessions flagged mandatory by the training officer who schedules them.

- `sessions.mandatory`: every enrolled employee of the batch must attend the session to complete the
  course, whatever their percentage. A course's completion rule can name mandatory sessions only by ids
  known when the course is created (a state system's own session ids); a session scheduled through this
  service's API gets an id of its batch (`marking.session_id`), so it is flagged here instead
  (`domain.completion_reached`). Sessions scheduled before this revision are not mandatory.
"""

from alembic import op

revision = "0002"
down_revision = "0001"

STATEMENTS = (
    "ALTER TABLE sessions ADD COLUMN mandatory boolean NOT NULL DEFAULT false",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
