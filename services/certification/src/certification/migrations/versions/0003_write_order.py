"""Each certificate's place in the order certificates were written (`seq`), which the officers' list pages on.

`GET /v1/states/{tenant}/certificates` was paged by offset, so a certificate issued between two pages shifted
the next one: a state system reading all its certificates saw one twice or missed one. It now resumes past the
last certificate read (`after`), and that needs an order in which a certificate written later never falls
behind one already read: `issued_at` is not one, as it is the course's completion time (a completion iGOT
reports a week late is written today with last week's date). `seq` is: each certificate takes the next number
of a sequence as it is written. The certificates already there are numbered below every new one, counting down
from 0 from the newest issued, so the list keeps them newest first.

The table is large and the old pods still issue while this runs, so nothing rewrites it or holds it locked for
longer than a moment: the column is added empty and new certificates are numbered at once, the ones already
there in one UPDATE (row locks only: issuing goes on), NOT NULL is proven by a constraint validated without
blocking writes (PostgreSQL then sets it without a scan), and the indexes are built CONCURRENTLY, one per filter
as in 0002. Every step may run again after a failure part-way.
"""

from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"

NUMBER_NEW_ONES = [
    "ALTER TABLE certificates ADD COLUMN IF NOT EXISTS seq bigint",
    "CREATE SEQUENCE IF NOT EXISTS certificates_seq OWNED BY certificates.seq",
    "ALTER TABLE certificates ALTER COLUMN seq SET DEFAULT nextval('certificates_seq')",
]
# 0, -1, -2, ... from the newest issued: below the sequence's 1, 2, ... of the certificates written from now on.
NUMBER_EARLIER_ONES = """
    UPDATE certificates SET seq = earlier.seq
    FROM (SELECT certificate_id, 1 - row_number() OVER (ORDER BY issued_at DESC, certificate_id DESC) AS seq
          FROM certificates WHERE seq IS NULL) earlier
    WHERE certificates.certificate_id = earlier.certificate_id
"""
NOT_NULL = [
    "ALTER TABLE certificates DROP CONSTRAINT IF EXISTS certificates_seq_given",
    "ALTER TABLE certificates ADD CONSTRAINT certificates_seq_given CHECK (seq IS NOT NULL) NOT VALID",
    "ALTER TABLE certificates VALIDATE CONSTRAINT certificates_seq_given",
    "ALTER TABLE certificates ALTER COLUMN seq SET NOT NULL",
    "ALTER TABLE certificates DROP CONSTRAINT certificates_seq_given",
]
# The list's filters (repository.Filters), each read newest first straight from its index, resuming at `after`.
INDEXES = {
    "certificates_in_write_order": "UNIQUE INDEX CONCURRENTLY IF NOT EXISTS certificates_in_write_order "
                                   "ON certificates (tenant, seq)",
    "certificates_by_employee_in_write_order": "INDEX CONCURRENTLY IF NOT EXISTS certificates_by_employee_in_write_order "
                                               "ON certificates (tenant, employee_id, seq)",
    "certificates_by_course_in_write_order": "INDEX CONCURRENTLY IF NOT EXISTS certificates_by_course_in_write_order "
                                             "ON certificates (tenant, course_id, seq)",
    "certificates_revoked_in_write_order": "INDEX CONCURRENTLY IF NOT EXISTS certificates_revoked_in_write_order "
                                           "ON certificates (tenant, seq) WHERE revoked_at IS NOT NULL",
}
INVALID_INDEX = "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for statement in [*NUMBER_NEW_ONES, NUMBER_EARLIER_ONES, *NOT_NULL]:
            op.execute(statement)
        for name, definition in INDEXES.items():
            if op.get_bind().execute(text(INVALID_INDEX), {"name": name}).scalar():
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(f"CREATE {definition}")
