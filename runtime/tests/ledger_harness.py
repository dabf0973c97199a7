"""The runtime's own test harness: the ledger service running in-process on real Kafka and PostgreSQL."""

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from karmayogi_contracts import CloudEvent, KafkaRecord, encode
from karmayogi_runtime.service import ServiceRuntime, running

from ledger.service import MIGRATIONS, LedgerSettings, definition


@dataclass
class Ledger:
    runtime: ServiceRuntime
    database_url: str
    bootstrap: str
    prefix: str

    async def publish(self, items: Sequence[CloudEvent | KafkaRecord]) -> None:
        """Publish as a state system would: straight to the (prefixed) topics, awaiting acknowledgement."""
        await publish(self.bootstrap, self.prefix, items)

    async def count(self, sql: str, *args: object) -> int:
        async with self.runtime.pool.acquire() as connection:
            return await connection.fetchval(sql, *args)

    async def wait_for_count(self, sql: str, expected: int, *args: object, timeout: float = 60) -> int:
        return await wait_for_count(self.database_url, sql, expected, *args, timeout=timeout)


async def publish(bootstrap: str, prefix: str, items: Sequence[CloudEvent | KafkaRecord]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sends = []
        for item in items:
            record = item if isinstance(item, KafkaRecord) else encode(item)
            sends.append(await producer.send(prefix + record.topic, record.value, key=record.key, headers=list(record.headers)))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def wait_for_count(database_url: str, sql: str, expected: int, *args: object, timeout: float = 60) -> int:
    """Poll `sql` until it returns `expected`; returns the last value (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    value = -1
    while time.monotonic() < deadline:
        try:
            connection = await asyncpg.connect(database_url)
            try:
                value = await connection.fetchval(sql, *args)
            finally:
                await connection.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass  # PostgreSQL may be restarting under a crash test
        if value == expected:
            return value
        await asyncio.sleep(0.2)
    return value


@pytest.fixture
async def ledger(kafka_bootstrap: str, postgres_url: str, database_factory, topic_prefix: str) -> AsyncIterator[Ledger]:
    url = await database_factory(MIGRATIONS)
    settings = LedgerSettings(database_url=url, kafka_bootstrap_servers=kafka_bootstrap,
                              kafka_topic_prefix=topic_prefix, consumer_batch_size=100)
    async with running(definition(settings)) as runtime:
        yield Ledger(runtime, url, kafka_bootstrap, topic_prefix)


async def until_ready(process: subprocess.Popen, port: str, log: Path, timeout: float = 90) -> None:
    """Waits for a ledger process started with `run` to report ready; fails with the end of its log when it
    exits or takes longer than `timeout`."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"ledger exited during start-up:\n{log.read_text()[-3000:]}"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"ledger not ready after {timeout}s:\n{log.read_text()[-3000:]}")
