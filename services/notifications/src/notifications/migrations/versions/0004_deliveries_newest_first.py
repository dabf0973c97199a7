"""An employee's deliveries indexed in the order the API pages them: newest first, the id breaking ties.

`GET /v1/employees/{tenant}/{employee_id}/deliveries` pages by offset over `created_at DESC, id DESC`
(repository.BY_EMPLOYEE). The deliveries an event makes in one transaction share their `created_at` (the
transaction's `now()`), so without the id two pages could both show one of them and skip another.
`deliveries_by_employee` (tenant, employee_id, created_at) has no id: every page sorted all the employee's
deliveries again. `deliveries_by_employee_newest` reads a page, offset included, straight from the index, and
serves every lookup the old index served, which is dropped.

Like 0002, this runs while the old pods still record and send, so the index is built and the old one dropped
CONCURRENTLY (Alembic's autocommit block): nothing holds deliveries locked while the index builds. Every step
may run again after a failure part-way: an INVALID index left by a failed concurrent build is dropped and
built again, the new one is added only if missing and the old one dropped only if present.
"""

from alembic import op
from sqlalchemy import text

revision = "0004"
down_revision = "0003"

INVALID_INDEX = """
    SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass('deliveries_by_employee_newest')
"""
DROP_INVALID_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS deliveries_by_employee_newest"
CREATE_INDEX = """
    CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_by_employee_newest
    ON deliveries (tenant, employee_id, created_at DESC, id DESC)
"""
DROP_OLD_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS deliveries_by_employee"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        if op.get_bind().execute(text(INVALID_INDEX)).scalar():
            op.execute(DROP_INVALID_INDEX)
        op.execute(CREATE_INDEX)
        op.execute(DROP_OLD_INDEX)
