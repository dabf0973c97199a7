"""Each employee's newest name, kept from `employee.enrolled` and `employee.updated`, the later time winning.

- `employee_names` (tenant, employee_id): the employee's newest name and the time it is as of (the
  `enrolled_at` or `updated_at` of the event it came from), kept for an employee with no enrolment here yet
  too, so an enrolment read after a newer change takes the change's name. A new table: the old pods, which
  neither read nor write it, run on unchanged while it is created.
- Filled from the enrolments already recorded, each employee's newest: without it, an enrolment made earlier
  but read after this revision would keep its older name beside a newer one already recorded. One pass that
  only reads the enrolments; newest wins, so the revision may run again. The enrolments the old pods record
  after it are not in it: each keeps its own name where it is newer than the one kept
  (`repository.RENAME_EMPLOYEE`), and the next change or enrolment of the employee brings the table level.
- `enrolments_by_employee` (tenant, employee_id): the employee's name is written onto every enrolment of
  theirs in the state, on every enrolment and change; without it each would read the whole table. Built
  CONCURRENTLY, as certification's 0002: the old pods still record attendance while it builds. An INVALID
  index left by a failed build is dropped and built again, so the revision may run again.
"""

from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"

CREATE_TABLE = """
    CREATE TABLE IF NOT EXISTS employee_names (
        tenant      text        NOT NULL,
        employee_id text        NOT NULL,
        name        text        NOT NULL,
        as_of       timestamptz NOT NULL,
        PRIMARY KEY (tenant, employee_id)
    )
"""
FILL_FROM_ENROLMENTS = """
    INSERT INTO employee_names AS kept (tenant, employee_id, name, as_of)
    SELECT DISTINCT ON (tenant, employee_id) tenant, employee_id, employee_name, enrolled_at FROM enrolments
    ORDER BY tenant, employee_id, enrolled_at DESC
    ON CONFLICT (tenant, employee_id) DO UPDATE SET name = excluded.name, as_of = excluded.as_of
    WHERE kept.as_of < excluded.as_of
"""
INDEX = "enrolments_by_employee"
INVALID_INDEX = "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"


def upgrade() -> None:
    op.execute(CREATE_TABLE)
    op.execute(FILL_FROM_ENROLMENTS)
    with op.get_context().autocommit_block():
        if op.get_bind().execute(text(INVALID_INDEX), {"name": INDEX}).scalar():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON enrolments (tenant, employee_id)")
