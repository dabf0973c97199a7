"""The consumer runner: every service consumes through it, and it alone decides when an offset is committed.

For each batch polled from Kafka it opens one PostgreSQL transaction, claims the batch's message ids in
the inbox (duplicates are skipped), applies each new event inside its own savepoint, and commits the
offsets only after the transaction has committed. What can go wrong with one event is decided here:

- the payload cannot be decoded, or the handler raises `RuleViolation`: the event goes to the
  dead-letter topic (through the outbox, in the same transaction) and the batch moves on;
- the handler raises `DependencyMissing`: the event is parked until what it waits for arrives;
- the database or the broker is unreachable: the transaction rolls back, the consumer seeks back to
  the batch's first offsets and retries with exponential backoff, committing nothing past the event;
- any other exception is retried the same way, and after `max_attempts` dead-lettered with its class
  and message, so a bug never blocks a partition and the event can be replayed after the fix.
"""

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import asyncpg
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaAckableMessage
from karmayogi_contracts import CloudEvent, DecodeError, decode

from karmayogi_runtime import dead_letter, inbox, outbox, parking
from karmayogi_runtime.broker import CONSUMER_DEFAULTS
from karmayogi_runtime.database import is_transient
from karmayogi_runtime.logs import correlation_id
from karmayogi_runtime.parking import DependencyMissing

__all__ = ["ConsumerRunner", "DependencyMissing", "EventContext", "RuleViolation", "Subscription"]

log = logging.getLogger(__name__)


class RuleViolation(Exception):
    """Raised by a handler when the event breaks a business rule; it is dead-lettered with this message."""


class Record(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass
class EventContext:
    """What a handler gets with its event: the open transaction, and the two ways to affect the world."""

    connection: asyncpg.Connection
    consumer: str
    arrivals: list[str] = field(default_factory=list)

    async def publish(self, event: CloudEvent) -> None:
        """Publish `event` if, and only if, this transaction commits."""
        await outbox.add(self.connection, event)

    def arrived(self, waiting_for: str) -> None:
        """Declare that the fact `waiting_for` is now recorded: events parked for it are applied next."""
        self.arrivals.append(waiting_for)


Handler = Callable[[EventContext, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[EventContext, Sequence[CloudEvent]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """One consumer group of a service: the topics it reads and the handler every event goes to.

    `handle_many`, when given, applies a whole batch of new events at once (one `executemany` instead of
    a statement per event); it must have the same effect as `handler` applied to each event in turn.
    """

    group: str
    topics: tuple[str, ...]
    handler: Handler
    description: str = ""
    handle_many: BatchHandler | None = None


class _OneByOne(Exception):
    """Internal: the batch's events could not all be applied together; roll back and apply each on its own."""


@dataclass
class _Attempt:
    count: int
    first: datetime
    last: datetime


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
        self._pool = pool
        self._subscriptions = {s.group: s for s in subscriptions}
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff_seconds
        self._topic_prefix = topic_prefix
        self._attempts: dict[tuple[str, str, int, int], _Attempt] = {}
        self._failures: dict[str, int] = {}
        self._subscribers: list[Any] = []
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
                parser=_raw_batch(holder),
                decoder=_undecoded,
                title=f"{subscription.group}",
                description=subscription.description or None,
                **CONSUMER_DEFAULTS,
            )
            holder["subscriber"] = subscriber
            subscriber(self._batch_handler(subscription))
            self._subscribers.append(subscriber)

    def alive(self) -> bool:
        """True while every consume loop is running (the liveness probe)."""
        return all(s.running and s.tasks and not any(t.done() for t in s.tasks) for s in self._subscribers)

    def _batch_handler(self, subscription: Subscription) -> Callable[[Any], Awaitable[None]]:
        async def consume(message: KafkaMessage) -> None:
            await self._consume(subscription, message)

        consume.__name__ = subscription.group.replace(".", "_").replace("-", "_")
        return consume

    async def _consume(self, subscription: Subscription, message: Any) -> None:
        records = message.raw_message if isinstance(message.raw_message, tuple) else (message.raw_message,)
        started = datetime.now(timezone.utc)
        self._note_attempts(subscription, records, started)
        try:
            await self._handle_batch(subscription, records)
        except Exception as error:
            self._note_failure(subscription, records, started)
            await self._retry_later(subscription, message, error)
            return
        self._failures.pop(subscription.group, None)
        self._forget_attempts(subscription, records)
        self.handled += len(records)
        await _commit(message)

    async def _handle_batch(self, subscription: Subscription, records: Sequence[Record]) -> None:
        """Apply the batch in one transaction: all its new events together, or, when that fails for
        one of them, the whole transaction again with each event on its own (see `_apply_together`)."""
        decoded: list[tuple[Record, CloudEvent | DecodeError, str]] | None = None
        together = True
        while True:
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    if decoded is None:
                        fresh, decoded = await self._claim_and_decode(connection, subscription, records)
                    else:
                        claimed = list(dict.fromkeys(message_id for _, _, message_id in decoded))
                        fresh = await inbox.claim(connection, subscription.group, claimed)
                    new: list[tuple[Record, CloudEvent | DecodeError, str]] = []
                    for record, event, message_id in decoded:
                        if message_id in fresh:
                            fresh.discard(message_id)  # the same event twice in one batch is applied once
                        elif not await self._replay_for_us(connection, subscription, record, message_id):
                            continue
                        new.append((record, event, message_id))
                    arrivals = await self._apply_together(connection, subscription, new) if together else None
                    if arrivals is None:
                        arrivals = []
                        for record, event, message_id in new:
                            arrivals += await self._apply(connection, subscription, record, event, message_id)
                    await self._apply_parked(connection, arrivals)
                return
            except _OneByOne:
                together = False

    async def _claim_and_decode(
        self, connection: asyncpg.Connection, subscription: Subscription, records: Sequence[Record]
    ) -> tuple[set[str], list[tuple[Record, CloudEvent | DecodeError, str]]]:
        """Claim the batch's message ids in the inbox; returns the ids new to this consumer, and each
        record with its event (or why it is not one) and its message id.

        PostgreSQL claims the ids the `ce_id` headers name while the records are decoded here. A record
        whose id turns out otherwise (it does not decode, or its id is in a structured body) has its
        claim corrected afterwards, so the inbox ends up exactly as if the decoded ids were claimed."""
        def decode_all() -> list[tuple[Record, CloudEvent | DecodeError, str]]:
            decoded = []
            for record in records:
                event = decode(record.value, record.headers or ())
                decoded.append((record, event, _message_id(record, event)))
            return decoded

        guessed = [message_id for message_id in map(_named_id, records) if message_id is not None]
        fresh, decoded = await inbox.claim_during(connection, subscription.group, guessed, decode_all)
        ids = {message_id for _, _, message_id in decoded}
        wrong, late = fresh - ids, ids.difference(guessed)
        if wrong:
            await inbox.unclaim(connection, subscription.group, sorted(wrong))
            fresh -= wrong
        if late:
            fresh |= await inbox.claim(connection, subscription.group, sorted(late))
        return fresh, decoded

    async def _apply_together(
        self,
        connection: asyncpg.Connection,
        subscription: Subscription,
        new: list[tuple[Record, CloudEvent | DecodeError, str]],
    ) -> list[str] | None:
        """The fast path: every new event of the batch at once, in the batch's transaction itself (no
        savepoint: two round trips fewer). Returns None, having done nothing, when an event did not
        decode. When any event needs its own treatment (it failed or parked), raises `_OneByOne`: the
        transaction rolls back and the caller applies the batch again one event at a time, each in its
        own savepoint, so only that event is dead-lettered or parked."""
        events = [event for _, event, _ in new]
        if len(events) < 2 or any(isinstance(event, DecodeError) for event in events):
            return None
        context = EventContext(connection, subscription.group)
        try:
            if subscription.handle_many is not None:
                await subscription.handle_many(context, events)
            else:
                for event in events:
                    await subscription.handler(context, event)
        except Exception as error:
            if is_transient(error):
                raise
            raise _OneByOne from error
        return context.arrivals

    async def _apply(
        self,
        connection: asyncpg.Connection,
        subscription: Subscription,
        record: Record,
        event: CloudEvent | DecodeError,
        message_id: str,
    ) -> list[str]:
        """Apply one event; returns the facts it recorded that parked events may be waiting for."""
        if isinstance(event, DecodeError):
            await self._dead_letter(connection, subscription, record, message_id, f"DecodeError.{event.reason}", event.message)
            return []
        token = correlation_id.set(event.correlation_id)
        try:
            return await self._run_handler(connection, subscription, record, event)
        except RuleViolation as violation:
            await self._dead_letter(connection, subscription, record, message_id, "RuleViolation", str(violation))
        except Exception as error:
            if is_transient(error) or self._attempt(subscription, record).count < self._max_attempts:
                raise
            await self._dead_letter(connection, subscription, record, message_id, type(error).__qualname__, str(error) or repr(error))
        finally:
            correlation_id.reset(token)
        return []

    async def _run_handler(
        self, connection: asyncpg.Connection, subscription: Subscription, record: Record, event: CloudEvent
    ) -> list[str]:
        """Run the handler in a savepoint, so one event's failure leaves the rest of the batch intact.

        An event whose dependency is missing is tried once more while holding that dependency's lock
        before it is parked: the arrival may have committed in another consumer's transaction since the
        handler looked, and arrivals take the same lock (see `parking.release`), so none is missed."""
        held: set[str] = set()
        while True:
            context = EventContext(connection, subscription.group)
            try:
                async with connection.transaction():
                    await subscription.handler(context, event)
                return context.arrivals
            except DependencyMissing as missing:
                if missing.waiting_for in held:
                    await parking.park(connection, subscription.group, missing, record)
                    log.info("parked %s %s until %s: %s", event.type, event.id, missing.waiting_for, missing.reason)
                    return []
                await parking.lock(connection, [missing.waiting_for])
                held.add(missing.waiting_for)

    async def _apply_parked(self, connection: asyncpg.Connection, arrivals: list[str]) -> None:
        while arrivals:
            released = await parking.release(connection, arrivals)
            arrivals = []
            for parked in released:
                event = decode(parked.value, parked.headers)
                subscription = self._subscriptions[parked.consumer]
                arrivals += await self._apply(connection, subscription, parked, event, _message_id(parked, event))

    async def _replay_for_us(
        self, connection: asyncpg.Connection, subscription: Subscription, record: Record, message_id: str
    ) -> bool:
        replay_id = dict(record.headers or ()).get(dead_letter.REPLAY_HEADER)
        if replay_id is None:
            return False
        return await inbox.claim_replay(connection, subscription.group, message_id, replay_id.decode())

    async def _dead_letter(
        self,
        connection: asyncpg.Connection,
        subscription: Subscription,
        record: Record,
        message_id: str,
        error_class: str,
        message: str,
    ) -> None:
        attempt = self._attempt(subscription, record)
        origin = dead_letter.Origin(
            consumer_group=subscription.group, topic=record.topic.removeprefix(self._topic_prefix),
            partition=record.partition,
            offset=record.offset, key=record.key, headers=tuple(record.headers or ()), value=record.value,
        )
        failure = dead_letter.Failure(error_class, message, attempt.count, attempt.first, attempt.last)
        await outbox.add_record(connection, dead_letter.dead_letter(origin, failure))
        await inbox.mark_dead_lettered(connection, subscription.group, message_id)
        log.warning(
            "dead-lettered %s[%d]@%d for %s: %s: %s",
            record.topic, record.partition, record.offset, subscription.group, error_class, message,
        )

    async def _retry_later(self, subscription: Subscription, message: Any, error: Exception) -> None:
        failures = self._failures[subscription.group] = self._failures.get(subscription.group, 0) + 1
        delay = min(0.25 * 2 ** (failures - 1), self._max_backoff)
        level = logging.WARNING if is_transient(error) else logging.ERROR
        log.log(level, "%s: batch failed (%s: %s); retrying in %.2fs", subscription.group, type(error).__name__, error, delay)
        try:
            await message.nack()  # seek back to the batch's first offsets: nothing is committed past them
        except Exception as seek_error:  # partitions revoked meanwhile: their new owner starts from the commit
            log.info("%s: could not seek back (%s)", subscription.group, seek_error)
        await asyncio.sleep(delay)

    # Attempts are remembered only for records whose batch has failed before: a batch that succeeds
    # at once (nearly all of them) costs no bookkeeping per record.
    def _note_attempts(self, subscription: Subscription, records: Sequence[Record], now: datetime) -> None:
        if not self._attempts:
            return
        for record in records:
            attempt = self._attempts.get(_place(subscription, record))
            if attempt is not None:
                attempt.count += 1
                attempt.last = now

    def _note_failure(self, subscription: Subscription, records: Sequence[Record], started: datetime) -> None:
        if len(self._attempts) > 100_000:  # leftovers of partitions revoked mid-retry
            self._attempts.clear()
        for record in records:
            self._attempts.setdefault(_place(subscription, record), _Attempt(1, started, started))

    def _forget_attempts(self, subscription: Subscription, records: Sequence[Record]) -> None:
        if self._attempts:
            for record in records:
                self._attempts.pop(_place(subscription, record), None)

    def _attempt(self, subscription: Subscription, record: Record) -> _Attempt:
        """This attempt at `record`: how many there have been, counting this one, and when."""
        now = datetime.now(timezone.utc)
        return self._attempts.get(_place(subscription, record)) or _Attempt(1, now, now)


def _place(subscription: Subscription, record: Record) -> tuple[str, str, int, int]:
    return subscription.group, record.topic, record.partition, record.offset


_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _named_id(record: Record) -> str | None:
    """The message id the record's `ce_id` header names, when it is written as `decode` would give
    it back (a lowercase UUID); otherwise None, and the id is known only once decoded."""
    for name, value in record.headers or ():
        if name == "ce_id":
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else ""
            return text if _UUID_TEXT.fullmatch(text) else None
    return None


def _message_id(record: Record, event: CloudEvent | DecodeError) -> str:
    if isinstance(event, CloudEvent):
        return str(event.id)
    return f"{record.topic}:{record.partition}:{record.offset}"


async def _commit(message: Any) -> None:
    try:
        await message.ack()
    except KafkaError as error:
        # A rebalance took the partitions while the batch ran (CommitFailedError) or the broker is away.
        # The effects are committed and recorded in the inbox, so the next owner's redelivery is skipped.
        log.warning("offsets not committed (%s: %s); redelivery will be deduplicated", type(error).__name__, error)


def _raw_batch(holder: dict[str, Any]) -> Callable[..., Awaitable[KafkaAckableMessage]]:
    """FastStream parser that wraps the records as they are. FastStream's own decodes every header as
    UTF-8, so one record with a binary header would fail the whole batch before the runner could
    dead-letter it; the runner decodes CloudEvents itself."""

    async def parse(records: tuple[Any, ...], _default: Any = None) -> KafkaAckableMessage:
        first, last = records[0], records[-1]
        return KafkaAckableMessage(
            raw_message=records, body=b"", consumer=holder["subscriber"].consumer,
            message_id=f"{first.topic}-{first.partition}-{first.offset}-{last.offset}",
        )

    return parse


async def _undecoded(message: Any) -> None:
    """FastStream decoder that leaves the bytes alone: the runner decodes CloudEvents itself."""
    return None
