"""Helpers of the attendance tests (imported as `attendance_samples`, a name unique in the repository):
events as the enrolment service and the state systems publish them, and a handle on the running service
that acts as a trainer (HTTP) and reads what the service published."""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock_time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from karmayogi_contracts import (
    CloudEvent, EmployeeEnrolled, EmployeeUpdated, EnrolmentWithdrawn, SessionAttended, decode, encode, ids,
    new_event,
)
from karmayogi_runtime import topics as topics_admin
from karmayogi_runtime.dead_letter_topics import read_records
from karmayogi_runtime.service import ServiceRuntime


TENANT = "IN-HR"
IST = ZoneInfo("Asia/Kolkata")
ENROLLED_AT = datetime(2025, 1, 1, tzinfo=timezone.utc)
TODAY = datetime.now(IST).date()
BATCH_START = TODAY - timedelta(days=10)
BATCH_END = TODAY + timedelta(days=5)


def session_start(day: int) -> datetime:
    """10:00 IST on the batch's `day`-th day (1-based), in the past for days 1-10."""
    return datetime.combine(BATCH_START + timedelta(days=day - 1), clock_time(10), IST)


@dataclass(frozen=True)
class BatchPlan:
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    centre_id: uuid.UUID = field(default_factory=uuid.uuid4)
    centre_name: str = "District Training Centre, Rohtak"
    district: str = "Rohtak"
    sessions_planned: int = 6
    minimum_percent: int = 75
    mandatory: tuple[uuid.UUID, ...] = ()
    start: date = BATCH_START
    end: date = BATCH_END

    def session_ids(self) -> list[uuid.UUID]:
        return [uuid.uuid5(self.id, f"session-{n}") for n in range(1, self.sessions_planned + 1)]


def employee_id(label: str = "HR") -> str:
    return f"{label}{uuid.uuid4().hex[:10]}"


def profile(employee: str, name: str = "सुनीता देवी", **changes: str) -> dict:
    """The employee's directory entry as the enrolment service sends it."""
    return {"id": employee, "name": name, "email": "sunita.devi@hry.gov.in", "mobile": "+919812345678",
            "preferred_language": "hi", "department": "Revenue and Disaster Management",
            "designation": "Naib Tehsildar", "district": "Rohtak", **changes}


def enrolled(employee: str, batch: BatchPlan, *, name: str = "सुनीता देवी", tenant: str = TENANT,
             enrolled_at: datetime = ENROLLED_AT) -> CloudEvent:
    data = EmployeeEnrolled.model_validate({
        "tenant": tenant, "enrolment_id": str(ids.enrolment_id(tenant, employee, batch.id)),
        "employee": profile(employee, name),
        "course": {"id": "6c0f6c52-8f5e-4d0a-9d55-2a1d1f7c0b11", "title": "Ethics and Integrity in Governance",
                   "competencies": [{"name": "Ethics and integrity", "kind": "behavioural"}],
                   "trains_trainers": False, "family": "ethics-in-governance"},
        "batch": {"id": str(batch.id),
                  "centre": {"id": str(batch.centre_id), "name": batch.centre_name, "tier": "spoke",
                             "district": batch.district},
                  "start_date": batch.start.isoformat(), "end_date": batch.end.isoformat(), "mode": "classroom",
                  "sessions_planned": batch.sessions_planned},
        "completion_rule": {"minimum_attendance_percent": batch.minimum_percent,
                            "mandatory_session_ids": [str(s) for s in batch.mandatory]},
        "enrolled_at": enrolled_at.isoformat(), "channel": "api",
    })
    return new_event(data, source="/services/enrolment", id=data.enrolment_id)


def updated(employee: str, name: str, updated_at: datetime, *, tenant: str = TENANT, **changes: str) -> CloudEvent:
    """A change to the employee's directory entry (a random event id)."""
    data = EmployeeUpdated.model_validate({"tenant": tenant, "employee": profile(employee, name, **changes),
                                           "updated_at": updated_at.isoformat()})
    return new_event(data, source="/services/enrolment")


def withdrawn(employee: str, batch: BatchPlan, tenant: str = TENANT) -> CloudEvent:
    data = EnrolmentWithdrawn(tenant=tenant, enrolment_id=ids.enrolment_id(tenant, employee, batch.id),
                              employee_id=employee, batch_id=batch.id, withdrawn_at=datetime.now(timezone.utc),
                              reason="Transferred to another district.")
    return new_event(data, source="/services/enrolment")


def attended(employee: str, batch: BatchPlan, session: int, *, minutes: int = 90, marked_by: str = "biometric",
             starts_at: datetime | None = None, event_id: uuid.UUID | None = None, tenant: str = TENANT,
             marked_at: datetime | None = None, session_id: uuid.UUID | None = None,
             duration: int = 90) -> CloudEvent:
    """As a state system reports it (sessions of its own, numbered 1..n, unless `session_id` names one the
    service scheduled; a random event id unless given)."""
    session_id = session_id or batch.session_ids()[session - 1]
    starts_at = starts_at or session_start(session)
    data = SessionAttended.model_validate({
        "tenant": tenant, "attendance_id": str(ids.attendance_id(tenant, employee, session_id)),
        "employee_id": employee, "batch_id": str(batch.id),
        "session": {"id": str(session_id), "starts_at": starts_at.isoformat(), "duration_minutes": duration,
                    "mode": "classroom"},
        "minutes_attended": minutes, "marked_by": marked_by,
        "marked_at": (marked_at or starts_at + timedelta(hours=2)).isoformat(),
    })
    return new_event(data, source=f"/states/{tenant}/{marked_by}", id=event_id)


@dataclass
class Attendance:
    runtime: ServiceRuntime
    http: httpx.AsyncClient
    database_url: str
    bootstrap: str
    prefix: str

    def path(self, rest: str, tenant: str = TENANT) -> str:
        return f"/v1/states/{tenant}/{rest}"

    async def publish(self, *events: CloudEvent) -> None:
        """As the enrolment service or a state system: straight to the prefixed topics, acknowledged."""
        await publish(self.bootstrap, self.prefix, events)

    async def sql(self, query: str, *args: Any) -> Any:
        async with self.runtime.pool.acquire() as connection:
            return await connection.fetchval(query, *args)

    async def wait_for(self, query: str, expected: Any, *args: Any, timeout: float = 30) -> Any:
        """Poll `query` until it returns `expected`; returns the last value (the caller asserts on it)."""
        deadline, value = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            value = await self.sql(query, *args)
            if value == expected:
                break
            await asyncio.sleep(0.1)
        return value

    async def drained(self, timeout: float = 30) -> None:
        assert await self.wait_for("SELECT count(*) FROM outbox WHERE sent_at IS NULL", 0, timeout=timeout) == 0

    async def published(self, topic: str) -> list[tuple[Any, CloudEvent]]:
        """(record, decoded event) for every record on the prefixed topic, once the outbox is drained."""
        await self.drained()
        records = await read_records(self.bootstrap, [self.prefix + topic])
        return [(r.record, decode(r.record.value, r.record.headers)) for r in records]

    async def schedule(self, batch: BatchPlan, days: list[int] | None = None, tenant: str = TENANT,
                       mandatory: tuple[int, ...] = ()) -> list[dict]:
        """Sessions at 10:00 on these days (every planned one by default); those on `mandatory` days flagged."""
        body = {"sessions": [{"starts_at": session_start(d).isoformat(), "duration_minutes": 90, "mode": "classroom",
                              "mandatory": d in mandatory}
                             for d in days or range(1, batch.sessions_planned + 1)]}
        response = await self.http.post(self.path(f"batches/{batch.id}/sessions", tenant), json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def attendance_count(self, enrolment_id: uuid.UUID) -> int:
        return await self.sql("SELECT count(*) FROM attendance WHERE enrolment_id = $1", enrolment_id)


async def publish(bootstrap: str, prefix: str, events) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sends = []
        for event in events:
            record = encode(event)
            sends.append(await producer.send(prefix + record.topic, record.value, key=record.key,
                                             headers=list(record.headers)))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


GROUP_TOPICS = (("attendance.roster", ("employee.enrolled", "enrolment.withdrawn", "employee.updated")),
                ("attendance.marks", ("session.attended",)))


async def rewind_consumer_groups(bootstrap: str, prefix: str) -> None:
    """Commit offset 0 for the service's groups: as if it had crashed after its effects but before every
    offset commit, so the next run receives every event again."""
    for group, names in GROUP_TOPICS:
        partitions = await topics_admin.partitions(bootstrap, [prefix + n for n in names])
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=prefix + group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.commit({tp: 0 for tp in partitions})
        finally:
            await consumer.stop()


