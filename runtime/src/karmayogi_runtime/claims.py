"""Which records of a batch are new to a consumer group: their message ids are claimed in the inbox in
the batch's transaction, so an event delivered again is skipped and a replayed dead letter applied once."""

import asyncio
from collections.abc import Sequence

import asyncpg
from karmayogi_contracts import CloudEvent, DecodeError, decode

from karmayogi_runtime import dead_letter, inbox
from karmayogi_runtime.records import Record, id_of

Decoded = tuple[Record, CloudEvent | DecodeError]
"""A record with its event, or why it is not one."""

# Records decoded between two turns of the event loop: about a quarter of a millisecond's work, so the
# batch being applied meanwhile waits at most that long for the loop at each of its round trips.
DECODE_CHUNK = 25


async def decode_all(records: Sequence[Record], topic_prefix: str) -> list[Decoded]:
    """Each record with its event, or why it is not one (among which a type of another topic: `wrong_topic`).
    The loop runs between every `DECODE_CHUNK` records: the batch before this one is being applied meanwhile
    (see `consumer`), and each answer PostgreSQL gives it is read, and its next statement sent, without
    waiting for the whole batch to be decoded."""
    decoded: list[Decoded] = []
    for start in range(0, len(records), DECODE_CHUNK):
        if start:
            await asyncio.sleep(0)
        for record in records[start:start + DECODE_CHUNK]:
            topic = record.topic.removeprefix(topic_prefix)
            decoded.append((record, decode(record.value, record.headers or (), topic=topic)))
    return decoded


async def new(
    connection: asyncpg.Connection, group: str, decoded: Sequence[Decoded], *, seen_before: bool
) -> list[Decoded]:
    """The records of the batch to apply, their message ids claimed in the inbox: each new to this consumer,
    once, and each replay of a dead letter of this consumer that has not run yet.

    A batch of events not known to hold one `seen_before` is taken to be all new, as nearly every batch is: its
    event ids are claimed at the least cost (`inbox.claim_new`). When one was claimed before, in an earlier
    batch or earlier in this one, `inbox.SeenBefore` is raised and the transaction, aborted, is to start
    again with `seen_before`."""
    if not seen_before and not any(isinstance(event, DecodeError) for _, event in decoded):
        await inbox.claim_new(connection, group, [event.id for _, event in decoded])
        return list(decoded)
    message_ids = [id_of(record, event) for record, event in decoded]
    unapplied = await inbox.claim(connection, group, list(dict.fromkeys(message_ids)))
    new: list[Decoded] = []
    for (record, event), message_id in zip(decoded, message_ids):
        if message_id in unapplied:
            unapplied.discard(message_id)  # the same event twice in one batch is applied once
        elif not await _replay_for_us(connection, group, record, message_id):
            continue
        new.append((record, event))
    return new


async def _replay_for_us(connection: asyncpg.Connection, group: str, record: Record, message_id: str) -> bool:
    replay_id = dict(record.headers or ()).get(dead_letter.REPLAY_HEADER)
    if replay_id is None:
        return False
    return await inbox.claim_replay(connection, group, message_id, replay_id.decode())
