"""The runner reads and decodes the next batch while the one before it is applied, and still applies them one
after the other: a batch that fails is retried before any batch read after it, and those are read again, so
no record is skipped, applied twice or applied before an earlier one of its key."""

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker
from karmayogi_contracts import CloudEvent, encode
from karmayogi_runtime.consumer import ConsumerRunner, EventContext, Subscription
from karmayogi_runtime.database import create_pool
from karmayogi_runtime.testing import TEST_PARTITIONS

from ledger.events import attended, employee
from ledger.service import MIGRATIONS
from ledger_harness import wait_for_count

pytestmark = pytest.mark.integration

GROUP = "batches.in.turn"
APPLIED = "CREATE TABLE applied (seq bigserial PRIMARY KEY, employee_id text NOT NULL, event_number integer NOT NULL)"


async def test_a_failed_batch_is_retried_before_the_batches_read_after_it_and_those_are_read_again(
        kafka_bootstrap, database_factory, topic_prefix):
    url = await database_factory(MIGRATIONS)
    # Two waves on two partitions: the last batch of the first wave fails once, slowly, and the second
    # wave's first batch is read and decoded meanwhile, from a partition the failed batch does not hold.
    first_wave = [attended(someone, session=session) for someone in _employees("A") for session in range(1, 26)]
    second_wave = [attended(someone, session=session) for someone in _employees("B") for session in range(1, 26)]
    events = first_wave + second_wave
    number = {event.id: n for n, event in enumerate(events)}  # each employee's events are numbered in their order
    failing, failed = first_wave[-1].id, asyncio.Event()

    async def apply(context: EventContext, event: CloudEvent) -> None:
        if event.id == failing and not failed.is_set():
            failed.set()
            await asyncio.sleep(2)  # the second wave is read and decoded meanwhile
            raise ConnectionResetError("PostgreSQL closed the connection")  # transient: the batch is retried
        await context.connection.execute("INSERT INTO applied (employee_id, event_number) VALUES ($1, $2)",
                                         event.data.employee_id, number[event.id])

    pool = await create_pool(url, size=4)
    await pool.execute(APPLIED)
    broker = KafkaBroker(kafka_bootstrap, logger=None)
    runner = ConsumerRunner(pool, [Subscription(GROUP, ("session.attended",), apply)], batch_size=40,
                            topic_prefix=topic_prefix)
    runner.register(broker)
    await broker.start()
    topic = topic_prefix + "session.attended"
    try:
        await _publish(kafka_bootstrap, topic, 0, first_wave)
        await asyncio.wait_for(failed.wait(), 60)
        await _publish(kafka_bootstrap, topic, 1, second_wave)
        assert await wait_for_count(url, "SELECT count(*) FROM applied", len(events)) == len(events)
        await runner.finish_batches(within=5.0)
    finally:
        await broker.stop()
    rows = await pool.fetch("SELECT employee_id, event_number FROM applied ORDER BY seq")
    await pool.close()

    assert len({row["event_number"] for row in rows}) == len(events)  # each applied once
    applied_in_turn = defaultdict(list)
    for row in rows:
        applied_in_turn[row["employee_id"]].append(row["event_number"])
    assert all(numbers == sorted(numbers) for numbers in applied_in_turn.values())  # in each key's order
    assert await _left_to_read(kafka_bootstrap, topic, topic_prefix + GROUP) == 0


async def test_a_batch_is_applied_outside_the_context_that_holds_its_message(kafka_bootstrap, database_factory,
                                                                             topic_prefix):
    # Each timer a statement sets (asyncpg's command timeout) keeps the context it was set in until it is due,
    # a minute later, although cancelled when the statement returns: applied in FastStream's context, which
    # holds the message, every batch's records would be kept that long.
    pool = await create_pool(await database_factory(MIGRATIONS), size=2)
    broker = KafkaBroker(kafka_bootstrap, logger=None)
    messages_in_context = []

    async def apply(context: EventContext, event: CloudEvent) -> None:
        messages_in_context.append(broker.context.get_local("message"))
        await context.connection.execute("SELECT 1")

    runner = ConsumerRunner(pool, [Subscription("batch.context", ("session.attended",), apply)],
                            topic_prefix=topic_prefix)
    runner.register(broker)
    await broker.start()
    try:
        await _publish(kafka_bootstrap, topic_prefix + "session.attended", 0, [attended(e) for e in _employees("C")])
        async with asyncio.timeout(60):
            while runner.handled < 12:
                await asyncio.sleep(0.05)
    finally:
        await broker.stop()
        await pool.close()

    assert len(messages_in_context) == 12 and not any(messages_in_context)


def _employees(label: str) -> list[str]:
    return [employee(f"{label}{n}") for n in range(12)]


async def _publish(bootstrap: str, topic: str, partition: int, events: list[CloudEvent]) -> None:
    """`events` to one `partition` of `topic`, in their order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        records = [encode(event) for event in events]
        sends = [await producer.send(topic, r.value, key=r.key, headers=list(r.headers), partition=partition)
                 for r in records]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _left_to_read(bootstrap: str, topic: str, group: str) -> int:
    """The records of `topic` past the offsets `group` has committed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(TEST_PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
        committed = [await consumer.committed(p) or 0 for p in partitions]
        return sum(ends[p] - offset for p, offset in zip(partitions, committed))
    finally:
        await consumer.stop()
