"""A consumer group's committed offsets survive a Kafka restart done through the stack scripts."""

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from karmayogi_runtime import topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _consume(bootstrap: str, topic: str, group: str, count: int | None, commit: bool) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    seen: list[bytes] = []
    try:
        while count is None or len(seen) < count:
            batch = await consumer.getmany(timeout_ms=3000, max_records=count - len(seen) if count else 500)
            if not batch:
                if count is None:
                    break
                continue
            seen += [record.value for records in batch.values() for record in records]
        if commit:
            await consumer.commit()
    finally:
        await consumer.stop()
    return seen


async def test_committed_offsets_are_not_redelivered_and_nothing_is_lost_after_a_kafka_restart(
    kafka_bootstrap, local_stack
):
    topic, group = f"restart-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    await topics.create(kafka_bootstrap, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    sent = [f"event-{n}".encode() for n in range(200)]
    for value in sent:
        await producer.send_and_wait(topic, value)
    await producer.stop()

    first = await _consume(kafka_bootstrap, topic, group, 120, commit=True)
    local_stack.restart("kafka")
    rest = await _consume(kafka_bootstrap, topic, group, None, commit=True)

    assert first == sent[:120]
    assert rest == sent[120:]
