"""Bulk enrolment files through the HTTP API on the real stack: reports, bad rows, re-runs, malformed files."""

import json
import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner
from karmayogi_contracts import decode
from karmayogi_runtime import topics
from karmayogi_runtime.dead_letter_topics import read_records

pytestmark = pytest.mark.integration

HEADER = "employee_id,name,email,mobile,preferred_language,department,designation,district,batch_id"
NAMES = ("सुनीता देवी", "Rajesh Kumar", "अमित शर्मा", "Pooja Yadav", "मनोज कुमार सैनी", "Anjali Malik")


def row(i: int, batch_id: str, **override: str) -> str:
    fields = {"employee_id": f"HRB{i:06d}", "name": NAMES[i % len(NAMES)], "email": f"emp{i}@hry.gov.in",
              "mobile": f"+9198{i:08d}", "preferred_language": "hi" if i % 2 else "en", "department": "Revenue",
              "designation": "Patwari", "district": "Rohtak", "batch_id": batch_id, **override}
    return ",".join(fields.values())


async def upload(enrolment, body: bytes, content_type: str = "text/csv", expect: int = 201) -> dict:
    response = await enrolment.http.post(enrolment.path("bulk-enrolments"), content=body,
                                         headers={"content-type": content_type})
    assert response.status_code == expect, response.text
    return response.json()


async def report(enrolment, job_id: str, outcome: str) -> list[dict]:
    rows, after = [], 0
    while after is not None:
        page = (await enrolment.http.get(enrolment.path(f"bulk-jobs/{job_id}/rows"),
                                         params={"outcome": outcome, "after": after, "limit": 500})).json()
        rows += page["items"]
        after = page["next"]
    return rows


async def test_a_ten_thousand_row_file_imports_with_a_report_of_its_bad_rows_and_a_rerun_changes_nothing(enrolment):
    course, other_course, hub = await enrolment.course(), await enrolment.course(family="cyber-hygiene"), await enrolment.hub()
    big = (await enrolment.batch(course, hub, capacity=4000))["id"]
    small = (await enrolment.batch(other_course, hub, capacity=100_000))["id"]
    closed = (await enrolment.batch(other_course, hub, enrolment_open=False))["id"]
    lines = [row(i, big if i % 2 else small) for i in range(10_000)]
    bad = {  # row index -> (replacement line, what the report must say)
        101: (row(101, big, email="not-an-email"), "email: value is not a valid email address"),
        203: (row(203, "not-a-uuid"), "batch_id: must be a UUID"),
        305: (row(305, str(uuid.uuid4())), "does not exist in IN-HR"),
        407: (row(407, big) + ",extra", "the line has 10 fields; the header has 9"),
        509: (row(509, big, name="R4jesh"), "name: may contain only letters"),
        611: (row(611, closed), "is closed for enrolment"),
        713: (row(713, big, mobile="98123"), "mobile: must be an E.164 number"),
        919: (row(919, big, designation='"Naib\nTehsildar"'), "designation: must not contain control characters"),
    }
    for index, (line, _) in bad.items():
        lines[index] = line
    lines[815] = lines[1]  # the same employee and batch again: a duplicate, not a second enrolment
    lines[917] = row(917, small, designation='"Naib Tehsildar, Revenue"')  # a quoted comma
    data = lines[:900] + [b"\xff\xfe broken bytes".decode("latin-1")] + lines[900:]  # a non-UTF-8 line, written below
    body = "\n".join([HEADER] + data).encode().replace("ÿþ broken bytes".encode(), b"\xff\xfe broken bytes") + b"\n"
    valid_rows = 10_000 - len(bad) - 1  # less the bad rows and the duplicate
    # Odd rows ask for the big batch: all but the bad ones, the duplicate and row 917, so 4,990 want 4,000 seats.
    waitlisted_expected = 5000 - len(bad) - 1 - 1 - 4000

    # A crash midway: the first part of the file was imported, then the same whole file is sent again.
    head = body[: body.index(b"\n" + lines[3000].encode())] + b"\n"
    first = await upload(enrolment, head)
    job = await upload(enrolment, body)
    again = await upload(enrolment, body)

    assert first["status"] == job["status"] == again["status"] == "completed"
    assert await enrolment.sql("SELECT count(*) FROM enrolments") == valid_rows
    assert first["accepted"] + job["accepted"] == valid_rows
    assert job["rejected"] == again["rejected"] == len(bad) + 1
    assert again["accepted"] == 0 and again["duplicate"] == valid_rows + 1
    assert await enrolment.sql("SELECT enrolled_count FROM batches WHERE id = $1", uuid.UUID(big)) == 4000
    assert first["waitlisted"] + job["waitlisted"] == waitlisted_expected == await enrolment.sql(
        "SELECT waitlisted_count FROM batches WHERE id = $1", uuid.UUID(big))
    rejected = {r["line"]: r["reason"] for r in await report(enrolment, job["id"], "rejected")}
    for index, (_, reason) in bad.items():
        line = index + 2 + (index >= 900)  # the header is line 1; the broken line sits before row 900
        assert reason in rejected[line], (line, rejected.get(line))
    assert "not valid UTF-8" in rejected[902]
    duplicates = await report(enrolment, job["id"], "duplicate")
    assert 817 in {r["line"] for r in duplicates}
    events = await enrolment.published("employee.enrolled")
    enrolled = await enrolment.sql("SELECT count(*) FROM enrolments WHERE status = 'enrolled'")
    assert len(events) == len({e.id for _, e in events}) == enrolled == valid_rows - waitlisted_expected
    assert {e.data.channel for _, e in events} == {"bulk"}
    designation = await enrolment.sql("SELECT designation FROM employees WHERE id = 'HRB000917'")
    assert designation == "Naib Tehsildar, Revenue"


async def test_an_ndjson_file_is_imported_row_by_row(enrolment):
    batch = (await enrolment.batch(await enrolment.course(), await enrolment.hub()))["id"]
    good = {"employee_id": "HRN1", "name": "अमित शर्मा", "email": None, "mobile": None, "preferred_language": "hi",
            "department": "Home", "designation": "Sub Inspector", "district": "Karnal", "batch_id": batch}
    body = "\n".join([json.dumps(good), "[1, 2]", json.dumps({**good, "employee_id": "HRN2", "rank": 3}),
                      json.dumps({**good, "employee_id": "HRN3"})]).encode()

    job = await upload(enrolment, body, "application/x-ndjson")

    assert (job["accepted"], job["rejected"]) == (2, 2)
    reasons = {r["line"]: r["reason"] for r in await report(enrolment, job["id"], "rejected")}
    assert reasons == {2: "the line is not a JSON object.", 3: "unknown fields: rank."}
    assert {e.data.employee.id for _, e in await enrolment.published("employee.enrolled")} == {"HRN1", "HRN3"}


async def test_a_row_with_a_nul_or_a_lone_surrogate_is_reported_rejected_and_the_import_goes_on(enrolment):
    batch = (await enrolment.batch(await enrolment.course(), await enrolment.hub()))["id"]
    good = {"employee_id": "HRN1", "name": "अमित शर्मा", "email": None, "mobile": None, "preferred_language": "hi",
            "department": "Home", "designation": "Sub Inspector", "district": "Karnal", "batch_id": batch}
    body = "\n".join([
        json.dumps(good),
        json.dumps({**good, "employee_id": "HR\x00N2"}),  # written as \u0000, read as a NUL character
        json.dumps({**good, "employee_id": "HR\ud800N3"}),  # written as \ud800, read as a lone surrogate
        json.dumps({**good, "employee_id": "HRN4", "r\ud800nk\x00": 3}),  # the reason names the field
        json.dumps({**good, "employee_id": "HR" + "9" * 5000}),
        "[" * 60_000,  # nested deeper than the JSON parser goes
        json.dumps({**good, "employee_id": "HRN7"}),
    ]).encode()

    job = await upload(enrolment, body, "application/x-ndjson")

    assert (job["status"], job["accepted"], job["rejected"]) == ("completed", 2, 5)
    rejected = {r["line"]: r for r in await report(enrolment, job["id"], "rejected")}
    assert sorted(rejected) == [2, 3, 4, 5, 6]
    assert rejected[6]["reason"] == "the line is not a JSON object."
    assert rejected[2]["employee_id"] == "HRN2" and rejected[3]["employee_id"] == "HR\ufffdN3"
    assert rejected[4]["reason"] == "unknown fields: r\ufffdnk."
    assert len(rejected[5]["employee_id"]) <= 100 and rejected[5]["reason"].startswith("employee_id:")
    assert {e.data.employee.id for _, e in await enrolment.published("employee.enrolled")} == {"HRN1", "HRN7"}


# A file that cannot be read as a whole is a 400, as in the attendance service's imports; a bad row is a
# line of the job's report instead.
@pytest.mark.parametrize(("body", "content_type", "status", "says"), [
    (b"employee_id,name,batch_id\nHR1,Asha,x\n", "text/csv", 400, "missing columns: email, mobile"),
    (HEADER.replace("district", "distt").encode() + b"\n", "text/csv", 400, "unknown columns: distt"),
    ("employee_id,naam\n".encode("utf-16"), "text/csv", 400, "not UTF-8"),
    (b'{"employee_id": "HR1"}\n', "text/csv", 400, "missing columns"),
    (b"employee_id\tname\n", "application/x-ndjson", 400, "not a JSON object"),
    (b"", "text/csv", 400, "The file is empty: send a header line naming the columns, then one row per line."),
    (b"", "application/x-ndjson", 400, "The file is empty: send one JSON object per line."),
    (b"\n", "text/csv", 400, "The file starts with a blank line"),
    (HEADER.encode(), "application/pdf", 415, "Send the file with Content-Type text/csv or application/x-ndjson."),
])
async def test_a_malformed_file_is_refused_whole_before_anything_is_written(enrolment, body, content_type, status, says):
    batch = (await enrolment.batch(await enrolment.course(), await enrolment.hub()))["id"]
    rows = "\n".join(row(i, batch) for i in range(3)).encode()

    answer = await upload(enrolment, body + rows if body else body, content_type, expect=status)

    assert says in answer["detail"][0]
    assert await enrolment.sql("SELECT count(*) FROM bulk_jobs") == 0
    assert await enrolment.sql("SELECT count(*) FROM employees") == 0


async def test_the_events_of_a_file_reach_the_partition_of_their_key_in_the_order_of_its_lines(enrolment):
    first, second, hub = await enrolment.course(), await enrolment.course(family="cyber-hygiene"), await enrolment.hub()
    batches = [(await enrolment.batch(first, hub, capacity=500))["id"], (await enrolment.batch(second, hub, capacity=500))["id"]]
    lines = [row(i, batch) for batch in batches for i in range(300)]  # each employee twice: once per course
    await upload(enrolment, "\n".join([HEADER] + lines).encode() + b"\n")
    position = {(f"HRB{i:06d}", batch): n for n, (batch, i) in enumerate((b, i) for b in batches for i in range(300))}

    await enrolment.drained()
    topic = enrolment.prefix + "employee.enrolled"
    every_partition = sorted(p.partition for p in await topics.partitions(enrolment.bootstrap, [topic]))
    records = await read_records(enrolment.bootstrap, [topic])

    assert len(records) == 600
    seen: dict[int, list[int]] = {}
    for letter in records:  # in offset order within each partition
        assert letter.partition == DefaultPartitioner()(letter.record.key, every_partition, every_partition)
        event = decode(letter.record.value, letter.record.headers)
        seen.setdefault(letter.partition, []).append(position[(event.data.employee.id, str(event.data.batch.id))])
    assert len(seen) > 1 and all(lines_in_order == sorted(lines_in_order) for lines_in_order in seen.values())


async def test_a_report_page_past_the_largest_line_number_is_answered_422_not_500(enrolment):
    batch = (await enrolment.batch(await enrolment.course(), await enrolment.hub()))["id"]
    job = await upload(enrolment, "\n".join([HEADER, row(1, batch)]).encode())
    rows = enrolment.path(f"bulk-jobs/{job['id']}/rows")

    too_far = await enrolment.http.get(rows, params={"after": 3_000_000_000})
    last = await enrolment.http.get(rows, params={"after": 2_147_483_647})

    assert too_far.status_code == 422 and too_far.json()["detail"][0].startswith("query.after:")
    assert last.status_code == 200 and last.json() == {"items": [], "next": None}


async def test_a_rejected_row_leaves_the_directory_entry_as_it_was_and_an_accepted_row_is_announced_with_its_own_details(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch, other = (await enrolment.batch(course, hub))["id"], (await enrolment.batch(course, hub))["id"]
    known = await enrolment.employee()  # in the directory, and enrolled in `batch`
    await enrolment.post("enrolments", {"employee_id": known, "batch_id": batch})
    newcomer, stranger = f"HRN{uuid.uuid4().hex[:8]}", f"HRS{uuid.uuid4().hex[:8]}"
    lines = [
        row(1, batch, employee_id=known, name="Sunita Devi", email="sunita.d@hry.gov.in"),  # duplicate: refreshes
        row(2, str(uuid.uuid4()), employee_id=known, name="Wrong Person", email="wrong@x.example.com", mobile=""),
        row(3, other, employee_id=known, name="Wrong Person", email="", mobile=""),  # already enrolled in the course
        row(4, str(uuid.uuid4()), employee_id=stranger, name="Nobody Known"),  # rejected: never enters the directory
        row(5, batch, employee_id=newcomer, name="Rajesh Kumar", email="rajesh@hry.gov.in"),  # accepted
        row(6, other, employee_id=newcomer, name="Wrong Person", email="wrong@x.example.com"),  # rejected
    ]

    job = await upload(enrolment, "\n".join([HEADER] + lines).encode() + b"\n")

    assert (job["accepted"], job["duplicate"], job["rejected"]) == (1, 1, 4)
    entry = (await enrolment.http.get(enrolment.path(f"employees/{known}"))).json()
    assert (entry["name"], entry["email"], entry["mobile"]) == ("Sunita Devi", "sunita.d@hry.gov.in", "+919800000001")
    assert (await enrolment.http.get(enrolment.path(f"employees/{stranger}"))).status_code == 404
    entry = (await enrolment.http.get(enrolment.path(f"employees/{newcomer}"))).json()
    assert (entry["name"], entry["email"]) == ("Rajesh Kumar", "rajesh@hry.gov.in")
    announced = {e.data.employee.id: e.data.employee for _, e in await enrolment.published("employee.enrolled")}
    assert (announced[newcomer].name, announced[newcomer].email) == ("Rajesh Kumar", "rajesh@hry.gov.in")
