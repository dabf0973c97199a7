"""Committing a batch's offsets once its effects are committed, without waiting for Kafka's answer
before taking the next batch.

The commit's round trip to the group coordinator overlaps the next fetch and decode. At most one commit
per consumer is under way, and each waits for the one before, so offsets reach Kafka in order. They are
the batch's own offsets (each partition's last offset + 1), not the consumer's position, which will have
moved on by the time the commit is sent. A commit that fails (a rebalance took the partitions, or the
broker is away) is logged: the effects are in PostgreSQL and their ids in the inbox, so the redelivery
it causes is skipped.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition

from karmayogi_runtime.records import Record

# The runner's own logger: its lines keep one logger name whichever of its modules writes them.
log = logging.getLogger("karmayogi_runtime.consumer")


class OffsetCommits:
    """The commits under way, one at most per Kafka consumer."""

    def __init__(self) -> None:
        self._under_way: dict[Any, asyncio.Future[None]] = {}

    async def start(self, consumer: Any, records: Sequence[Record]) -> asyncio.Future[None]:
        """Start committing the offsets after `records` (once the commit before it is done); returns
        the commit under way, to be awaited by whoever must know it is done."""
        previous = self._under_way.get(consumer)
        if previous is not None:
            await previous
        commit = asyncio.ensure_future(_commit(consumer, next_offsets(records)))
        self._under_way[consumer] = commit
        return commit

    async def finish(self, within: float) -> None:
        """Wait until every commit started so far is done (before the consumers stop), for at most
        `within` seconds: a broker that is away would keep a commit retrying, and the redelivery of a
        batch whose commit is lost is skipped by the inbox."""
        if self._under_way:
            await asyncio.wait(self._under_way.values(), timeout=within)


def rewind(consumer: Any, records: Sequence[Record]) -> None:
    """Read each partition of `records` again from its earliest record among them. A partition a rebalance
    has taken meanwhile (or that a stopping consumer no longer reads) is left to whoever reads it next, from
    the last offset committed."""
    earliest: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        earliest[partition] = min(record.offset, earliest.get(partition, record.offset))
    for partition, offset in earliest.items():
        try:
            consumer.seek(partition, offset)
        except Exception as error:  # noqa: BLE001 - not assigned to this consumer any more
            log.info("%s[%d] not read again from %d here (%s)", *partition, offset, error)


def next_offsets(records: Sequence[Record]) -> dict[TopicPartition, int]:
    """Where each partition of the batch is to be read from next: its last record's offset + 1."""
    last = {(record.topic, record.partition): record.offset for record in records}  # a plain tuple costs less
    return {TopicPartition(*partition): offset + 1 for partition, offset in last.items()}


async def _commit(consumer: Any, offsets: dict[TopicPartition, int]) -> None:
    try:
        await consumer.commit(offsets)
    except Exception as error:  # noqa: BLE001 - whatever the reason, the redelivery it causes is skipped
        log.warning("offsets not committed (%s: %s); redelivery will be deduplicated", type(error).__name__, error)
