"""The transactional outbox: events are written in the same transaction as the state change they
report, and the relay publishes them afterwards. Nothing in a service publishes any other way.

The relay takes a transaction-scoped advisory lock for each batch, so with several relay instances
running only one publishes at a time and rows leave in the order they were written (per-key order on
Kafka follows). It wakes on `NOTIFY outbox` and also polls, in case a notification was missed while its
listening connection was being re-established.

A row too large for Kafka holds back only its own key's rows (see held_back.py); the readiness body
reports the rows this replica holds back (`status`).

The relay owns its Kafka producer and starts a new one after Kafka refuses a batch (a missing ACL, a
topic whose `max.message.bytes` is below the record): an idempotent producer whose batch was refused has
every later batch to that partition refused too (`OutOfOrderSequenceNumber`), even once the cause is fixed.
"""

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from karmayogi_contracts import CloudEvent, KafkaRecord, encode

from karmayogi_runtime import failpoints
from karmayogi_runtime.database import is_transient
from karmayogi_runtime.held_back import HeldBack

log = logging.getLogger(__name__)

_RELAY_LOCK = 0x6F757462  # "outb"
BATCH_SIZE = 1000  # pending rows the relay claims and publishes at a time
_PARTITIONER = DefaultPartitioner()  # what `AIOKafkaProducer.send` uses: a key's partition is murmur2 of the key

COLUMNS = ("topic", "key", "header_names", "header_values", "value", "event_id")
INSERT = """
    INSERT INTO outbox (topic, key, header_names, header_values, value, event_id)
    VALUES ($1, $2, $3, $4, $5, $6)
"""
CLAIM_PENDING = """
    SELECT id, topic, key, header_names, header_values, value FROM outbox
    WHERE sent_at IS NULL AND key <> ALL($2::bytea[]) ORDER BY id LIMIT $1
"""
MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"
PURGE_SENT = """
    DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox WHERE sent_at < now() - make_interval(hours => $1) LIMIT 10000)
"""
PENDING = """
    SELECT count(*) AS pending, min(created_at) AS oldest, count(*) FILTER (WHERE key = ANY($1::bytea[])) AS held_back
    FROM outbox WHERE sent_at IS NULL
"""


async def add(connection: asyncpg.Connection, event: CloudEvent) -> None:
    """Queue `event` for publication in the caller's transaction."""
    await add_record(connection, encode(event), event_id=str(event.id))


async def add_many(connection: asyncpg.Connection, events: Sequence[CloudEvent]) -> None:
    """Queue many events with one COPY (bulk imports, batch handlers): a 1,000-event chunk takes a few
    milliseconds, a tenth of the prepared INSERT per row. COPY fires the statement trigger, so the relay
    wakes as usual."""
    if events:
        rows = [_row(encode(event), str(event.id)) for event in events]
        await connection.copy_records_to_table("outbox", columns=COLUMNS, records=rows)


async def add_record(connection: asyncpg.Connection, record: KafkaRecord, *, event_id: str | None = None) -> None:
    """Queue an already-encoded record (dead letters keep the original bytes)."""
    await connection.execute(INSERT, *_row(record, event_id))


def _row(record: KafkaRecord, event_id: str | None) -> tuple:
    names, values = split_headers(record.headers)
    return record.topic, record.key, names, values, record.value, event_id


def split_headers(headers: Iterable[tuple[str, bytes]]) -> tuple[list[str], list[bytes]]:
    """Headers as two parallel arrays, the shape they are stored in (names may repeat, so no map)."""
    pairs = list(headers)
    return [name for name, _ in pairs], [value for _, value in pairs]


@dataclass(frozen=True)
class OutboxStatus:
    pending: int
    oldest_pending_age_seconds: float
    held_back: int = 0  # pending rows this replica's relay holds back (see held_back.py)


async def status(
    connection: asyncpg.Connection, *, held_keys: Iterable[bytes] = (), now: datetime | None = None
) -> OutboxStatus:
    """The backlog; `held_keys` are the keys this replica's relay holds back (`OutboxRelay.held_keys`)."""
    row = await connection.fetchrow(PENDING, list(held_keys))
    oldest: datetime | None = row["oldest"]
    age = ((now or datetime.now(timezone.utc)) - oldest).total_seconds() if oldest else 0.0
    return OutboxStatus(pending=row["pending"], oldest_pending_age_seconds=max(age, 0.0), held_back=row["held_back"])


class OutboxRelay:
    """Publishes pending outbox rows in order, awaits the broker's acknowledgement, then marks them sent."""

    def __init__(
        self,
        database_url: str,
        pool: asyncpg.Pool,
        new_producer: Callable[[], AIOKafkaProducer],
        *,
        batch_size: int = BATCH_SIZE,
        poll_interval: float = 1.0,
        keep_sent_hours: int = 24,
        topic_prefix: str = "",
    ) -> None:
        self._database_url = database_url
        self._pool = pool
        self._new_producer = new_producer
        self._producer: AIOKafkaProducer | None = None  # started by `run`, and again after Kafka refused a batch
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._keep_sent_hours = keep_sent_hours
        self._topic_prefix = topic_prefix
        self._wake = asyncio.Event()
        self._held_back = HeldBack(poll_interval)
        self.published = 0

    @property
    def held_keys(self) -> tuple[bytes, ...]:
        """The keys whose rows this relay holds back, for the readiness report (`status`)."""
        return self._held_back.keys

    async def run(self) -> None:
        """Relay until cancelled. Failures are retried with backoff; nothing is marked sent unless acknowledged."""
        listener = asyncio.create_task(self._listen())
        failures = 0
        try:
            while True:
                # Whatever woke the relay: under steady writes it never idles a whole poll interval.
                await self._held_back.look_again(self._pool)
                try:
                    if self._producer is None:
                        self._producer = await self._started_producer()
                    sent = await self.publish_pending()
                    failures = 0
                except Exception as error:
                    if not is_transient(error):
                        log.exception("outbox relay failed unexpectedly; retrying")
                    elif isinstance(error, KafkaError) and not error.retriable:
                        log.error("Kafka refused an outbox batch (%s: %s); the relay cannot publish past it until "
                                  "the cause is fixed (topic ACLs, the topic's max.message.bytes), and tries again "
                                  "with a new producer", type(error).__name__, error)
                        await self._stop_producer()
                    failures += 1
                    delay = min(0.2 * 2**failures, 10.0)
                    log.warning("outbox relay could not publish (%s); retrying in %.1fs", error, delay)
                    await asyncio.sleep(delay)
                    continue
                if sent < self._batch_size:
                    await self._idle()
        finally:
            listener.cancel()
            await self._stop_producer()

    async def _started_producer(self) -> AIOKafkaProducer:
        producer = self._new_producer()
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # the connections it opened before failing
            raise
        return producer

    async def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception as error:  # noqa: BLE001 - it is dropped either way; the relay must go on
                log.warning("the outbox relay's Kafka producer did not stop cleanly (%s: %s)", type(error).__name__, error)

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows with the started producer; returns how many were published."""
        # Cleared before the claim, not after the publication: a row committed while this batch is being
        # published is not in the claim, and its notification must wake the relay again at once.
        self._wake.clear()
        async with self._pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK):
                return 0
            claimed = await connection.fetch(CLAIM_PENDING, self._batch_size, list(self._held_back.keys))
            rows = self._held_back.publishable(claimed)
            if len(rows) < len(claimed) == self._batch_size:
                self._wake.set()  # more may be pending behind the rows held back
            if not rows:
                return 0
            await asyncio.gather(*await self._send(rows))
            await failpoints.reached("relay-published-not-marked")
            await connection.execute(MARK_SENT, [row["id"] for row in rows])
        self.published += len(rows)
        return len(rows)

    async def _send(self, rows: Sequence[asyncpg.Record]) -> list[asyncio.Future]:
        """Hand `rows` to the producer as record batches, one partition's rows in their order, and return the
        futures of the broker's acknowledgements. Filling a batch per partition costs a fraction of one
        `send` per record; the partition is the one `send` would choose for the key."""
        producer = self._producer
        assert producer is not None, "run() starts the producer"
        acknowledgements, filling, partitions = [], {}, {}
        for row in rows:
            topic = self._topic_prefix + row["topic"]
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            partition = _PARTITIONER(row["key"], partitions[topic], partitions[topic])
            headers = list(zip(row["header_names"], row["header_values"]))
            record = {"key": row["key"], "value": row["value"], "timestamp": None, "headers": headers}
            batch = filling.get((topic, partition))
            if batch is not None and batch.append(**record) is not None:
                continue
            if batch is not None:  # full: on its way, and a new one for this partition
                acknowledgements.append(await producer.send_batch(batch, topic, partition=partition))
            batch = filling[(topic, partition)] = producer.create_batch()
            batch.append(**record)  # an empty batch takes any record
        for (topic, partition), batch in filling.items():
            acknowledgements.append(await producer.send_batch(batch, topic, partition=partition))
        return acknowledgements

    async def _idle(self) -> None:
        # Not `asyncio.wait_for`: on Python 3.11 it swallows a cancellation that lands as the wake-up comes
        # (a NOTIFY while the service stops), and the relay would never stop.
        try:
            async with asyncio.timeout(self._poll_interval):
                await self._wake.wait()
        except TimeoutError:
            await self._purge_sent()

    async def _purge_sent(self) -> None:
        try:
            async with self._pool.acquire() as connection:
                await connection.execute(PURGE_SENT, self._keep_sent_hours)
        except Exception as error:  # housekeeping only; the next idle moment tries again
            log.debug("could not purge sent outbox rows: %s", error)

    async def _listen(self) -> None:
        """Keep a LISTEN connection open, re-opening it after PostgreSQL restarts."""
        while True:
            try:
                connection = await asyncpg.connect(self._database_url)
            except Exception as error:
                log.debug("outbox listener cannot connect yet: %s", error)
                await asyncio.sleep(self._poll_interval)
                continue
            try:
                await connection.add_listener("outbox", lambda *_: self._wake.set())
                while not connection.is_closed():
                    await asyncio.sleep(self._poll_interval)
            finally:
                await connection.close()


