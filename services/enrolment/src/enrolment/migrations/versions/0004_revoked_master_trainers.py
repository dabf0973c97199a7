"""Revoked master trainers are remembered as such.

A revoked master-trainer certificate deleted its row of `trainer_eligibility`, so a spoke batch naming its
holder was refused as if they had never been certified ("holds no master-trainer certificate"). The row now
stays, with `revoked_at`, and the refusal says that the certificate was revoked, and on which day. Rows
deleted before this migration are gone: their trainers are still told that they hold none.
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute("ALTER TABLE trainer_eligibility ADD COLUMN revoked_at timestamptz")
