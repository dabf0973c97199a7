"""The idempotent inbox: `(consumer, message id)` recorded in the same transaction as the effect.

A message's id is its CloudEvent id; a record too broken to have one is known by its place in the log
(`topic:partition:offset`). A dead-lettered message keeps its row, flagged, so redeliveries stay
skipped, while an operator's replay of it (marked with a replay id) is let through exactly once.
"""

from collections.abc import Sequence
from uuid import UUID

import asyncpg

# A batch's events are nearly always all new: their ids are recorded with a plain insert, which costs PostgreSQL
# half the index work and WAL of an insert ON CONFLICT (measured: ~3 ms against ~5 ms for 500 ids). They are sent
# as uuids, which PostgreSQL spells as text exactly as Python's str() does, at a fraction of its cost.
CLAIM_NEW = "INSERT INTO inbox (consumer, message_id) SELECT $1, id::text FROM unnest($2::uuid[]) AS id"
CLAIM = """
    INSERT INTO inbox (consumer, message_id)
    SELECT $1, id FROM unnest($2::text[]) AS id
    ON CONFLICT DO NOTHING
    RETURNING message_id
"""
CLAIM_REPLAY = """
    UPDATE inbox SET dead_lettered = false, replay_id = $3, handled_at = now()
    WHERE consumer = $1 AND message_id = $2 AND dead_lettered AND replay_id IS DISTINCT FROM $3
    RETURNING message_id
"""
MARK_DEAD_LETTERED = "UPDATE inbox SET dead_lettered = true WHERE consumer = $1 AND message_id = $2"


class SeenBefore(Exception):
    """An id given to `claim_new` was recorded before; its transaction is aborted."""


async def claim_new(connection: asyncpg.Connection, consumer: str, event_ids: Sequence[UUID]) -> None:
    """Record event ids expected to be new to `consumer`. Raises `SeenBefore`, leaving the transaction aborted,
    when one was recorded before or is given twice: the transaction is then to start again and `claim` them."""
    try:
        await connection.execute(CLAIM_NEW, consumer, event_ids)
    except asyncpg.UniqueViolationError as error:
        raise SeenBefore from error


async def claim(connection: asyncpg.Connection, consumer: str, message_ids: Sequence[str]) -> set[str]:
    """Record the ids not seen before by `consumer` and return them; the rest are duplicates."""
    rows = await connection.fetch(CLAIM, consumer, list(message_ids))
    return {row["message_id"] for row in rows}


async def claim_replay(connection: asyncpg.Connection, consumer: str, message_id: str, replay_id: str) -> bool:
    """True when `message_id` was dead-lettered by `consumer` and this replay has not run yet."""
    return await connection.fetchval(CLAIM_REPLAY, consumer, message_id, replay_id) is not None


async def mark_dead_lettered(connection: asyncpg.Connection, consumer: str, message_id: str) -> None:
    await connection.execute(MARK_DEAD_LETTERED, consumer, message_id)
