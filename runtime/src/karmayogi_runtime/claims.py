"""Which records of a batch are new to a consumer group: their message ids are claimed in the inbox in
the batch's transaction, so an event delivered again is skipped and a replayed dead letter applied once."""

from collections.abc import Sequence

import asyncpg
from karmayogi_contracts import CloudEvent, DecodeError, decode

from karmayogi_runtime import dead_letter, inbox
from karmayogi_runtime.database import while_running
from karmayogi_runtime.records import Record, id_of, named_id

Decoded = tuple[Record, CloudEvent | DecodeError, str]
"""A record with its event (or why it is not one) and its message id."""


async def claim_and_decode(
    connection: asyncpg.Connection, group: str, records: Sequence[Record], topic_prefix: str
) -> tuple[set[str], list[Decoded]]:
    """Claim the batch's message ids in the inbox; returns the ids new to this consumer, and each
    record with its event (or why it is not one, among which a type of another topic: `wrong_topic`)
    and its message id.

    PostgreSQL claims the ids the `ce_id` headers name while the records are decoded here. A record
    whose id turns out otherwise (it does not decode, or its id is in a structured body) has its
    claim corrected afterwards, so the inbox ends up exactly as if the decoded ids were claimed."""
    def decode_all() -> list[Decoded]:
        decoded = []
        for record in records:
            event = decode(record.value, record.headers or (), topic=record.topic.removeprefix(topic_prefix))
            decoded.append((record, event, id_of(record, event)))
        return decoded

    guessed = [message_id for message_id in map(named_id, records) if message_id is not None]
    fresh, decoded = await while_running(inbox.claim(connection, group, guessed), decode_all)
    ids = {message_id for _, _, message_id in decoded}
    wrong, late = fresh - ids, ids.difference(guessed)
    if wrong:
        await inbox.unclaim(connection, group, sorted(wrong))
        fresh -= wrong
    if late:
        fresh |= await inbox.claim(connection, group, sorted(late))
    return fresh, decoded


async def claim_again(connection: asyncpg.Connection, group: str, decoded: Sequence[Decoded]) -> set[str]:
    """Claim the message ids of a batch decoded before, in a new transaction; returns those new to this consumer."""
    claimed = list(dict.fromkeys(message_id for _, _, message_id in decoded))
    return await inbox.claim(connection, group, claimed)


async def new(
    connection: asyncpg.Connection, group: str, decoded: Sequence[Decoded], fresh: set[str]
) -> list[Decoded]:
    """The records to apply: each whose id is in `fresh` (newly claimed), once, and each replay of a
    dead letter of this consumer that has not run yet."""
    unapplied = set(fresh)
    new: list[Decoded] = []
    for record, event, message_id in decoded:
        if message_id in unapplied:
            unapplied.discard(message_id)  # the same event twice in one batch is applied once
        elif not await _replay_for_us(connection, group, record, message_id):
            continue
        new.append((record, event, message_id))
    return new


async def _replay_for_us(connection: asyncpg.Connection, group: str, record: Record, message_id: str) -> bool:
    replay_id = dict(record.headers or ()).get(dead_letter.REPLAY_HEADER)
    if replay_id is None:
        return False
    return await inbox.claim_replay(connection, group, message_id, replay_id.decode())
