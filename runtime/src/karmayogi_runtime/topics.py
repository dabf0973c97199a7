"""Topic administration for tests and operator tools: create, delete, list partitions."""

import asyncio
import time

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def partitions(bootstrap_servers: str, topics: list[str]) -> list[TopicPartition]:
    """Every partition of `topics`, in order."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described if topic["error_code"] == 0
        for partition in topic["partitions"]
    )


async def create(bootstrap_servers: str, names: list[str], partitions: int, *, timeout: float = 30) -> None:
    """Create `names` and return once every partition has a leader (ready to produce and fetch)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = await admin.describe_topics(names)
            if all(t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
                   for t in described):
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"topics {names} have no leaders after {timeout}s")
    finally:
        await admin.close()


async def delete(bootstrap_servers: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()
