"""Messaging tables, roster, effects and audit of the test ledger."""

from alembic import op
from karmayogi_runtime.schema import MESSAGING_TABLES

revision = "0001"
down_revision = None


def upgrade() -> None:
    for statement in MESSAGING_TABLES:
        op.execute(statement)
    op.execute("CREATE TABLE roster (tenant text NOT NULL, employee_id text NOT NULL, PRIMARY KEY (tenant, employee_id))")
    op.execute("CREATE TABLE effects (id bigserial PRIMARY KEY, event_id uuid NOT NULL, employee_id text NOT NULL)")
    op.execute("CREATE TABLE barred (employee_id text PRIMARY KEY)")
    op.execute("CREATE TABLE audit (id bigserial PRIMARY KEY, event_id uuid NOT NULL)")
