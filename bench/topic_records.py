"""Reading what is on a topic, without a consumer group: the benchmarks time their paths by the Kafka
timestamps of the events they caused."""

from aiokafka import AIOKafkaConsumer, TopicPartition
from karmayogi_contracts import CloudEvent, decode
from karmayogi_runtime import topics


async def read_since(bootstrap: str, topic: str,
                     start: dict[TopicPartition, int] | None = None) -> list[tuple[int, CloudEvent]]:
    """Every event on `topic` from `start` (each partition's offset, as `topics.end_offsets` gives them; the
    beginning when None) up to its end now, in the order read, each with its Kafka timestamp (ms)."""
    partitions = await topics.partitions(bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        if start is None:
            await consumer.seek_to_beginning(*partitions)
        else:
            for partition in partitions:
                consumer.seek(partition, start[partition])
        end = await consumer.end_offsets(partitions)
        found = []
        while [p for p in partitions if await consumer.position(p) < end[p]]:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                found += [(record.timestamp, decode(record.value, record.headers)) for record in records]
        return found
    finally:
        await consumer.stop()
