"""The consumer runner: every service consumes through it, and it alone decides when an offset is committed.

For each batch polled from Kafka it opens one PostgreSQL transaction, claims the batch's message ids in
the inbox (duplicates are skipped; `claims`), applies the new events together, or, when one of them
needs its own treatment, each inside its own savepoint (`applying`), and commits the offsets only after
the transaction has committed, while it goes on to the next batch (`offsets`). It reads and decodes the
next batch while one is applied, but applies them one after the other (see `_consume`). What can go wrong with
one event is decided by the runner:

- the payload cannot be decoded, its type belongs on another topic, or the handler raises
  `RuleViolation`: the event goes to the dead-letter topic (through the outbox, in the same
  transaction) and the batch moves on;
- the handler raises `DependencyMissing`: the event is parked until what it waits for arrives;
- the database or the broker is unreachable: the transaction rolls back, the consumer seeks back to
  the batch's first offsets and retries with exponential backoff, committing nothing past the event;
- any other exception is retried the same way, and after `max_attempts` dead-lettered with its class
  and message, so a bug never blocks a partition and the event can be replayed after the fix (`retries`);
  a parked event that fails when released counts its own attempts and is dead-lettered as its own
  consumer group's, so the event it waited for is applied and committed.

Handlers import what they need from here: `EventContext`, `Subscription`, `RuleViolation` and
`DependencyMissing`.
"""

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from karmayogi_runtime import claims
from karmayogi_runtime.applying import BatchApplier
from karmayogi_runtime.broker import CONSUMER_DEFAULTS
from karmayogi_runtime.claims import Decoded
from karmayogi_runtime.offsets import OffsetCommits, rewind
from karmayogi_runtime.parking import DependencyMissing
from karmayogi_runtime.records import Batch, raw_batch, undecoded
from karmayogi_runtime.retries import Retries
from karmayogi_runtime.subscriptions import EventContext, RuleViolation, Subscription

__all__ = ["ConsumerRunner", "DependencyMissing", "EventContext", "RuleViolation", "Subscription"]


class ConsumerRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        subscriptions: Sequence[Subscription],
        *,
        batch_size: int = 500,
        max_attempts: int = 5,
        max_backoff_seconds: float = 30.0,
        topic_prefix: str = "",
    ) -> None:
        self._subscriptions = {s.group: s for s in subscriptions}
        self._batch_size = batch_size
        self._topic_prefix = topic_prefix
        self._retries = Retries(max_attempts=max_attempts, max_backoff_seconds=max_backoff_seconds)
        self._applier = BatchApplier(pool, self._subscriptions, self._retries, topic_prefix)
        self._commits = OffsetCommits()
        self._subscribers: dict[str, Any] = {}
        self._applying: dict[str, _Applying] = {}  # per subscription, the batch being applied, if any
        self.handled = 0

    def register(self, broker: KafkaBroker) -> None:
        """Attach one batch subscriber per subscription, with an explicit group and manual commits."""
        for subscription in self._subscriptions.values():
            holder: dict[str, Any] = {}
            subscriber = broker.subscriber(
                *(self._topic_prefix + topic for topic in subscription.topics),
                # Environments (and tests) that share a cluster through a topic prefix never share a group.
                group_id=self._topic_prefix + subscription.group,
                batch=True,
                max_records=self._batch_size,
                ack_policy=AckPolicy.MANUAL,
                parser=raw_batch(holder),
                decoder=undecoded,
                title=f"{subscription.group}",
                description=subscription.description or None,
                **CONSUMER_DEFAULTS,
            )
            holder["subscriber"] = subscriber
            subscriber(self._batch_handler(subscription))
            self._subscribers[subscription.group] = subscriber

    def alive(self) -> bool:
        """True while every consume loop is running (the liveness probe)."""
        return all(s.running and s.tasks and not any(t.done() for t in s.tasks) for s in self._subscribers.values())

    async def finish_batches(self, within: float) -> None:
        """Wait for the batches being applied and the offset commits under way (at most `within` seconds);
        call it before stopping the broker. A batch that ends while the broker stops waits for its own
        commit (see `_consume`)."""
        applying = [batch.task for batch in self._applying.values()]
        if applying:
            await asyncio.wait(applying, timeout=within)
        await self._commits.finish(within)

    def _batch_handler(self, subscription: Subscription) -> Callable[[Any], Awaitable[None]]:
        async def consume(batch):  # type: ignore[no-untyped-def]  # a `records.Batch` (`records.undecoded`)
            await self._consume(subscription, batch)

        consume.__name__ = subscription.group.replace(".", "_").replace("-", "_")
        return consume

    async def _consume(self, subscription: Subscription, batch: Batch) -> None:
        """Decode the batch while the one before it is applied, then start applying it and return, so the
        next one is read and decoded while this one is applied. Batches are applied one after the other:
        one starts once the one before has committed. When the one before failed, it has sought its
        partitions back, and this batch, read past it, is dropped and read again after it."""
        decoded = await claims.decode_all(batch.records, self._topic_prefix)
        before = self._applying.pop(subscription.group, None)
        # Shielded: a consumer stopped meanwhile does not cut the batch before short (`finish_batches` waits for it).
        if before is not None and not await asyncio.shield(before.task):
            rewind(batch.consumer, before.batch.records + batch.records)
            return
        # In a context of its own, not FastStream's, which holds the message (and so the batch's records): each
        # timer its statements set (asyncpg's command timeout) keeps the context it was set in until it is
        # due, a minute later, although cancelled as soon as the statement returns.
        began: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._apply(subscription, batch, decoded, began), context=contextvars.Context())
        applying = _Applying(task, batch, decoded)
        self._applying[subscription.group] = applying
        # The next batch is read once this one's transaction has begun and its inbox claim is on its way: reading
        # and unpacking a batch holds the loop for milliseconds, during which PostgreSQL works on the claim rather
        # than its answer to BEGIN waiting for the loop (measured: 6% more events a second).
        await asyncio.wait((began, task), return_when=asyncio.FIRST_COMPLETED)
        if not self._subscribers[subscription.group].running:
            await applying.task  # the broker is stopping: it stops the consumer as soon as this batch returns
            await self._commits.finish(within=5.0)

    async def _apply(
        self, subscription: Subscription, batch: Batch, decoded: list[Decoded], began: asyncio.Future[None]
    ) -> bool:
        """Apply the batch and start committing its offsets; True when it was applied. A failure is retried
        from the batch's first offsets after a backoff (`retries`). `began` is set once its transaction has begun."""
        started, records = datetime.now(timezone.utc), batch.records
        self._retries.note_attempts(subscription.group, records, started)
        try:
            await self._applier.apply(subscription, decoded, began)
        except Exception as error:
            self._retries.note_failure(subscription.group, records, started)
            rewind(batch.consumer, records)  # nothing is committed past the batch's first offsets
            await self._retries.back_off(subscription.group, error)
            return False
        self._retries.succeeded(subscription.group, records)
        self.handled += len(records)
        await self._commits.start(batch.consumer, records)
        return True


@dataclass(frozen=True)
class _Applying:
    """A batch being applied, and its task (True once applied)."""

    task: asyncio.Task[bool]
    batch: Batch
    # Kept with the batch, its events are freed with it once the next batch's inbox claim is on its way, rather
    # than when the batch is applied, which the next batch waits for: freeing 500 events takes about a millisecond.
    decoded: list[Decoded]
