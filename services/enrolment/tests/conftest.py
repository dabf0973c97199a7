"""Fixtures of the enrolment tests: the service running in-process on the real Kafka and PostgreSQL,
with helpers that act as a training officer (HTTP) and as the certification service (Kafka)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from karmayogi_contracts import CertificateIssued, CertificateRevoked, CloudEvent, decode, encode, ids, new_event
from karmayogi_runtime.dead_letter_topics import read_records
from karmayogi_runtime.service import ServiceRuntime
from karmayogi_runtime.testing import TEST_API_KEYS, service_client

from enrolment.main import MIGRATIONS_DIR, definition
from enrolment.settings import EnrolmentSettings

TENANT = "IN-HR"
SOON = date.today() + timedelta(days=30)


@dataclass
class Enrolment:
    runtime: ServiceRuntime
    http: httpx.AsyncClient
    database_url: str
    bootstrap: str
    prefix: str

    tenant: str = TENANT

    def certificate(self, employee_id: str, family: str, *, trains_trainers: bool = True,
                    enrolment_id: str | uuid.UUID | None = None) -> CloudEvent:
        return master_trainer_certificate(employee_id, family, trains_trainers=trains_trainers, enrolment_id=enrolment_id)

    def revocation(self, certificate: CloudEvent) -> CloudEvent:
        return revocation(certificate)

    def path(self, rest: str) -> str:
        return f"/v1/states/{TENANT}/{rest}"

    async def post(self, rest: str, body: Any, expect: int = 201) -> dict:
        response = await self.http.post(self.path(rest), json=body)
        assert response.status_code == expect, response.text
        return response.json()

    async def course(self, *, family: str = "ethics-in-governance", trains_trainers: bool = False) -> dict:
        return await self.post("courses", {
            "title": "Ethics and Integrity in Governance", "family": family, "trains_trainers": trains_trainers,
            "competencies": [{"name": "Ethics and integrity", "kind": "behavioural"}],
            "completion_rule": {"minimum_attendance_percent": 75},
        })

    async def hub(self) -> dict:
        return await self.post("centres", {"name": "HIPA Gurugram", "tier": "hub", "district": "Gurugram"})

    async def spoke(self, hub: dict) -> dict:
        return await self.post("centres", {"name": "DTC Rohtak", "tier": "spoke", "district": "Rohtak", "hub_id": hub["id"]})

    def batch_body(self, course: dict, centre: dict, **overrides: Any) -> dict:
        return {"course_id": course["id"], "centre_id": centre["id"], "start_date": SOON.isoformat(),
                "end_date": (SOON + timedelta(days=5)).isoformat(), "capacity": 40, "mode": "classroom",
                "sessions_planned": 6, **overrides}

    async def batch(self, course: dict, centre: dict, **overrides: Any) -> dict:
        return await self.post("batches", self.batch_body(course, centre, **overrides))

    async def employee(self, employee_id: str | None = None, name: str = "सुनीता देवी") -> str:
        employee_id = employee_id or f"HR{uuid.uuid4().hex[:10]}"
        response = await self.http.put(self.path(f"employees/{employee_id}"), json={
            "name": name, "email": "sunita.devi@hry.gov.in", "mobile": "+919812345678", "preferred_language": "hi",
            "department": "Revenue and Disaster Management", "designation": "Naib Tehsildar", "district": "Rohtak"})
        assert response.status_code in (200, 201), response.text
        return employee_id

    async def handled(self, event: CloudEvent, timeout: float = 30) -> None:
        """Wait until the service's consumer has applied `event` (its id is in the inbox)."""
        deadline = time.monotonic() + timeout
        while not await self.sql("SELECT count(*) FROM inbox WHERE message_id = $1", str(event.id)):
            assert time.monotonic() < deadline, f"{event.type} {event.id} was not handled"
            await asyncio.sleep(0.1)

    async def sql(self, query: str, *args: Any) -> Any:
        async with self.runtime.pool.acquire() as connection:
            return await connection.fetchval(query, *args)

    async def drained(self, timeout: float = 60) -> None:
        """Wait until the relay has published every outbox row."""
        deadline = time.monotonic() + timeout
        while await self.sql("SELECT count(*) FROM outbox WHERE sent_at IS NULL") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await self.sql("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0

    async def published(self, topic: str) -> list[tuple[Any, CloudEvent]]:
        """(record, decoded event) for every record on the prefixed topic, once the outbox is drained."""
        await self.drained()
        records = await read_records(self.bootstrap, [self.prefix + topic])
        return [(r.record, decode(r.record.value, r.record.headers)) for r in records]

    async def publish(self, *events: CloudEvent) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for event in events:
                record = encode(event)
                await producer.send_and_wait(self.prefix + record.topic, record.value, key=record.key,
                                             headers=list(record.headers))
        finally:
            await producer.stop()


def master_trainer_certificate(employee_id: str, family: str, *, trains_trainers: bool = True,
                               enrolment_id: str | uuid.UUID | None = None) -> CloudEvent:
    """A certificate of an enrolment in another batch (one this service never saw), or of `enrolment_id`."""
    enrolment_id = uuid.UUID(str(enrolment_id)) if enrolment_id else ids.enrolment_id(TENANT, employee_id, uuid.uuid4())
    certificate_id = ids.certificate_id(TENANT, enrolment_id)
    data = CertificateIssued(
        tenant=TENANT, certificate_id=certificate_id, enrolment_id=enrolment_id, employee_id=employee_id,
        course_id=uuid.uuid4(), course_title="Ethics in Governance: Master Trainer Programme", course_family=family,
        trains_trainers=trains_trainers, issued_at=datetime.now(timezone.utc),
        verify_url=f"https://certificates.hry.gov.in/verify/{certificate_id}",
    )
    return new_event(data, source="/services/certification", id=certificate_id)


def revocation(certificate: CloudEvent) -> CloudEvent:
    """The certification service's `certificate.revoked` for `certificate`, an hour after its issue: the same
    each time it is made, as the repeats of one event are."""
    issued: CertificateIssued = certificate.data
    data = CertificateRevoked(
        tenant=TENANT, certificate_id=issued.certificate_id, enrolment_id=issued.enrolment_id,
        employee_id=issued.employee_id, course_id=issued.course_id, revoked_at=issued.issued_at + timedelta(hours=1),
        reason="Issued on forged attendance records.",
    )
    return new_event(data, source="/services/certification", id=uuid.uuid5(issued.certificate_id, "revoked"))


@pytest.fixture
async def enrolment(kafka_bootstrap: str, database_factory, topic_prefix: str) -> AsyncIterator[Enrolment]:
    url = await database_factory(MIGRATIONS_DIR)
    settings = EnrolmentSettings(database_url=url, kafka_bootstrap_servers=kafka_bootstrap,
                                 kafka_topic_prefix=topic_prefix, api_keys=TEST_API_KEYS)
    async with service_client(definition(settings)) as (runtime, client):
        yield Enrolment(runtime, client, url, kafka_bootstrap, topic_prefix)
