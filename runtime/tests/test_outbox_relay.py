"""The outbox relay against the real Kafka and PostgreSQL: records too large for Kafka, and prompt wake-ups."""

import asyncio
import contextlib
import time

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from karmayogi_contracts import KafkaRecord, encode
from karmayogi_runtime import database, outbox
from karmayogi_runtime.broker import PRODUCER_DEFAULTS
from karmayogi_runtime.limits import MAX_RECORD_BYTES
from karmayogi_runtime.dead_letter_topics import read_dead_letters, read_records
from karmayogi_runtime.outbox import OutboxRelay

from ledger.events import attended, employee, enrolled
from ledger.service import MIGRATIONS

pytestmark = pytest.mark.integration

ROSTER = "SELECT count(*) FROM roster WHERE employee_id = $1"


async def test_a_record_near_kafkas_limit_is_dead_lettered_without_its_value_and_the_outbox_flows_on(ledger):
    big = encode(attended(employee("BIG")))
    big = type(big)(big.topic, big.key, big.headers, b'{"padding":"' + b"x" * 1_047_850 + b'"}')
    await ledger.publish([big])  # Kafka takes it; with the failure's headers it would be over the limit
    good = employee("GOOD")

    await ledger.publish([enrolled(good), attended(good)])

    assert await ledger.wait_for_count("SELECT count(*) FROM audit", 1, timeout=40) == 1  # its onward event went out
    letters = await read_dead_letters(ledger.bootstrap, [ledger.prefix + "session.attended.dlq"])
    assert len(letters) == 1
    assert letters[0].why["value_omitted"] == str(len(big.value))
    assert letters[0].record.value == b""
    assert await ledger.count("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


async def test_a_row_too_large_for_kafka_holds_back_only_its_keys_rows_until_it_is_removed(ledger):
    stuck, others = employee("STUCK"), [employee("OTHER") for _ in range(3)]
    oversized = encode(enrolled(stuck))
    oversized = type(oversized)(oversized.topic, oversized.key, oversized.headers, b" " * MAX_RECORD_BYTES)
    async with ledger.runtime.pool.acquire() as connection, connection.transaction():
        await outbox.add_record(connection, oversized)
        await outbox.add(connection, enrolled(stuck))  # after it, same key: must stay behind it
        for other in others:
            await outbox.add(connection, enrolled(other))

    for other in others:
        assert await ledger.wait_for_count(ROSTER, 1, other, timeout=30) == 1
    async with ledger.runtime.pool.acquire() as connection:
        backlog = await outbox.status(connection, held_keys=ledger.runtime.relay.held_keys)
    assert (backlog.pending, backlog.held_back) == (2, 2)
    assert await ledger.count(ROSTER, stuck) == 0

    async with ledger.runtime.pool.acquire() as connection:  # the operator removes the row Kafka cannot take
        await connection.execute("DELETE FROM outbox WHERE length(value) >= $1", MAX_RECORD_BYTES)

    assert await ledger.wait_for_count(ROSTER, 1, stuck, timeout=30) == 1
    assert ledger.runtime.relay.held_keys == ()


class _HeldProducer:
    """The relay's producer, whose next publication waits until the test lets it go."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self.publishing, self.go_on = asyncio.Event(), asyncio.Event()

    def __getattr__(self, name: str):
        return getattr(self._producer, name)

    async def send_batch(self, batch, topic, *, partition):
        self.publishing.set()
        await self.go_on.wait()
        return await self._producer.send_batch(batch, topic, partition=partition)


async def test_a_row_committed_while_the_relay_publishes_goes_out_without_waiting_for_the_poll(
    kafka_bootstrap, database_factory, topic_prefix
):
    async with _relay(kafka_bootstrap, database_factory, topic_prefix, poll_interval=10.0,
                      wrap=_HeldProducer) as (relay, pool, producers):
        await asyncio.sleep(1)  # the relay is listening and idle
        producer = producers[-1]
        async with pool.acquire() as connection:
            await outbox.add(connection, enrolled(employee("FIRST")))
        await asyncio.wait_for(producer.publishing.wait(), timeout=5)
        async with pool.acquire() as connection:
            await outbox.add(connection, enrolled(employee("SECOND")))
        await asyncio.sleep(0.5)  # its notification reaches the relay while the first row is being published
        producer.go_on.set()
        started = time.monotonic()

        while relay.published < 2 and time.monotonic() - started < 3:
            await asyncio.sleep(0.05)

        assert relay.published == 2, "the second row waited for the poll interval"


async def test_a_held_back_key_is_released_under_steady_writes_of_other_keys(
    kafka_bootstrap, database_factory, topic_prefix
):
    stuck = employee("STUCK")
    oversized = encode(enrolled(stuck))
    oversized = type(oversized)(oversized.topic, oversized.key, oversized.headers, b" " * MAX_RECORD_BYTES)

    async with _relay(kafka_bootstrap, database_factory, topic_prefix, poll_interval=0.5) as (relay, pool, _):

        async def write_steadily() -> None:  # a bulk import: a NOTIFY far more often than the poll interval
            while True:
                async with pool.acquire() as connection:
                    await outbox.add(connection, enrolled(employee("OTHER")))
                await asyncio.sleep(0.02)

        async def stuck_pending() -> int:
            async with pool.acquire() as connection:
                return await connection.fetchval("SELECT count(*) FROM outbox WHERE key = $1 AND sent_at IS NULL",
                                                 oversized.key)

        writer = asyncio.create_task(write_steadily())
        try:
            async with pool.acquire() as connection, connection.transaction():
                await outbox.add_record(connection, oversized)
                await outbox.add(connection, enrolled(stuck))  # held behind it
            await _until(lambda: relay.held_keys != (), timeout=10)
            async with pool.acquire() as connection:  # the operator removes the row Kafka cannot take
                await connection.execute("DELETE FROM outbox WHERE length(value) >= $1", MAX_RECORD_BYTES)
            started = time.monotonic()
            while await stuck_pending() and time.monotonic() - started < 10:  # about a poll interval; generous
                await asyncio.sleep(0.1)

            assert await stuck_pending() == 0, "the held key waited for an idle poll interval that steady writes never leave"
            assert relay.held_keys == ()
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)


async def test_a_refused_batch_goes_out_once_the_cause_is_fixed_with_a_new_producer(
    kafka_bootstrap, database_factory, topic_prefix, caplog
):
    """Kafka refuses a batch for a cause an operator fixes (here a topic's `max.message.bytes` below the
    record; a missing ACL is the other). After a refusal, the idempotent producer had every later batch to
    that partition refused too, so the rows stayed pending until the process restarted."""
    topic = f"{topic_prefix}refused"
    async with _admin(kafka_bootstrap) as admin:
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "2000"})])
    rows = [KafkaRecord("refused", b"IN-HR:HR-1", (("ce_id", str(n).encode()),), value)
            for n, value in enumerate([b"first", b"x" * 5000, b"third"])]

    async with _relay(kafka_bootstrap, database_factory, topic_prefix, poll_interval=0.5) as (relay, pool, producers):
        for batch in (rows[:1], rows[1:]):  # the producer has published to the partition before the refusal
            async with pool.acquire() as connection, connection.transaction():
                for row in batch:
                    await outbox.add_record(connection, row)
            await _until(lambda: relay.published == 1, timeout=30)
        await _until(lambda: "Kafka refused an outbox batch" in caplog.text, timeout=30)
        async with _admin(kafka_bootstrap) as admin:  # the operator raises the topic's limit
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                      configs={"max.message.bytes": "100000"})])

        await _until(lambda: relay.published == len(rows), timeout=30)

        assert relay.published == len(rows)
        assert [r.record.value for r in await read_records(kafka_bootstrap, [topic])] == [r.value for r in rows]
        assert len(producers) > 1


@contextlib.asynccontextmanager
async def _admin(kafka_bootstrap):
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def _until(condition, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _relay(kafka_bootstrap, database_factory, topic_prefix, *, poll_interval: float, wrap=lambda p: p):
    """A running relay on a fresh database, with its pool and the producers it started, the latest last
    (`wrap` wraps each real one)."""
    url = await database_factory(MIGRATIONS)
    pool = await database.create_pool(url, size=3)
    producers = []

    def new_producer():
        producers.append(wrap(AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_DEFAULTS)))
        return producers[-1]

    relay = OutboxRelay(url, pool, new_producer, poll_interval=poll_interval, topic_prefix=topic_prefix)
    running = asyncio.create_task(relay.run())
    try:
        yield relay, pool, producers
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await pool.close()
