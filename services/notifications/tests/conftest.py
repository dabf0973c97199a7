"""Fixtures of the notifications tests: the local mail/SMS servers as a real subprocess on free ports,
the service in-process (or as a killable subprocess) on real Kafka and PostgreSQL, and event builders
made from the contract test vectors."""

import asyncio
import contextlib
import email
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from karmayogi_contracts import (
    CertificateIssued, CertificateRevoked, CloudEvent, CourseCompleted, EmployeeEnrolled, EmployeeUpdated, encode,
    encode_structured, new_event,
)
from karmayogi_runtime.service import ServiceRuntime, running
from karmayogi_runtime.testing import TEST_API_KEYS, free_port, service_client

from notifications.main import MIGRATIONS_DIR, definition
from notifications.settings import NotificationsSettings

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


async def eventually(check, timeout: float = 60, interval: float = 0.2):
    """Poll `check()` (sync or async) until it returns something truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


# ---------------------------------------------------------------- local mail and SMS servers

@dataclass
class LocalMail:
    data_dir: Path
    smtp_port: int = field(default_factory=free_port)
    sms_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    async def start(self) -> None:
        env = {**os.environ, "SMTP_PORT": str(self.smtp_port), "SMS_HTTP_PORT": str(self.sms_port),
               "LOCAL_DATA_DIR": str(self.data_dir)}
        self.process = subprocess.Popen([sys.executable, "-m", "notifications.local_servers"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert await eventually(lambda: port_open(self.smtp_port) and port_open(self.sms_port), timeout=20)

    def kill(self) -> None:
        """The relay going down hard: no goodbye to connected clients."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def mails(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(p.read_bytes(), policy=default_policy)
                for p in sorted((self.data_dir / "mail").glob("*.eml"))]

    def mail_count_by_message_id(self) -> Counter:
        return Counter(str(m["Message-ID"]) for m in self.mails())

    def sms(self) -> list[dict[str, Any]]:
        path = self.data_dir / "sms" / "messages.ndjson"
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()] if path.exists() else []


@pytest.fixture
async def local_mail(tmp_path: Path) -> AsyncIterator[LocalMail]:
    servers = LocalMail(tmp_path / "local")
    await servers.start()
    yield servers
    servers.kill()


# ---------------------------------------------------------------- the service

@dataclass
class Notifications:
    settings: NotificationsSettings
    database_url: str
    bootstrap: str
    prefix: str

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        async with running(definition(self.settings)) as runtime:
            yield runtime

    async def publish(self, events: list[CloudEvent], *, structured: bool = False) -> None:
        """In binary mode, as our services publish; or structured, as an external system may."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for event in events:
                record = (encode_structured if structured else encode)(event)
                await producer.send_and_wait(self.prefix + record.topic, record.value, key=record.key,
                                             headers=list(record.headers))
        finally:
            await producer.stop()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        connection = await asyncpg.connect(self.database_url)
        try:
            return await connection.fetchval(sql, *args)
        finally:
            await connection.close()

    async def wait_for(self, sql: str, expected: Any, *args: Any, timeout: float = 60) -> Any:
        async def check():
            try:
                value = await self.fetchval(sql, *args)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                return None
            check.last = value
            return value == expected

        check.last = None
        await eventually(check, timeout)
        return check.last

    def subprocess_env(self, http_port: int) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "KAFKA_TOPIC_PREFIX": self.prefix, "HTTP_PORT": str(http_port), "SMTP_HOST": "127.0.0.1",
                "API_KEYS": s.api_keys.get_secret_value(),
                "SMTP_PORT": str(s.smtp_port), "SMS_GATEWAY_URL": s.sms_gateway_url,
                "NOTIFICATIONS_EMAIL_PER_SECOND": str(s.email_per_second),
                "NOTIFICATIONS_SENDER_WORKERS": str(s.sender_workers),
                "NOTIFICATIONS_SENDING_LEASE_SECONDS": str(s.sending_lease_seconds),
                "NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": str(s.smtp_timeout_seconds),
                "NOTIFICATIONS_SMS_TIMEOUT_SECONDS": str(s.sms_timeout_seconds),
                "NOTIFICATIONS_RETRY_BASE_SECONDS": str(s.retry_base_seconds),
                "NOTIFICATIONS_RETRY_MAX_SECONDS": str(s.retry_max_seconds),
                "NOTIFICATIONS_SENDER_IDLE_SECONDS": str(s.sender_idle_seconds)}


@pytest.fixture
async def notifications(kafka_bootstrap: str, database_factory, topic_prefix: str,
                        local_mail: LocalMail) -> Notifications:
    url = await database_factory(MIGRATIONS_DIR)
    settings = NotificationsSettings(
        database_url=url, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=topic_prefix,
        smtp_host="127.0.0.1", smtp_port=local_mail.smtp_port,
        sms_gateway_url=f"http://127.0.0.1:{local_mail.sms_port}", local_data_dir=str(local_mail.data_dir),
        retry_base_seconds=0.2, retry_max_seconds=1.0, sender_idle_seconds=0.1, email_per_second=1000,
        sms_per_second=1000,
        # A short lease, so a crash's rows come back within a test: it must outlast one send (12 SMTP waits,
        # 6 HTTP waits), and the loopback servers answer in milliseconds.
        sending_lease_seconds=6.0, smtp_timeout_seconds=0.5, sms_timeout_seconds=1.0, api_keys=TEST_API_KEYS,
    )
    return Notifications(settings, url, kafka_bootstrap, topic_prefix)


@pytest.fixture
async def api(notifications: Notifications) -> AsyncIterator[httpx.AsyncClient]:
    """The service running, and an HTTP client bound to its API (which fails a test on an answer the
    OpenAPI document does not declare)."""
    async with service_client(definition(notifications.settings)) as (_, client):
        yield client


# ---------------------------------------------------------------- events, from the contract vectors

def _vector(topic: str, name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / topic / "valid" / f"{name}.json").read_text("utf-8"))["data"]


@dataclass(frozen=True)
class Employee:
    tenant: str
    id: str
    name: str
    language: str
    email: str | None
    mobile: str | None

    @property
    def key(self) -> str:
        return f"{self.tenant}:{self.id}"


def employee(language: str = "hi", *, email: bool = True, mobile: bool = True, tenant: str = "IN-HR") -> Employee:
    suffix = uuid.uuid4().hex[:8].upper()
    name = "सुनीता देवी" if language == "hi" else "Rakesh Kumar Singh"
    return Employee(tenant, f"E{suffix}", name, language, f"e{suffix.lower()}@hry.gov.in" if email else None,
                    "+9198" + str(uuid.uuid4().int)[:8] if mobile else None)


def enrolled(who: Employee, enrolled_at: str = "2025-03-01T09:30:00Z") -> CloudEvent:
    data = _vector("employee.enrolled", "haryana-hub-master-trainer-hindi-name")
    data.update(tenant=who.tenant, enrolment_id=str(uuid.uuid4()), enrolled_at=enrolled_at)
    data["employee"].update(id=who.id, name=who.name, email=who.email, mobile=who.mobile,
                            preferred_language=who.language)
    return new_event(EmployeeEnrolled.model_validate(data), source="/tests/notifications")


def updated(who: Employee, updated_at: str = "2025-04-02T06:45:12Z") -> CloudEvent:
    """`who`'s directory entry (name, addresses, language) as of `updated_at`: after `enrolled`'s default time."""
    data = _vector("employee.updated", "haryana-promotion-and-transfer-hindi-name")
    data.update(tenant=who.tenant, updated_at=updated_at)
    data["employee"].update(id=who.id, name=who.name, email=who.email, mobile=who.mobile,
                            preferred_language=who.language)
    return new_event(EmployeeUpdated.model_validate(data), source="/tests/notifications")


def completed(who: Employee) -> CloudEvent:
    data = _vector("course.completed", "haryana-hub-by-attendance")
    data.update(tenant=who.tenant, completion_id=str(uuid.uuid4()), enrolment_id=str(uuid.uuid4()))
    data["employee"].update(id=who.id, name=who.name)
    return new_event(CourseCompleted.model_validate(data), source="/tests/notifications")


def issued(who: Employee) -> CloudEvent:
    data = _vector("certificate.issued", "haryana-master-trainer")
    certificate = str(uuid.uuid4())
    data.update(tenant=who.tenant, employee_id=who.id, certificate_id=certificate, enrolment_id=str(uuid.uuid4()),
                verify_url=f"https://certificates.hry.gov.in/verify/{certificate}")
    return new_event(CertificateIssued.model_validate(data), source="/tests/notifications")


def revoked(who: Employee, certificate: CloudEvent) -> CloudEvent:
    data = _vector("certificate.revoked", "bihar-after-igot-audit")
    data.update(tenant=who.tenant, employee_id=who.id, certificate_id=str(certificate.data.certificate_id),
                enrolment_id=str(certificate.data.enrolment_id))
    return new_event(CertificateRevoked.model_validate(data), source="/tests/notifications")


def repeated(event: CloudEvent) -> CloudEvent:
    """The same fact reported again under a new event id, as a retried export does."""
    return new_event(event.data, source="/tests/notifications/retried-export")


def life_of(who: Employee) -> list[CloudEvent]:
    """Enrolment, completion, certificate and its revocation: four events, four messages per channel."""
    certificate = issued(who)
    return [enrolled(who), completed(who), certificate, revoked(who, certificate)]


@pytest.fixture
def events():
    """The builders, for tests: `events.employee(...)`, `events.life_of(who)` ..."""
    import types

    return types.SimpleNamespace(employee=employee, enrolled=enrolled, updated=updated, completed=completed,
                                 issued=issued, revoked=revoked, repeated=repeated, life_of=life_of)


@pytest.fixture
def helpers():
    """`helpers.eventually(check, timeout)` and `helpers.free_port()` for the tests."""
    import types

    return types.SimpleNamespace(eventually=eventually, free_port=free_port)
