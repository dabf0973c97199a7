"""Each service starts with one command against the real stack, applies its migrations, answers liveness
and readiness, and stops cleanly on SIGTERM."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from karmayogi_runtime.testing import free_port

pytestmark = pytest.mark.integration

SERVICES = ("enrolment", "attendance", "certification", "notifications")
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_starts_with_one_command_and_answers_health(
    service, postgres_url, kafka_bootstrap, topic_prefix, tmp_path
):
    database = f"start_{service}_{os.getpid()}_{int(time.time() * 1000) % 100000}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url.rsplit("/", 1)[0] + f"/{database}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": topic_prefix,
        "HTTP_PORT": str(port),
        "LOCAL_DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "INFO",
        "CERTIFICATION_ADMIN_TOKEN": "an-admin-token-of-at-least-thirty-two-characters",
    }
    log = tmp_path / "service.log"
    with log.open("w") as output:
        process = subprocess.Popen([str(BIN / f"karmayogi-{service}"), "run"], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        live, ready = await _wait_healthy(port, process, timeout=90)
        assert live.status_code == 200, live.text
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgresql": True, "kafka": True}
        own = await asyncpg.connect(env["DATABASE_URL"])
        names = {r["tablename"] for r in await own.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        await own.close()
        assert {"outbox", "inbox", "parked", "alembic_version"} <= names
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended.
        assert process.wait(timeout=45) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in log.read_text(), log.read_text()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def _wait_healthy(port: int, process: subprocess.Popen, timeout: float) -> tuple[httpx.Response, httpx.Response]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the service exited during start-up"
            try:
                ready = await client.get("/health/ready")
                if ready.status_code == 200:
                    return await client.get("/health/live"), ready
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"not ready after {timeout}s")
