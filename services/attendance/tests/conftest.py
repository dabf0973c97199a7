"""Fixtures of the attendance tests: the service in-process on the real Kafka and PostgreSQL."""

import contextlib
from collections.abc import AsyncIterator

import pytest
from karmayogi_runtime.testing import TEST_API_KEYS, service_client

from attendance.main import MIGRATIONS_DIR, definition
from attendance.settings import AttendanceSettings

from attendance_samples import Attendance


@pytest.fixture
async def service_factory(kafka_bootstrap: str, database_factory, topic_prefix: str):
    """`async with service_factory() as attendance:` runs the service; call it again for a second run
    over the same database and topics (a restart)."""
    url = await database_factory(MIGRATIONS_DIR)
    settings = AttendanceSettings(database_url=url, kafka_bootstrap_servers=kafka_bootstrap,
                                  kafka_topic_prefix=topic_prefix, consumer_batch_size=100,
                                  api_keys=TEST_API_KEYS)

    @contextlib.asynccontextmanager
    async def start() -> AsyncIterator[Attendance]:
        async with service_client(definition(settings)) as (runtime, client):
            yield Attendance(runtime, client, url, kafka_bootstrap, topic_prefix)

    return start


@pytest.fixture
async def attendance(service_factory) -> AsyncIterator[Attendance]:
    async with service_factory() as running:
        yield running
