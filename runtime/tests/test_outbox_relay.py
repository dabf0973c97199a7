"""The outbox relay against the real Kafka and PostgreSQL: records too large for Kafka, and prompt wake-ups."""

import asyncio
import contextlib
import time

import pytest
from aiokafka import AIOKafkaProducer
from karmayogi_contracts import encode
from karmayogi_runtime import database, outbox
from karmayogi_runtime.broker import PRODUCER_DEFAULTS
from karmayogi_runtime.limits import MAX_RECORD_BYTES
from karmayogi_runtime.ops import read_dead_letters
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
                      wrap=_HeldProducer) as (relay, pool, producer):
        await asyncio.sleep(1)  # the relay is listening and idle
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


async def _until(condition, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _relay(kafka_bootstrap, database_factory, topic_prefix, *, poll_interval: float, wrap=lambda p: p):
    """A running relay on a fresh database, with its pool and its producer (`wrap` wraps the real one)."""
    url = await database_factory(MIGRATIONS)
    pool = await database.create_pool(url, size=3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_DEFAULTS)
    await producer.start()
    given = wrap(producer)
    relay = OutboxRelay(url, pool, given, poll_interval=poll_interval, topic_prefix=topic_prefix)
    running = asyncio.create_task(relay.run())
    try:
        yield relay, pool, given
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await producer.stop()
        await pool.close()
