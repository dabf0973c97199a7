"""One message per fact, not per event id: each delivery names its fact, and a unique index keeps one per fact.

A state system may report one fact (an enrolment, a completion, a certificate issued or revoked) twice under
two CloudEvent ids: a retried iGOT export, or the same completion sent in binary and in structured mode. The
key (event_id, channel, recipient) told the two apart, so the employee got the e-mail and the SMS twice.
`fact` is the payload's own id (its CloudEvent subject: enrolment_id, completion_id or certificate_id), and
`deliveries_once_per_fact` (event_type, fact, channel, recipient) lets the first event's deliveries of a fact
stand: a repeat adds nothing (repository.INSERT_DELIVERY), whichever consumer records it, at any time.

Rows recorded before this revision have no fact (null): their events' payloads are not kept, so their facts
cannot be known. They stay as they are, duplicates of one fact included, and the index leaves them out (it
holds only rows with a fact), so it builds on any existing database. A fact first notified before the
upgrade and reported again after it is therefore notified again; from then on, once.

Like 0002 and 0004, this runs while the old pods still record and send: the nullable column without a default
takes its lock only for the catalogue change, and the index is built CONCURRENTLY (Alembic's autocommit
block, the column committed first). The old pods' rows have no fact and never conflict. Every step may run
again after a failure part-way: the column and the index are added only if missing, and an INVALID index
left by a failed concurrent build is dropped and built again.
"""

from alembic import op
from sqlalchemy import text

revision = "0005"
down_revision = "0004"

ADD_FACT = "ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS fact text"
INVALID_INDEX = """
    SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass('deliveries_once_per_fact')
"""
DROP_INVALID_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS deliveries_once_per_fact"
CREATE_INDEX = """
    CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS deliveries_once_per_fact
    ON deliveries (event_type, fact, channel, recipient) WHERE fact IS NOT NULL
"""


def upgrade() -> None:
    op.execute(ADD_FACT)
    with op.get_context().autocommit_block():
        if op.get_bind().execute(text(INVALID_INDEX)).scalar():
            op.execute(DROP_INVALID_INDEX)
        op.execute(CREATE_INDEX)
