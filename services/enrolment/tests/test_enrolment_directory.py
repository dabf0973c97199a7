"""The employee directory and `employee.updated`, through the HTTP API on the real stack: a change of an
existing entry is published with the whole entry, later than the enrolments that carried the old one."""

import asyncio
import time
import uuid
from datetime import datetime, timezone

import pytest
from karmayogi_contracts import EmployeeUpdated

from enrolment import handlers

TENANT = "IN-HR"
ENTRY = {"name": "सुनीता देवी", "email": "sunita.devi@hry.gov.in", "mobile": "+919812345678",
         "preferred_language": "hi", "department": "Revenue and Disaster Management", "designation": "Naib Tehsildar",
         "district": "Rohtak"}
NEW_EMAIL = "sunita.devi@haryana.gov.in"
HEADER = "employee_id,name,email,mobile,preferred_language,department,designation,district,batch_id"
pytestmark = pytest.mark.integration


def new_employee_id() -> str:
    return f"HR{uuid.uuid4().hex[:10]}"


async def put_entry(enrolment, employee_id: str, expect: int, **changes: str) -> dict:
    response = await enrolment.http.put(enrolment.path(f"employees/{employee_id}"), json={**ENTRY, **changes},
                                        headers={"x-correlation-id": f"hrms-sync-{employee_id}"})
    assert response.status_code == expect, response.text
    return response.json()


async def read_entry(enrolment, employee_id: str) -> dict:
    response = await enrolment.http.get(enrolment.path(f"employees/{employee_id}"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_adding_an_employee_to_the_directory_publishes_nothing(enrolment):
    employee = new_employee_id()

    await put_entry(enrolment, employee, expect=201)

    assert await enrolment.published("employee.updated") == []


async def test_a_changed_e_mail_is_published_with_the_whole_entry_later_than_the_enrolment_made_before(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub)
    employee = new_employee_id()
    await put_entry(enrolment, employee, expect=201)
    await enrolment.post("enrolments", {"employee_id": employee, "batch_id": batch["id"]})

    changed = await put_entry(enrolment, employee, expect=200, email=NEW_EMAIL)

    assert changed["email"] == NEW_EMAIL
    [(_, enrolled)] = await enrolment.published("employee.enrolled")
    [(record, event)] = await enrolment.published("employee.updated")
    assert record.key == f"{TENANT}:{employee}".encode()
    headers = dict(record.headers)
    assert headers["ce_type"] == b"karmayogi.employee.updated.v1"
    assert headers["ce_source"] == b"/services/enrolment"
    assert headers["ce_subject"] == employee.encode()
    assert headers["ce_correlationid"] == f"hrms-sync-{employee}".encode()
    assert isinstance(event.data, EmployeeUpdated)
    assert event.data.employee.model_dump() == {"id": employee, **ENTRY, "email": NEW_EMAIL}
    assert event.data.updated_at == datetime.fromisoformat(changed["updated_at"])
    assert event.data.updated_at > enrolled.data.enrolled_at
    assert enrolled.data.employee.email == "sunita.devi@hry.gov.in"


async def test_an_entry_sent_as_it_is_changes_nothing_and_publishes_nothing(enrolment):
    employee = new_employee_id()
    added = await put_entry(enrolment, employee, expect=201)

    again = await put_entry(enrolment, employee, expect=200)

    assert again == added
    assert (await read_entry(enrolment, employee))["updated_at"] == added["updated_at"]
    assert await enrolment.published("employee.updated") == []


async def test_a_bulk_file_publishes_a_change_for_each_existing_employee_it_changed_and_none_for_new_ones(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = (await enrolment.batch(course, hub))["id"]
    moved, same, new = new_employee_id(), new_employee_id(), new_employee_id()
    await put_entry(enrolment, moved, expect=201)
    await put_entry(enrolment, same, expect=201)
    lines = [HEADER] + [",".join([employee, *{**ENTRY, **changes}.values(), batch]) for employee, changes in (
        (moved, {"mobile": "+919812300000"}), (same, {}), (new, {"name": "Rajesh Kumar"}))]

    response = await enrolment.http.post(enrolment.path("bulk-enrolments"), content="\n".join(lines).encode(),
                                         headers={"content-type": "text/csv"})

    assert response.status_code == 201, response.text
    assert response.json()["accepted"] == 3
    [(_, event)] = await enrolment.published("employee.updated")
    assert event.data.employee.model_dump() == {"id": moved, **ENTRY, "mobile": "+919812300000"}
    assert event.data.updated_at == datetime.fromisoformat((await read_entry(enrolment, moved))["updated_at"])
    assert event.correlation_id == response.json()["id"]
    assert len(await enrolment.published("employee.enrolled")) == 3


async def test_a_change_waits_for_an_enrolment_that_read_the_entry_and_is_later_than_its_commit(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub)
    employee = new_employee_id()
    await put_entry(enrolment, employee, expect=201)

    async def enrol(connection, clock):
        await handlers.enrol_one(connection, TENANT, employee, uuid.UUID(batch["id"]), "api", clock)

    changed, committed_at = await change_while_open(enrolment, employee, enrol)

    [(_, enrolled)] = await enrolment.published("employee.enrolled")
    [(_, updated)] = await enrolment.published("employee.updated")
    assert enrolled.data.employee.email == ENTRY["email"]
    assert updated.data.employee.email == changed["email"] == NEW_EMAIL
    assert updated.data.updated_at > committed_at > enrolled.data.enrolled_at


async def test_a_change_waits_for_a_promotion_from_the_waitlist_that_read_the_entry(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub, capacity=1)
    first, waiting = new_employee_id(), new_employee_id()
    for employee in (first, waiting):
        await put_entry(enrolment, employee, expect=201)
    seat = await enrolment.post("enrolments", {"employee_id": first, "batch_id": batch["id"]})
    await enrolment.post("enrolments", {"employee_id": waiting, "batch_id": batch["id"]})

    async def withdraw_first(connection, clock):
        await handlers.withdraw(connection, TENANT, uuid.UUID(seat["id"]), "Transferred to Hisar.", clock)

    await change_while_open(enrolment, waiting, withdraw_first)

    promoted = [e for _, e in await enrolment.published("employee.enrolled") if e.data.employee.id == waiting]
    [(_, updated)] = await enrolment.published("employee.updated")
    assert [e.data.employee.email for e in promoted] == [ENTRY["email"]]
    assert updated.data.employee.email == NEW_EMAIL
    assert updated.data.updated_at > promoted[0].data.enrolled_at


async def change_while_open(enrolment, employee: str, use_case) -> tuple[dict, datetime]:
    """Change `employee`'s e-mail while the transaction of `use_case(connection, clock)` is still open; returns
    the change's answer and the database's time just before that transaction committed. The change has
    to wait for it; the directory is read meanwhile, without a lock."""
    zone = enrolment.runtime.definition.settings.zone()
    async with enrolment.runtime.pool.acquire() as connection, connection.transaction():
        await use_case(connection, handlers.Clock.at(datetime.now(timezone.utc), zone))
        change = asyncio.create_task(put_entry(enrolment, employee, expect=200, email=NEW_EMAIL))
        await waiting_for(enrolment, connection.get_server_pid())
        # Reading the directory does not wait (if it did, the wait would never end: hence the time limit).
        assert (await asyncio.wait_for(read_entry(enrolment, employee), 30))["email"] == ENTRY["email"]
        assert not change.done()
        committed_at = await connection.fetchval("SELECT clock_timestamp()")
    return await change, committed_at


async def waiting_for(enrolment, pid: int, timeout: float = 30) -> None:
    """Wait until another database session waits for a lock the session `pid` holds."""
    deadline = time.monotonic() + timeout
    while not await enrolment.sql("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid):
        assert time.monotonic() < deadline, "nothing waited for the locks of the open transaction"
        await asyncio.sleep(0.05)
