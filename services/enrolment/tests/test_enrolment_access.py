"""State API keys on the enrolment API: a state's key reads and changes its own state's records; another
state's key, or none, enrols nobody and reads no one's details. (Every route's path names its state, so the
runtime's check of the path is the whole check; the mechanism is tested in runtime/tests/test_state_keys.py.)"""

import json

import pytest
from karmayogi_runtime.testing import STATE_KEYS, send_with_key

TENANT = "IN-HR"
HARYANA, BIHAR = STATE_KEYS["IN-HR"], STATE_KEYS["IN-BR"]
pytestmark = pytest.mark.integration


def bulk_line(employee_id: str, batch_id: str) -> bytes:
    return json.dumps({"employee_id": employee_id, "name": "Asha Rani", "preferred_language": "hi",
                       "department": "Revenue", "designation": "Patwari", "district": "Hisar",
                       "batch_id": batch_id}).encode()


async def test_haryanas_key_enrols_singly_and_in_bulk_and_reads_haryanas_records(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch, employee = await enrolment.batch(course, hub), await enrolment.employee()

    made = await send_with_key(enrolment.http, "POST", enrolment.path("enrolments"), HARYANA,
                               json={"employee_id": employee, "batch_id": batch["id"]})
    imported = await send_with_key(enrolment.http, "POST", enrolment.path("bulk-enrolments"), HARYANA,
                                   content=bulk_line("HRK0000001", batch["id"]),
                                   headers={"content-type": "application/x-ndjson"})
    read = await send_with_key(enrolment.http, "GET", enrolment.path(f"enrolments/{made.json()['id']}"), HARYANA)

    assert made.status_code == 201, made.text
    assert (imported.status_code, imported.json()["accepted"]) == (201, 1), imported.text
    assert (read.status_code, read.json()["employee_id"]) == (200, employee)
    assert await enrolment.sql("SELECT count(*) FROM enrolments") == 2


@pytest.mark.parametrize(("key", "status", "sentence"), [
    (BIHAR, 403, "The key sent is a key of IN-BR; it cannot read or change the records of IN-HR."),
    (None, 401, "This request needs a key of its state, sent as 'Authorization: Bearer <key>'."),
], ids=["bihar-key", "no-key"])
async def test_bihars_key_or_none_on_haryanas_records_enrols_nobody_and_reads_nothing(enrolment, key, status, sentence):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch, employee = await enrolment.batch(course, hub), await enrolment.employee()

    answers = [
        await send_with_key(enrolment.http, "POST", enrolment.path("enrolments"), key,
                            json={"employee_id": employee, "batch_id": batch["id"]}),
        await send_with_key(enrolment.http, "POST", enrolment.path("bulk-enrolments"), key,
                            content=bulk_line("HRK0000002", batch["id"]),
                            headers={"content-type": "application/x-ndjson"}),
        await send_with_key(enrolment.http, "PUT", enrolment.path("employees/HRK0000003"), key, json={
                            "name": "Asha Rani", "preferred_language": "hi", "department": "Revenue", "designation": "Patwari",
                            "district": "Hisar"}),
        await send_with_key(enrolment.http, "GET", enrolment.path(f"employees/{employee}"), key),  # a name, e-mail and mobile
    ]

    for answer in answers:
        assert (answer.status_code, answer.json()) == (status, {"detail": [sentence]})
        assert answer.headers.get("WWW-Authenticate") == ("Bearer" if status == 401 else None)
    assert await enrolment.sql("SELECT count(*) FROM enrolments") == 0
    assert await enrolment.sql("SELECT count(*) FROM bulk_jobs") == 0
    assert await enrolment.sql("SELECT count(*) FROM employees WHERE id LIKE 'HRK%'") == 0
    assert await enrolment.sql("SELECT count(*) FROM outbox") == 0


async def test_bihars_key_reads_bihars_records(enrolment):
    courses = await send_with_key(enrolment.http, "GET", "/v1/states/IN-BR/courses", BIHAR)

    assert (courses.status_code, courses.json()["items"]) == (200, [])


async def test_haryanas_records_named_by_id_on_bihars_paths_are_not_found_in_bihar(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch, employee = await enrolment.batch(course, hub), await enrolment.employee()
    made = await enrolment.post("enrolments", {"employee_id": employee, "batch_id": batch["id"]})

    for what, rest in (("batch", f"batches/{batch['id']}"), ("course", f"courses/{course['id']}"),
                       ("enrolment", f"enrolments/{made['id']}"), ("employee", f"employees/{employee}")):
        answer = await send_with_key(enrolment.http, "GET", f"/v1/states/IN-BR/{rest}", BIHAR)
        assert (answer.status_code, answer.json()) == (404, {"detail": [f"No {what} {rest.split('/')[1]} exists in IN-BR."]})
