"""Indexes for the officers' filters on a state's certificates: one employee's, one course's, the revoked ones.

`GET /v1/states/{tenant}/certificates` (and `.../count`) takes `employee_id`, `course_id` and `status`
(repository.Filters). A state holds some 100,000 certificates (Haryana: 300,000 employees); with only
`certificates_by_tenant` (tenant, issued_at DESC), one employee's page read the state's certificates until it
found theirs. Each index here reads a filtered page, newest first, straight from the index; the revoked ones
are few, so their index holds only them.

The table is large and the old pods still issue while this runs, so the indexes are built CONCURRENTLY
(Alembic's autocommit block): nothing holds certificates locked while they build. Every step may run again
after a failure part-way: an INVALID index left by a failed concurrent build is dropped and built again, and
an index is added only if missing.
"""

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"

INDEXES = {
    "certificates_by_employee": "ON certificates (tenant, employee_id, issued_at DESC, certificate_id)",
    "certificates_by_course": "ON certificates (tenant, course_id, issued_at DESC, certificate_id)",
    "certificates_revoked": "ON certificates (tenant, issued_at DESC, certificate_id) WHERE revoked_at IS NOT NULL",
}
INVALID_INDEX = "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, definition in INDEXES.items():
            if op.get_bind().execute(text(INVALID_INDEX), {"name": name}).scalar():
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")
