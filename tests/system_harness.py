"""The cross-service suite's harness: the four services and the local mail/SMS server as real processes
over the real Kafka and PostgreSQL, each service with its own fresh database, all sharing one fresh topic
prefix, so a test sees only its own events."""

import asyncio
import email
import email.message
import importlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from unittest import mock

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from karmayogi_contracts import KafkaRecord
from karmayogi_contracts.examples import load as load_example
from karmayogi_runtime import topics as topics_admin
from karmayogi_runtime import calendar
from karmayogi_runtime.service import ServiceDefinition
from karmayogi_runtime.testing import ALL_STATES_KEY, TEST_API_KEYS, free_port

SERVICES = ("enrolment", "attendance", "certification", "notifications")
BIN = Path(sys.executable).parent
ADMIN_TOKEN = "test-admin-token-of-at-least-32-characters"


@dataclass
class System:
    """The running backend of one test: start, kill and restart its processes; reach their APIs."""

    postgres_url: str
    kafka_bootstrap: str
    prefix: str
    data_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def client(self, service: str, key: str | None = ALL_STATES_KEY) -> httpx.AsyncClient:
        """A client of the service's API sending `key` as its bearer token (None: no key, as anyone on the
        internet following a certificate's link)."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.AsyncClient(base_url=self.url(service), headers=headers, timeout=120)

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def sms_log(self) -> Path:
        return self.data_dir / "sms" / "messages.ndjson"

    def sms_received(self) -> list[dict]:
        """Every SMS the local gateway accepted, duplicates included, in order of arrival."""
        if not self.sms_log.exists():
            return []
        *complete, _being_written = self.sms_log.read_text(encoding="utf-8").split("\n")
        return [json.loads(line) for line in complete]

    def env(self, service: str) -> dict[str, str]:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "KAFKA_TOPIC_PREFIX": self.prefix,
            "LOCAL_DATA_DIR": str(self.data_dir),
            "LOG_LEVEL": "INFO",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.ports["smtp"]),
            "SMS_HTTP_PORT": str(self.ports["sms"]),
            "SMS_GATEWAY_URL": f"http://127.0.0.1:{self.ports['sms']}",
            "CERTIFICATION_PUBLIC_BASE_URL": self.url("certification") if "certification" in self.ports else "",
            "CERTIFICATION_ADMIN_TOKEN": ADMIN_TOKEN,
            "API_KEYS": TEST_API_KEYS,  # ALL_STATES_KEY, which `client` sends, and a Haryana and a Bihar key
            "NOTIFICATIONS_SENDER_IDLE_SECONDS": "0.2",
            "NOTIFICATIONS_RETRY_BASE_SECONDS": "1",
            "NOTIFICATIONS_RETRY_MAX_SECONDS": "5",
            "NOTIFICATIONS_EMAIL_PER_SECOND": "500",
            "NOTIFICATIONS_SMS_PER_SECOND": "500",
            # A send cut by a kill is claimed again after the lease, which must outlast the slowest send
            # (notifications' settings: 12 SMTP and 6 SMS timeouts); the servers are on loopback.
            "NOTIFICATIONS_SENDING_LEASE_SECONDS": "20",
            "NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": "1.5",
            "NOTIFICATIONS_SMS_TIMEOUT_SECONDS": "3",
        }
        if service in SERVICES:
            env.update(DATABASE_URL=self.databases[service], HTTP_PORT=str(self.ports[service]))
        return env

    def start(self, service: str) -> None:
        command = [str(BIN / "karmayogi-local-mail")] if service == "mail" else [str(BIN / f"karmayogi-{service}"), "run"]
        log = (self.data_dir / "logs" / f"{service}.log").open("a")
        self.processes[service] = subprocess.Popen(command, env=self.env(service), stdout=log, stderr=subprocess.STDOUT)

    def kill(self, service: str) -> None:
        """SIGKILL, as an OOM kill or a node failure would end it."""
        process = self.processes[service]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.kills[service] = self.kills.get(service, 0) + 1

    async def ready(self, *services: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            for service in services or SERVICES:
                while True:
                    assert self.processes[service].poll() is None, self.log_tail(service)
                    try:
                        if (await client.get(f"{self.url(service)}/health/ready")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, f"{service} not ready: {self.log_tail(service)}"
                    await asyncio.sleep(0.3)

    def log_tail(self, service: str) -> str:
        return (self.data_dir / "logs" / f"{service}.log").read_text()[-3000:]

    async def restart(self, service: str) -> None:
        self.kill(service)
        self.start(service)
        await self.ready(service)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
async def system(postgres_url, kafka_bootstrap, topic_prefix, tmp_path) -> AsyncIterator[System]:
    (tmp_path / "logs").mkdir()
    running = System(postgres_url, kafka_bootstrap, topic_prefix, tmp_path)
    running.ports = {name: free_port() for name in (*SERVICES, "smtp", "sms")}
    admin = await asyncpg.connect(postgres_url)
    for service in SERVICES:
        name = f"x_{service}_{uuid.uuid4().hex[:10]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        running.databases[service] = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        running.start("mail")
        for service in SERVICES:
            running.start(service)
        await running.ready()
        yield running
    finally:
        running.stop_all()
        await admin.close()
        admin = await asyncpg.connect(postgres_url)  # the test may have restarted PostgreSQL meanwhile
        for url in running.databases.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        await admin.close()


# -- driving the backend as a training officer and a state system would -------------------------------

TENANT = "IN-HR"
STATE = f"/v1/states/{TENANT}"


class Training:
    """A training officer's and a state system's actions, through the services' real APIs and topics."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.run = uuid.uuid4().hex[:6]

    async def call(self, service: str, method: str, path: str, expect: int | tuple[int, ...] = (200, 201, 202),
                   **kwargs) -> httpx.Response:
        async with self.system.client(service) as client:
            response = await client.request(method, path, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, f"{method} {path}: {response.status_code} {response.text[:800]}"
        return response

    async def centre(self, tier: str, hub_id: str | None = None, district: str = "Rohtak") -> dict:
        body = {"name": f"{'HIPA' if tier == 'hub' else 'DTC'} {district} {self.run}", "tier": tier, "district": district}
        if hub_id:
            body["hub_id"] = hub_id
        return (await self.call("enrolment", "POST", f"{STATE}/centres", json=body)).json()

    async def course(self, *, trains_trainers: bool = False, family: str = "ethics-in-governance") -> dict:
        return (await self.call("enrolment", "POST", f"{STATE}/courses", json={
            "title": f"Ethics in Governance {self.run}", "family": family, "trains_trainers": trains_trainers,
            "competencies": [{"name": "Integrity", "kind": "behavioural"}],
            "completion_rule": {"minimum_attendance_percent": 75, "mandatory_session_ids": []},
        })).json()

    async def batch(self, course: dict, centre: dict, trainers: list[str] = (), expect=201) -> httpx.Response:
        today = calendar.today().isoformat()  # the state's day: one dated by UTC's may have started already
        return await self.call("enrolment", "POST", f"{STATE}/batches", expect=expect, json={
            "course_id": course["id"], "centre_id": centre["id"], "start_date": today, "end_date": today,
            "capacity": 40, "mode": "classroom", "sessions_planned": 6, "trainers": list(trainers)})

    async def employee(self, name: str, language: str = "hi", email: bool = True) -> str:
        employee_id = f"HR-{self.run}-{uuid.uuid4().hex[:6]}"
        await self.call("enrolment", "PUT", f"{STATE}/employees/{employee_id}", json={
            "name": name, "email": f"{employee_id.lower()}@hry.example.in" if email else None,
            "mobile": "+919812345678", "preferred_language": language, "department": "Revenue",
            "designation": "Patwari", "district": "Rohtak"})
        return employee_id

    async def enrol(self, employee_id: str, batch_id: str) -> dict:
        return (await self.call("enrolment", "POST", f"{STATE}/enrolments",
                                json={"employee_id": employee_id, "batch_id": batch_id})).json()

    async def sessions(self, batch_id: str, roster: int = 1, timeout: float = 60) -> list[dict]:
        """Six one-minute sessions earlier today, once attendance has the batch's roster."""
        await self.roster(batch_id, roster, timeout)
        return (await self.call("attendance", "POST", f"{STATE}/batches/{batch_id}/sessions", json={"sessions": [
            {"starts_at": starts.isoformat(), "duration_minutes": 1, "mode": "classroom"}
            for starts in calendar.earlier_today(6)]})).json()

    async def roster(self, batch_id: str, size: int = 1, timeout: float = 60) -> list[dict]:
        """The batch's progress rows once attendance knows at least `size` of its enrolments."""
        async def known() -> list[dict] | None:
            async with self.system.client("attendance") as client:
                response = await client.get(f"{STATE}/batches/{batch_id}/progress")
            return response.json() if response.status_code == 200 and len(response.json()) >= size else None

        return await self.eventually(known, timeout)

    async def attend(self, session: dict, employee_ids: list[str]) -> dict:
        return (await self.call("attendance", "POST", f"{STATE}/sessions/{session['id']}/attendance", json={
            "marked_by": "trainer", "attendees": [{"employee_id": e} for e in employee_ids]})).json()

    async def certificate(self, certificate_id: str, timeout: float = 60) -> dict:
        async def found() -> dict | None:
            async with self.system.client("certification") as client:
                response = await client.get(f"/v1/certificates/{certificate_id}")
            return response.json() if response.status_code == 200 else None

        return await self.eventually(found, timeout)

    def mails_to(self, address: str) -> dict[str, email.message.EmailMessage]:
        """The e-mails on disk addressed to `address`, one per Message-ID."""
        found = {}
        for path in sorted(self.system.mail_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if address in str(message.get("To", "")):
                found[str(message["Message-ID"])] = message
        return found

    async def mails(self, address: str, count: int, timeout: float = 60) -> dict:
        async def enough():
            mails = self.mails_to(address)
            return mails if len(mails) >= count else None

        return await self.eventually(enough, timeout)

    @staticmethod
    async def eventually(probe, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            result = await probe()
            if result:
                return result
            assert time.monotonic() < deadline, f"gave up waiting after {timeout}s"
            await asyncio.sleep(0.3)


@pytest.fixture
def training(system: System) -> Training:
    return Training(system)


async def publish(bootstrap: str, prefix: str, records) -> None:
    """Publish records as a state system would: straight to the (prefixed) topics, acknowledged."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sends = [await producer.send(prefix + r.topic, r.value, key=r.key, headers=list(r.headers)) for r in records]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Poison:
    """A contract's invalid test vector, sent as a careless publisher would, and the rejection it must earn."""

    record: KafkaRecord
    reason: str
    message: str


def invalid_records(folder: Path) -> list[Poison]:
    """The contract's invalid test vectors of one topic, each under its own key `<tenant>:bad-<file name>`."""
    poison = []
    for path in sorted(folder.glob("*.json")):
        example = load_example(path)
        record = KafkaRecord(example.topic, f"{TENANT}:bad-{path.stem}".encode(), tuple(example.headers), example.value)
        poison.append(Poison(record, example.expect["reason"], example.expect["message"]))
    return poison


def service_definition(system: System, service: str) -> ServiceDefinition:
    """The service assembled as its process assembles it: `<service>.main.definition` over the settings its
    environment gives, with a data folder of its own (certification makes a signing key there, and the
    running process keeps its own). Nothing connects."""
    module = importlib.import_module(f"{service}.main")
    data = system.data_dir / "definitions"
    data.mkdir(exist_ok=True)
    with mock.patch.dict(os.environ, {**system.env(service), "LOCAL_DATA_DIR": str(data)}, clear=True):
        return module.definition()


def consumer_groups(system: System) -> dict[str, tuple[str, ...]]:
    """Every consumer group of the four services and the topics it reads, from the services' own definitions
    (as `karmayogi-<service> kafka-access` and the manifest tests read them), so a renamed or added group is
    checked under the name it really runs with."""
    return {subscription.group: subscription.topics
            for service in SERVICES for subscription in service_definition(system, service).subscriptions}


async def consumer_lag(system: System, groups: dict[str, tuple[str, ...]]) -> tuple[int, list[str]]:
    """How far every consumer group is behind the end of the topics it reads, and which groups have never
    committed an offset although their topics hold records (a group running under another name than the
    services' subscriptions say would otherwise look like one with nothing to read; a group whose topics
    stayed empty, such as one reading only certificate.revoked here, has nothing to commit). A partition
    a group never committed counts from the start of its log."""
    admin = AIOKafkaAdminClient(bootstrap_servers=system.kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=system.kafka_bootstrap)
    await admin.start()
    await consumer.start()
    try:
        lag, never_committed = 0, []
        for group, topics in sorted(groups.items()):
            committed = await admin.list_consumer_group_offsets(system.prefix + group)
            partitions = await topics_admin.partitions(system.kafka_bootstrap, [system.prefix + t for t in topics])
            end = await consumer.end_offsets(partitions)
            start = await consumer.beginning_offsets(partitions)
            if not committed and any(end[tp] > start[tp] for tp in partitions):
                never_committed.append(group)
            lag += sum(end[tp] - (committed[tp].offset if tp in committed else start[tp]) for tp in partitions)
        return lag, never_committed
    finally:
        await consumer.stop()
        await admin.close()
