"""The tables of the messaging machinery, created in every service's database by its first migration.

- `outbox`: events waiting to be published, written in the same transaction as the state change.
- `inbox`: one row per (consumer, event) already handled or dead-lettered; a redelivery finds its row
  and does nothing.
- `parked`: events that arrived before what they depend on, applied when the dependency arrives.
"""

MESSAGING_TABLES = (
    """
    CREATE TABLE outbox (
        id          bigserial PRIMARY KEY,
        topic       text        NOT NULL,
        key         bytea       NOT NULL,
        header_names  text[]    NOT NULL,
        header_values bytea[]   NOT NULL,
        value       bytea       NOT NULL,
        event_id    text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        sent_at     timestamptz
    )
    """,
    "CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL",
    "CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL",
    # One notification per inserting statement wakes the relay; NOTIFY coalesces repeats in a transaction.
    """
    CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_notify('outbox', ''); RETURN NULL; END $$
    """,
    """
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
    """,
    """
    CREATE TABLE inbox (
        consumer      text        NOT NULL,
        message_id    text        NOT NULL,
        handled_at    timestamptz NOT NULL DEFAULT now(),
        -- Set when the event went to the dead-letter topic: an operator's replay of it may then run
        -- once (per replay id), while every other redelivery is still skipped.
        dead_lettered boolean     NOT NULL DEFAULT false,
        replay_id     text,
        PRIMARY KEY (consumer, message_id)
    )
    """,
    """
    CREATE TABLE parked (
        id              bigserial   PRIMARY KEY,
        consumer        text        NOT NULL,
        waiting_for     text        NOT NULL,
        reason          text        NOT NULL,
        topic           text        NOT NULL,
        partition       integer     NOT NULL,
        "offset"        bigint      NOT NULL,
        key             bytea,
        header_names    text[]      NOT NULL,
        header_values   bytea[]     NOT NULL,
        value           bytea,
        event_id        text,
        parked_at       timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX parked_waiting_for ON parked (waiting_for)",
)
