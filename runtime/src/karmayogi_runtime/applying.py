"""Applying a batch in one PostgreSQL transaction: its new events together, or, when one of them needs
its own treatment, each in its own savepoint, so that only that event is dead-lettered or parked.
What happens to an event that cannot be applied is listed in `karmayogi_runtime.consumer`.
"""

import asyncio
import logging
from collections.abc import Mapping, Sequence

import asyncpg
from karmayogi_contracts import CloudEvent, DecodeError, decode

from karmayogi_runtime import claims, dead_letter, inbox, outbox, parking
from karmayogi_runtime.claims import Decoded
from karmayogi_runtime.database import is_transient
from karmayogi_runtime.logs import correlation_id
from karmayogi_runtime.parking import DependencyMissing, ParkedMessage
from karmayogi_runtime.records import Record, id_of
from karmayogi_runtime.retries import Retries
from karmayogi_runtime.subscriptions import EventContext, RuleViolation, Subscription

# The runner's own logger: its lines keep one logger name whichever of its modules writes them.
log = logging.getLogger("karmayogi_runtime.consumer")


class _OneByOne(Exception):
    """Internal: the batch's events could not all be applied together; roll back and apply each on its own."""


class BatchApplier:
    def __init__(
        self, pool: asyncpg.Pool, subscriptions: Mapping[str, Subscription], retries: Retries, topic_prefix: str
    ) -> None:
        self._pool = pool
        self._subscriptions = subscriptions
        self._retries = retries
        self._topic_prefix = topic_prefix

    async def apply(self, subscription: Subscription, decoded: Sequence[Decoded], began: asyncio.Future[None]) -> None:
        """Apply the decoded batch in one transaction: all its new events together, or, when that fails for
        one of them, the whole transaction again with each event on its own (see `_apply_together`). A batch
        holding an event seen before (redelivered after a crash or a rebalance) starts again as well, to tell
        the new events from the others (see `claims.new`). `began` is set once the transaction has begun, just
        before its first statement, the inbox claim, is sent."""
        group, together, seen_before = subscription.group, True, False
        while True:
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    if not began.done():
                        began.set_result(None)
                    new = await claims.new(connection, group, decoded, seen_before=seen_before)
                    arrivals = await self._apply_together(connection, subscription, new) if together else None
                    if arrivals is None:
                        arrivals = []
                        for record, event in new:
                            arrivals += await self._apply(connection, subscription, record, event)
                    released = await self._apply_parked(connection, arrivals)
                self._retries.forget_parked(released)
                return
            except _OneByOne:
                together = False
            except inbox.SeenBefore:
                seen_before = True

    async def _apply_together(
        self, connection: asyncpg.Connection, subscription: Subscription, new: list[Decoded]
    ) -> list[str] | None:
        """The fast path: every new event of the batch at once, in the batch's transaction itself (no
        savepoint: two round trips fewer). Returns None, having done nothing, when an event did not
        decode. When any event needs its own treatment (it failed or parked), raises `_OneByOne`: the
        transaction rolls back and the caller applies the batch again one event at a time, each in its
        own savepoint, so only that event is dead-lettered or parked."""
        events = [event for _, event in new]
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
    ) -> list[str]:
        """Apply one event; returns the facts it recorded that parked events may be waiting for."""
        if isinstance(event, DecodeError):
            reason = f"DecodeError.{event.reason}"
            await self._dead_letter(connection, subscription, record, event, reason, event.message)
            return []
        token = correlation_id.set(event.correlation_id)
        try:
            return await self._run_handler(connection, subscription, record, event)
        except RuleViolation as violation:
            await self._dead_letter(connection, subscription, record, event, "RuleViolation", str(violation))
        except Exception as error:
            if is_transient(error):
                raise
            if isinstance(record, ParkedMessage):
                self._note_parked_failure(subscription.group, record, event, error)
            if not self._retries.exhausted(subscription.group, record):
                raise
            error_class, message = type(error).__qualname__, str(error) or repr(error)
            await self._dead_letter(connection, subscription, record, event, error_class, message)
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
                    await parking.park(connection, subscription.group, missing, record, str(event.id))
                    log.info("parked %s %s until %s: %s", event.type, event.id, missing.waiting_for, missing.reason)
                    return []
                await parking.lock(connection, [missing.waiting_for])
                held.add(missing.waiting_for)

    async def _apply_parked(self, connection: asyncpg.Connection, arrivals: list[str]) -> list[ParkedMessage]:
        """Apply the events parked for `arrivals` (and for what they record in turn), each as its own
        consumer group's; returns the parked events released."""
        everything: list[ParkedMessage] = []
        while arrivals:
            released = await parking.release(connection, arrivals)
            everything += released
            arrivals = []
            for parked in released:
                event = decode(parked.value, parked.headers)
                subscription = self._subscriptions[parked.consumer]
                arrivals += await self._apply(connection, subscription, parked, event)
        return everything

    def _note_parked_failure(self, group: str, parked: ParkedMessage, event: CloudEvent, error: Exception) -> None:
        """Count the failure as the parked event's own and say so: the batch retried for it is another
        consumer's, whose log line would otherwise name only that consumer."""
        attempt = self._retries.note_parked_failure(group, parked)
        log.warning(
            "%s: parked %s %s (%s[%d]@%d) failed when released, attempt %d of %d: %s: %s",
            group, event.type, event.id, parked.topic, parked.partition, parked.offset,
            attempt.count, self._retries.max_attempts, type(error).__qualname__, error,
        )

    async def _dead_letter(
        self,
        connection: asyncpg.Connection,
        subscription: Subscription,
        record: Record,
        event: CloudEvent | DecodeError,
        error_class: str,
        message: str,
    ) -> None:
        attempt = self._retries.attempt(subscription.group, record)
        origin = dead_letter.Origin(
            consumer_group=subscription.group, topic=record.topic.removeprefix(self._topic_prefix),
            partition=record.partition,
            offset=record.offset, key=record.key, headers=tuple(record.headers or ()), value=record.value,
        )
        failure = dead_letter.Failure(error_class, message, attempt.count, attempt.first, attempt.last)
        await outbox.add_record(connection, dead_letter.dead_letter(origin, failure))
        await inbox.mark_dead_lettered(connection, subscription.group, id_of(record, event))
        log.warning(
            "dead-lettered %s[%d]@%d for %s: %s: %s",
            record.topic, record.partition, record.offset, subscription.group, error_class, message,
        )
