"""Crash tests: the ledger service as a real process, SIGKILLed mid-batch and mid-relay, with Kafka and
PostgreSQL restarted through the stack scripts, while thousands of events flow. Afterwards every event
has had its effect exactly once, the outbox has drained, and the dead-letter topic holds exactly the
poison events injected.
"""

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from karmayogi_contracts import encode

from ledger_harness import publish, until_ready, wait_for_count
from karmayogi_runtime import topics
from karmayogi_runtime.dead_letter_topics import read_dead_letters, read_records
from karmayogi_runtime.testing import free_port
from ledger.events import attended, employee, enrolled
from ledger.service import MIGRATIONS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EMPLOYEES = 1250
SESSIONS = 4  # 5,000 attendances
POISONED = 10
SERVICE = Path(__file__).parent / "ledger" / "service.py"


class LedgerProcess:
    """One `ledger run` process; `kill()` is a SIGKILL, as an OOM killer or a node failure would do."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def start(self, **extra_env: str) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVICE), "run", "--no-migrate"], env={**self.env, **extra_env},
                stdout=log, stderr=subprocess.STDOUT,
            )

    async def ready(self, timeout: float = 60) -> None:
        await until_ready(self.process, self.env["LEDGER_HTTP_PORT"], self.log, timeout)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1


async def _wait_until(database_url: str, sql: str, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = await asyncpg.connect(database_url)
            try:
                if await connection.fetchval(sql) >= at_least:
                    return
            finally:
                await connection.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{sql} never reached {at_least}")


async def test_nothing_is_lost_or_doubled_through_kills_and_restarts(
    kafka_bootstrap, database_factory, topic_prefix, local_stack, tmp_path, capsys
):
    url = await database_factory(MIGRATIONS)
    rng = random.Random(7)
    people = [employee() for _ in range(EMPLOYEES)]
    barred = [employee("BARRED") for _ in range(POISONED)]
    connection = await asyncpg.connect(url)
    await connection.executemany("INSERT INTO barred VALUES ($1)", [(b,) for b in barred])
    await connection.close()

    # A fifth of the attendances come before their enrolment, so parking is crashed through too.
    events = []
    for person in people:
        marks = [attended(person, session=s) for s in range(1, SESSIONS + 1)]
        events += marks + [enrolled(person)] if rng.random() < 0.2 else [enrolled(person)] + marks
    garbage = [encode(attended(b)) for b in barred]
    poison = [type(g)(g.topic, g.key, g.headers, b"{truncated") for g in garbage]
    poison += [encode(e) for b in barred for e in (enrolled(b), attended(b, session=2))]
    chunks = [events[i:i + 500] for i in range(0, len(events), 500)]
    chunks[1] += poison

    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "LEDGER_KAFKA_TOPIC_PREFIX": topic_prefix, "LEDGER_HTTP_PORT": str(free_port()),
           "LEDGER_CONSUMER_BATCH_SIZE": "200", "LEDGER_LOG_LEVEL": "WARNING",
           "KARMAYOGI_FAILPOINT_DIR": str(tmp_path)}
    ledger = LedgerProcess(env, tmp_path / "ledger.log")
    effects = "SELECT count(*) FROM effects"
    ledger.start()
    await ledger.ready()
    restarts_before = local_stack.restarts.copy()

    async def feed(count: int) -> None:
        for _ in range(count):
            if chunks:
                await publish(kafka_bootstrap, topic_prefix, chunks.pop(0))

    await feed(3)
    for threshold in (300, 900):  # two kills mid-flow
        await _wait_until(url, effects, threshold)
        ledger.kill()
        ledger.start()
        await feed(2)
    await ledger.ready()
    local_stack.restart("kafka")
    await feed(2)
    await _wait_until(url, effects, 2200)
    ledger.kill()  # third kill of the consumer

    # The relay stops after Kafka acknowledged a batch and before the rows are marked sent: killed there.
    ledger.start(KARMAYOGI_FAILPOINTS="relay-published-not-marked")
    await feed(1)
    marker = tmp_path / "relay-published-not-marked"
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the relay never reached its failpoint"
        await asyncio.sleep(0.05)
    ledger.kill()
    ledger.start()
    await ledger.ready()
    local_stack.restart("postgres")
    await feed(len(chunks))

    expected = EMPLOYEES * SESSIONS
    assert await wait_for_count(url, effects, expected, timeout=180) == expected
    assert await wait_for_count(url, "SELECT count(*) FROM audit", expected, timeout=120) == expected
    assert await wait_for_count(url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL", 0) == 0
    connection = await asyncpg.connect(url)
    try:
        doubled = await connection.fetchval(
            "SELECT count(*) FROM (SELECT event_id FROM effects GROUP BY event_id HAVING count(*) > 1) d")
        doubled_audit = await connection.fetchval(
            "SELECT count(*) FROM (SELECT event_id FROM audit GROUP BY event_id HAVING count(*) > 1) d")
        distinct = await connection.fetchval("SELECT count(DISTINCT event_id) FROM effects")
        parked = await connection.fetchval("SELECT count(*) FROM parked")
    finally:
        await connection.close()
    dead_letter_topic = [f"{topic_prefix}session.attended.dlq"]
    letters = await read_dead_letters(kafka_bootstrap, dead_letter_topic)
    republished = len(await read_records(kafka_bootstrap, dead_letter_topic)) - len(letters)
    reasons = sorted(letter.why["error_class"] for letter in letters)
    published = await _count_records(kafka_bootstrap, f"{topic_prefix}certificate.revoked")
    ledger.kill()
    restarts = local_stack.restarts - restarts_before

    with capsys.disabled():  # shown in the run's output even when the test passes
        print(f"\ncrash test: {len(events) + POISONED} events + {2 * POISONED} poison; consumer kills={ledger.kills - 1} "
              f"(incl. 1 relay kill at its failpoint); kafka restarts={restarts['kafka']}; "
              f"postgres restarts={restarts['postgres']}; "
              f"effects={distinct} distinct, duplicates={doubled}; audit duplicates={doubled_audit}; "
              f"onward events on Kafka={published} (>{expected} shows the relay's re-publish after its kill); "
              f"dead letters={len(letters)} (+{republished} re-published copies, same dlq_id)")
    assert ledger.kills - 1 >= 4
    assert restarts["kafka"] == 1 and restarts["postgres"] == 1
    assert doubled == 0 and doubled_audit == 0 and distinct == expected and parked == 0
    assert reasons == ["DecodeError.not_json"] * POISONED + ["RuleViolation"] * POISONED
    poison_ids = {dict(r.headers)["ce_id"] for r in poison if dict(r.headers)["ce_type"].endswith(b"attended.v1")}
    assert {dict(letter.record.headers)["ce_id"] for letter in letters} == poison_ids
    assert published > expected


async def _count_records(bootstrap: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer

    partitions = await topics.partitions(bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        end = await consumer.end_offsets(partitions)
        start = await consumer.beginning_offsets(partitions)
        return sum(end[p] - start[p] for p in partitions)
    finally:
        await consumer.stop()
