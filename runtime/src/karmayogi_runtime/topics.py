"""Topic administration for tests and operator tools: create, delete, list partitions.

`security` is the connection options of `broker.aiokafka_security(settings)` for a secured cluster.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


Security = Mapping[str, Any] | None


@contextlib.asynccontextmanager
async def _admin(bootstrap_servers: str, security: Security) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(security or {}))
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def partitions(bootstrap_servers: str, topics: list[str], *, security: Security = None) -> list[TopicPartition]:
    """Every partition of `topics`, in order."""
    async with _admin(bootstrap_servers, security) as admin:
        described = await admin.describe_topics(topics)
    return sorted(
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described if topic["error_code"] == 0
        for partition in topic["partitions"]
    )


async def create(bootstrap_servers: str, names: list[str], partitions: int, *, timeout: float = 30,
                 security: Security = None) -> None:
    """Create `names` and return once every partition has a leader (ready to produce and fetch)."""
    async with _admin(bootstrap_servers, security) as admin:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = await admin.describe_topics(names)
            if all(t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
                   for t in described):
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"topics {names} have no leaders after {timeout}s")


async def delete(bootstrap_servers: str, names: list[str], *, security: Security = None) -> None:
    async with _admin(bootstrap_servers, security) as admin:
        await admin.delete_topics(names)


async def names(bootstrap_servers: str, *, security: Security = None) -> set[str]:
    """The names of every topic on the cluster (that this client may describe)."""
    async with _admin(bootstrap_servers, security) as admin:
        return set(await admin.list_topics())


async def end_offsets(bootstrap_servers: str, names: list[str], *, security: Security = None) -> dict[TopicPartition, int]:
    """Where each partition of `names` ends now: the offset of its next record, to read only what comes after."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **(security or {}))
    await consumer.start()
    try:
        return await consumer.end_offsets(await partitions(bootstrap_servers, names, security=security))
    finally:
        await consumer.stop()
