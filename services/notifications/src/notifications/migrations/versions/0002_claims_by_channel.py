"""Due deliveries indexed per channel, and the claim that holds a delivery's lease.

- `deliveries_due` had no channel: a claim for e-mail walked the whole due SMS backlog before its first
  e-mail (300,000 due SMS made each e-mail claim take 122 ms). The index now leads with the channel the
  claim filters on, with the same predicate.
- `claim`: a token written by each claim and checked when the row is marked 'sending' and when its outcome
  is recorded, so a worker whose lease ran out while it worked through its batch can neither send the row
  nor overwrite what the worker that claimed it again recorded (repository.CLAIM_DUE).
"""

from alembic import op

revision = "0002"
down_revision = "0001"

STATEMENTS = (
    "ALTER TABLE deliveries ADD COLUMN claim uuid",
    "DROP INDEX deliveries_due",
    "CREATE INDEX deliveries_due ON deliveries (channel, next_attempt_at) WHERE status IN ('pending', 'sending')",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
