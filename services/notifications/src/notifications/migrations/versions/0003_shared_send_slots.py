"""Each channel's next free send slot, shared by every replica, so `EMAIL_PER_SECOND` and `SMS_PER_SECOND`
bound the whole deployment's sends, however many pods run (sender.SendSlots, repository.RESERVE_SLOT).

A new table only: nothing the running pods use is locked. Its rows appear with the first send of each channel.
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE IF NOT EXISTS send_slots (
            channel    text        PRIMARY KEY CHECK (channel IN ('email', 'sms')),
            next_slot  timestamptz NOT NULL  -- the earliest moment the channel's next send may start
        )
    """)
