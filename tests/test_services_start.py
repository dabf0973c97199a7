"""Each service starts with one command against the real stack, applies its migrations, answers liveness
and readiness, takes its API keys from the environment, and stops cleanly on SIGTERM; one whose topics do not
exist yet says so and waits for them."""

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from karmayogi_runtime import topics
from karmayogi_runtime.testing import ALL_STATES_KEY, STATE_KEYS, TEST_API_KEYS, free_port

pytestmark = pytest.mark.integration

SERVICES = ("enrolment", "attendance", "certification", "notifications")
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_starts_with_one_command_answers_health_and_only_the_keys_of_a_routes_state(
    service, postgres_url, kafka_bootstrap, topic_prefix, tmp_path
):
    port, log = free_port(), tmp_path / "service.log"
    env = _environment(postgres_url, f"start_{service}_{_unique()}", kafka_bootstrap, topic_prefix, port, tmp_path)
    async with _started(service, postgres_url, env, log) as process:
        live, ready = await _wait_healthy(port, process, timeout=90)
        assert live.status_code == 200, live.text
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgresql": True, "kafka": True}
        assert await _refusals_without_the_states_key(port) == []
        own = await asyncpg.connect(env["DATABASE_URL"])
        names = {r["tablename"] for r in await own.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        await own.close()
        assert {"outbox", "inbox", "parked", "alembic_version"} <= names
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended.
        assert process.wait(timeout=45) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in log.read_text(), log.read_text()[-2000:]


async def test_a_service_whose_topics_do_not_exist_yet_names_them_and_starts_once_they_are_created(
    postgres_url, kafka_bootstrap, tmp_path
):
    """In a cluster the topics' resources may be created at the same time as the pods. A service started
    before its topics would otherwise consume nothing from them, without saying why."""
    port, log, unique = free_port(), tmp_path / "service.log", _unique()
    env = _environment(postgres_url, f"late_topics_{unique}", kafka_bootstrap, f"late{unique}.", port, tmp_path)
    access = json.loads(subprocess.run([str(BIN / "karmayogi-attendance"), "kafka-access"], env=env,
                                       capture_output=True, text=True, check=True).stdout)
    names = sorted({*access["reads"], *access["writes"]})  # every topic it uses, with the prefix
    try:
        async with _started("attendance", postgres_url, env, log) as process:
            said = await _wait_for_log(log, "has no topic", process, timeout=60)
            assert f"Kafka at {kafka_bootstrap} has no topic {', '.join(names)})" in said, said
            await topics.create(kafka_bootstrap, names, 1)
            live, ready = await _wait_healthy(port, process, timeout=90)
            assert (live.status_code, ready.status_code) == (200, 200), (live.text, ready.text)
    finally:
        await topics.delete(kafka_bootstrap, names)


@contextlib.asynccontextmanager
async def _started(service: str, postgres_url: str, env: dict[str, str], log: Path) -> AsyncIterator[subprocess.Popen]:
    """`karmayogi-<service> run` with `env`, on a database of its own (created here, dropped after), its
    output in `log`."""
    database = env["DATABASE_URL"].rsplit("/", 1)[1]
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    with log.open("w") as output:
        process = subprocess.Popen([str(BIN / f"karmayogi-{service}"), "run"], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def _unique() -> str:
    return f"{os.getpid()}_{int(time.time() * 1000) % 100000}"


def _environment(postgres_url: str, database: str, kafka_bootstrap: str, prefix: str, port: int, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": postgres_url.rsplit("/", 1)[0] + f"/{database}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "HTTP_PORT": str(port),
        "LOCAL_DATA_DIR": str(data),
        "LOG_LEVEL": "INFO",
        "CERTIFICATION_ADMIN_TOKEN": "an-admin-token-of-at-least-thirty-two-characters",
        "API_KEYS": TEST_API_KEYS,
    }


NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"  # every path parameter but the state: a well-formed id of nothing


async def _refusals_without_the_states_key(port: int) -> list[str]:
    """How the running process's answers differ from its OpenAPI document, one sentence each: a route the
    document puts behind a state's key refuses a call without one (401), and any other (health, public
    pages, certification's revocation with its own token) does not; a route of a state's records
    (`{tenant}`) refuses Bihar's key on Haryana's, and its reads take the key of every state. So the process
    took API_KEYS from its environment and put its routes behind them."""
    problems = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        document = (await client.get("/openapi.json")).json()
        for template, operations in document["paths"].items():
            path = re.sub(r"\{[^}]+\}", NO_SUCH_ID, template.replace("{tenant}", "IN-HR"))
            for method, operation in operations.items():
                keyed = {"stateKey": []} in operation.get("security", [])  # behind a state's key (access.py)
                anyone = await client.request(method, path)
                if (anyone.status_code == 401) != keyed:
                    problems.append(f"{method.upper()} {template} answered {anyone.status_code} without a key.")
                if "{tenant}" not in template:
                    continue
                bihar = await client.request(method, path, headers=_bearer(STATE_KEYS["IN-BR"]))
                if bihar.status_code != 403:
                    problems.append(f"{method.upper()} {template} answered {bihar.status_code} to IN-BR's key on IN-HR's records.")
                if method == "get":  # only a read: a write with this key would change records
                    every = await client.get(path, headers=_bearer(ALL_STATES_KEY))
                    if every.status_code in (401, 403):
                        problems.append(f"GET {template} answered {every.status_code} to the key of every state.")
    return problems


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _wait_for_log(log: Path, words: str, process: subprocess.Popen, timeout: float) -> str:
    """The service's log once it contains `words`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the service exited during start-up: {log.read_text()[-2000:]}"
        if words in (said := log.read_text()):
            return said
        await asyncio.sleep(0.3)
    raise AssertionError(f"{words!r} not in the log after {timeout}s: {log.read_text()[-2000:]}")


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
