"""Parking: an event that arrives before the fact it depends on (an attendance before its enrolment)
is not an error. It is kept, with what it waits for, and applied in the transaction that records
the awaited fact.

Parking and releasing one fact take the same transaction-scoped advisory lock, and the parking side
looks for the fact again once it holds the lock. So whichever transaction commits first, the other
sees it: an event is never parked for a fact that arrived a moment earlier in another consumer group.
"""

from dataclasses import dataclass

import asyncpg

from karmayogi_runtime.outbox import split_headers

PARK = """
    INSERT INTO parked (consumer, waiting_for, reason, topic, partition, "offset", key,
                        header_names, header_values, value, event_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""
LOCK = "SELECT pg_advisory_xact_lock(hashtext(fact)) FROM (SELECT DISTINCT unnest($1::text[]) AS fact ORDER BY 1) f"
RELEASE = """
    DELETE FROM parked WHERE waiting_for = ANY($1::text[])
    RETURNING id, consumer, topic, partition, "offset", key, header_names, header_values, value
"""
LIST = """
    SELECT id, consumer, waiting_for, reason, topic, partition, "offset", event_id, parked_at
    FROM parked ORDER BY parked_at LIMIT $1
"""
COUNT = "SELECT count(*) FROM parked"


class DependencyMissing(Exception):
    """Raised by a handler when the event depends on a fact not recorded yet.

    `waiting_for` names that fact (for example `enrolment:<id>`); the handler that records it later
    calls `context.arrived(waiting_for)` and the parked event is applied then.
    """

    def __init__(self, waiting_for: str, reason: str) -> None:
        super().__init__(reason)
        self.waiting_for = waiting_for
        self.reason = reason


@dataclass(frozen=True)
class ParkedMessage:
    id: int
    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    value: bytes | None


async def park(connection: asyncpg.Connection, consumer: str, missing: DependencyMissing, message,
               event_id: str) -> None:
    """Keep `message` (a Kafka consumer record, whose event has `event_id`, in binary or structured mode)
    until `missing.waiting_for` arrives."""
    names, values = split_headers(message.headers)
    await connection.execute(
        PARK, consumer, missing.waiting_for, missing.reason, message.topic, message.partition,
        message.offset, message.key, names, values, message.value, event_id,
    )


async def lock(connection: asyncpg.Connection, facts: list[str]) -> None:
    """Hold the locks of `facts` until the transaction ends (in one order, to keep deadlocks rare)."""
    await connection.execute(LOCK, facts)


async def release(connection: asyncpg.Connection, arrived: list[str]) -> list[ParkedMessage]:
    """Take the messages waiting for any of `arrived`, oldest first, for the caller to apply now."""
    await lock(connection, arrived)
    rows = await connection.fetch(RELEASE, arrived)
    return sorted(
        (
            ParkedMessage(
                id=r["id"], consumer=r["consumer"], topic=r["topic"], partition=r["partition"],
                offset=r["offset"], key=r["key"], headers=tuple(zip(r["header_names"], r["header_values"])),
                value=r["value"],
            )
            for r in rows
        ),
        key=lambda m: m.id,
    )


async def waiting(connection: asyncpg.Connection, *, limit: int = 1000) -> list[asyncpg.Record]:
    """Parked messages, oldest first, for operators."""
    return await connection.fetch(LIST, limit)


async def count_waiting(connection: asyncpg.Connection) -> int:
    """How many messages are parked (`waiting` lists at most its limit)."""
    return await connection.fetchval(COUNT)
