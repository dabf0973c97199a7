"""State API keys on the attendance API: a state's key schedules, marks and reads its own state's records;
another state's key, or none, marks nobody and reads no one's progress. (Every route's path names its state, so
the runtime's check of the path is the whole check; the mechanism is tested in runtime/tests/test_state_keys.py.)"""

import json

import pytest
from attendance_samples import BatchPlan, employee_id, enrolled, session_start
from karmayogi_runtime.testing import STATE_KEYS, send_with_key

HARYANA, BIHAR = STATE_KEYS["IN-HR"], STATE_KEYS["IN-BR"]
pytestmark = pytest.mark.integration


async def enrolled_in(attendance, batch: BatchPlan) -> str:
    employee = employee_id()
    await attendance.publish(enrolled(employee, batch))
    assert await attendance.wait_for("SELECT count(*) FROM enrolments WHERE batch_id = $1", 1, batch.id) == 1
    return employee


def sessions_on(*days: int) -> dict:
    return {"sessions": [{"starts_at": session_start(d).isoformat(), "duration_minutes": 90} for d in days]}


async def test_haryanas_key_schedules_marks_and_reads_haryanas_progress(attendance):
    batch = BatchPlan()
    employee = await enrolled_in(attendance, batch)

    scheduled = await send_with_key(attendance.http, "POST", attendance.path(f"batches/{batch.id}/sessions"), HARYANA,
                                    json=sessions_on(1))
    marked = await send_with_key(attendance.http, "PUT", attendance.path(f"sessions/{scheduled.json()[0]['id']}/attendance/{employee}"),
                                 HARYANA)
    roster = await send_with_key(attendance.http, "GET", attendance.path(f"batches/{batch.id}/progress"), HARYANA)

    assert scheduled.status_code == 201, scheduled.text
    assert (marked.status_code, marked.json()["accepted"]) == (202, 1), marked.text
    assert (roster.status_code, [p["employee_id"] for p in roster.json()]) == (200, [employee])


@pytest.mark.parametrize(("key", "status", "sentence"), [
    (BIHAR, 403, "The key sent is a key of IN-BR; it cannot read or change the records of IN-HR."),
    (None, 401, "This request needs a key of its state, sent as 'Authorization: Bearer <key>'."),
], ids=["bihar-key", "no-key"])
async def test_bihars_key_or_none_on_haryanas_records_marks_nobody_and_reads_nothing(attendance, key, status, sentence):
    batch = BatchPlan()
    employee = await enrolled_in(attendance, batch)
    [session] = await attendance.schedule(batch, [1])

    answers = [
        await send_with_key(attendance.http, "POST", attendance.path(f"batches/{batch.id}/sessions"), key, json=sessions_on(2)),
        await send_with_key(attendance.http, "PUT", attendance.path(f"sessions/{session['id']}/attendance/{employee}"), key),
        await send_with_key(attendance.http, "POST", attendance.path("attendance-imports"), key,
                            content=json.dumps({"employee_id": employee, "session_id": session["id"]}).encode(),
                            headers={"content-type": "application/x-ndjson"}),
        await send_with_key(attendance.http, "GET", attendance.path(f"batches/{batch.id}/progress"), key),  # employees' names
    ]

    for answer in answers:
        assert (answer.status_code, answer.json()) == (status, {"detail": [sentence]})
        assert answer.headers.get("WWW-Authenticate") == ("Bearer" if status == 401 else None)
    assert await attendance.sql("SELECT count(*) FROM sessions") == 1
    assert await attendance.sql("SELECT count(*) FROM outbox") == 0  # no session.attended published
    assert await attendance.sql("SELECT count(*) FROM attendance") == 0
