"""The HTTP API as trainers, state systems and training officers use it: sessions, marking, bulk import,
progress; bad input answered with a 4xx sentence and nothing published."""

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from attendance import bulk
from attendance_samples import (
    IST, TENANT, TODAY, BatchPlan, attended, employee_id, enrolled, session_start, withdrawn,
)
from karmayogi_contracts import SessionAttended, ids

pytestmark = pytest.mark.integration

MINUTES = "SELECT minutes FROM attendance WHERE enrolment_id = $1"


async def enrol(attendance, batch: BatchPlan, *employees: str) -> None:
    await attendance.publish(*[enrolled(e, batch) for e in employees])
    assert await attendance.wait_for("SELECT count(*) FROM enrolments WHERE batch_id = $1", len(employees), batch.id) \
        == len(employees)


def detail(response) -> str:
    return " ".join(response.json()["detail"])


async def test_sessions_are_scheduled_only_for_known_batches_within_their_dates_and_plan(attendance):
    batch = BatchPlan(sessions_planned=3)
    body = {"sessions": [{"starts_at": session_start(1).isoformat(), "duration_minutes": 90}]}
    unknown = await attendance.http.post(attendance.path(f"batches/{batch.id}/sessions"), json=body)
    assert unknown.status_code == 404
    assert f"No batch {batch.id} is known in {TENANT}" in detail(unknown)

    await enrol(attendance, batch, employee_id())
    outside = await attendance.http.post(attendance.path(f"batches/{batch.id}/sessions"), json={"sessions": [
        {"starts_at": (session_start(1) - timedelta(days=3)).isoformat(), "duration_minutes": 90}]})
    assert outside.status_code == 422
    assert f"is outside the batch dates ({batch.start.isoformat()} to {batch.end.isoformat()})" in detail(outside)

    first = await attendance.schedule(batch, [1, 2])
    again = await attendance.schedule(batch, [1, 2, 3])  # scheduling the same start again changes nothing
    assert [s["id"] for s in again[:2]] == [s["id"] for s in first] and len(again) == 3
    too_many = await attendance.http.post(attendance.path(f"batches/{batch.id}/sessions"), json={"sessions": [
        {"starts_at": session_start(4).isoformat(), "duration_minutes": 90}]})
    assert too_many.status_code == 409
    assert detail(too_many) == (f"Batch {batch.id} plans 3 sessions; scheduling these would make 4. The number of "
                                "sessions a batch plans is fixed once employees are enrolled: schedule the extra "
                                "sessions in another batch.")

    invalid = await attendance.http.post(attendance.path(f"batches/{batch.id}/sessions"), json={"sessions": [
        {"starts_at": "2026-11-16T10:00:00", "duration_minutes": 0}]})
    assert invalid.status_code == 422
    assert any("duration_minutes" in s for s in invalid.json()["detail"])
    before_utc = await attendance.http.post(attendance.path(f"batches/{batch.id}/sessions"), json={"sessions": [
        {"starts_at": "0001-01-01T00:00:00+05:30", "duration_minutes": 90}]})
    assert (before_utc.status_code, detail(before_utc)) == (
        422, "body.sessions.0.starts_at: must be an instant from year 1 to 9999 in UTC")


async def test_scheduling_a_session_again_with_another_mandatory_flag_corrects_only_the_flag(attendance):
    batch = BatchPlan(sessions_planned=2)
    await enrol(attendance, batch, employee_id())
    [first] = await attendance.schedule(batch, [1], mandatory=(1,))
    assert first["mandatory"] is True
    session = uuid.UUID(first["id"])
    version = "SELECT xmin::text FROM sessions WHERE id = $1"
    written = await attendance.sql(version, session)

    assert await attendance.schedule(batch, [1], mandatory=(1,)) == [first]  # the same plan again
    assert await attendance.sql(version, session) == written  # not even rewritten

    # Sent again without a flag (a tool that knows nothing of flags): the flag is kept.
    unflagged = {"starts_at": session_start(1).isoformat(), "duration_minutes": 90, "mode": "classroom"}
    resent = await attendance.http.post(attendance.path(f"batches/{batch.id}/sessions"), json={"sessions": [unflagged]})
    assert resent.status_code == 201, resent.text
    assert resent.json() == [first]
    assert await attendance.sql(version, session) == written

    # Sent again not mandatory, and longer online: the flag is corrected, the start, length and mode kept.
    corrected = await attendance.http.post(attendance.path(f"batches/{batch.id}/sessions"), json={"sessions": [
        {"starts_at": session_start(1).isoformat(), "duration_minutes": 120, "mode": "online", "mandatory": False}]})
    assert corrected.status_code == 201, corrected.text
    assert corrected.json() == [{**first, "mandatory": False}]
    listed = (await attendance.http.get(attendance.path(f"batches/{batch.id}/sessions"))).json()
    assert listed == [{**first, "mandatory": False}]
    assert (await attendance.schedule(batch, [1], mandatory=(1,)))[0]["mandatory"] is True


async def test_marking_bad_attendance_is_refused_with_a_sentence_and_nothing_is_published(attendance):
    batch = BatchPlan(end=TODAY + timedelta(days=20))
    present, leaver, stranger = employee_id(), employee_id(), employee_id()
    await enrol(attendance, batch, present, leaver)
    await attendance.publish(withdrawn(leaver, batch))
    assert await attendance.wait_for("SELECT count(*) FROM enrolments WHERE withdrawn_at IS NOT NULL", 1) == 1
    [past, future] = await attendance.schedule(batch, [1, 15])
    assert datetime.fromisoformat(future["starts_at"]) > datetime.now(timezone.utc)

    cases = [
        (f"sessions/{uuid.uuid4()}/attendance/{present}", 404, "is scheduled in IN-HR"),
        (f"sessions/{future['id']}/attendance/{present}", 422, "in the future: attendance can be marked once it has started"),
        (f"sessions/{past['id']}/attendance/{stranger}", 422, f"Employee {stranger} is not enrolled in batch {batch.id}"),
        (f"sessions/{past['id']}/attendance/{leaver}", 422, f"Employee {leaver} withdrew from batch {batch.id}"),
        (f"sessions/{past['id']}/attendance/bad%20id", 422, "employee_id"),
    ]
    for rest, status, sentence in cases:
        response = await attendance.http.put(attendance.path(rest))
        assert response.status_code == status, (rest, response.text)
        assert sentence in detail(response) or sentence in response.text
    too_long = await attendance.http.put(attendance.path(f"sessions/{past['id']}/attendance/{present}"),
                                         json={"minutes_attended": 91})
    assert too_long.status_code == 422
    assert "minutes_attended 91 is more than the session's 90 minutes." in detail(too_long)
    # A list is all or nothing: one stranger refuses the whole list.
    listed = await attendance.http.post(attendance.path(f"sessions/{past['id']}/attendance"), json={
        "attendees": [{"employee_id": present}, {"employee_id": stranger}]})
    assert listed.status_code == 422

    assert await attendance.sql("SELECT count(*) FROM outbox") == 0


async def test_a_trainer_marks_a_list_and_repeats_are_reported_as_duplicates(attendance):
    batch = BatchPlan()
    people = [employee_id() for _ in range(3)]
    await enrol(attendance, batch, *people)
    [session] = await attendance.schedule(batch, [1])
    body = {"attendees": [{"employee_id": people[0]}, {"employee_id": people[1], "minutes_attended": 45}]}
    response = await attendance.http.post(attendance.path(f"sessions/{session['id']}/attendance"), json=body)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    assert await attendance.wait_for("SELECT count(*) FROM attendance", 2) == 2

    again = await attendance.http.post(attendance.path(f"sessions/{session['id']}/attendance"), json={
        "attendees": [{"employee_id": people[0]}, {"employee_id": people[2]}, {"employee_id": people[2]}]})
    assert [r["status"] for r in again.json()["rows"]] == ["duplicate", "accepted", "duplicate"]

    published = [event for _, event in await attendance.published("session.attended")]
    assert len(published) == 3
    half = next(e for e in published if e.data.employee_id == people[1])
    assert isinstance(half.data, SessionAttended)
    assert half.data.attendance_id == ids.attendance_id(TENANT, people[1], uuid.UUID(session["id"]))
    assert half.id == ids.attendance_report_id(half.data.attendance_id, 45, "trainer")
    assert again.json()["rows"][2]["reason"] == "Line 2 already marks this attendance with 90 minutes."
    assert (half.data.minutes_attended, half.data.marked_by, half.data.enrolment_id) == (
        45, "trainer", ids.enrolment_id(TENANT, people[1], batch.id))
    assert await attendance.wait_for("SELECT count(*) FROM attendance", 3) == 3
    roster = (await attendance.http.get(attendance.path(f"batches/{batch.id}/progress"))).json()
    assert {r["employee_id"]: r["attendance_percent"] for r in roster} == {
        people[0]: 16.67, people[1]: 8.33, people[2]: 16.67}


async def test_a_bulk_file_gets_a_status_for_every_line(attendance):
    batch = BatchPlan()
    people = [employee_id() for _ in range(2)]
    await enrol(attendance, batch, *people)
    sessions = await attendance.schedule(batch, [1, 2])
    s1, s2 = sessions[0]["id"], sessions[1]["id"]
    tomorrow = (datetime.now(IST) + timedelta(days=1)).isoformat()
    csv = "\n".join([
        "employee_id,session_id,minutes_attended,marked_at",
        f"{people[0]},{s1},,",                    # 2 accepted
        f"{people[1]},{s1},60,",                  # 3 accepted
        f"{people[0]},{s1},,",                    # 4 duplicate (line 2)
        f"{people[0]},{uuid.uuid4()},,",          # 5 unknown session
        f"{people[1]},{s2},,{tomorrow}",          # 6 marked in the future
        f"{people[0]},not-a-uuid,,",              # 7 unreadable
        "",
        f"{people[0]},{s2},abc,",                 # 9 bad minutes
    ]).encode()
    response = await attendance.http.post(attendance.path("attendance-imports"), content=csv,
                                          headers={"content-type": "text/csv"})
    assert response.status_code == 202, response.text
    report = response.json()
    assert (report["accepted"], report["duplicate"], report["rejected"]) == (2, 1, 4)
    statuses = {row["line"]: (row["status"], row["reason"]) for row in report["rows"]}
    assert [statuses[n][0] for n in (2, 3, 4, 5, 6, 7, 9)] == [
        "accepted", "accepted", "duplicate", "rejected", "rejected", "rejected", "rejected"]
    assert "is scheduled in this state" in statuses[5][1]
    assert "in the future" in statuses[6][1]
    assert statuses[7][1].startswith("Line 7 session_id must be a session id")
    assert "minutes_attended must be a whole number" in statuses[9][1]
    assert await attendance.wait_for("SELECT count(*) FROM attendance", 2) == 2
    sources = await attendance.sql("SELECT array_agg(DISTINCT s) FROM attendance, unnest(sources) s")
    assert sources == ["biometric"]

    # The same sessions as NDJSON from iGOT, each in full: the first already recorded so, the second
    # recorded with 60 minutes and now raised to the whole session.
    ndjson = "\n".join(json.dumps({"employee_id": p, "session_id": s1}) for p in people).encode()
    again = await attendance.http.post(attendance.path("attendance-imports?marked_by=igot"), content=ndjson,
                                       headers={"content-type": "application/x-ndjson"})
    assert [(r["status"], r["reason"]) for r in again.json()["rows"]] == [
        ("duplicate", "This attendance is already recorded with 90 minutes."), ("accepted", None)]
    assert await attendance.wait_for("SELECT minutes FROM attendance WHERE employee_id = $1", 90, people[1]) == 90

    wrong = await attendance.http.post(attendance.path("attendance-imports"), content=b"{}",
                                       headers={"content-type": "application/pdf"})
    assert wrong.status_code == 415
    assert detail(wrong) == "Send the file with Content-Type text/csv or application/x-ndjson."
    headless = await attendance.http.post(attendance.path("attendance-imports"), content=b"name,date\nx,y\n",
                                          headers={"content-type": "text/csv"})
    assert headless.status_code == 400
    assert "lacks the column(s) employee_id, session_id" in detail(headless)
    # An empty file, or a CSV sent as NDJSON, is refused as the enrolment service refuses it, not reported as
    # "0 lines" or as every line rejected.
    for body, kind, sentence in ((b"", "text/csv", "The file is empty: send a header line naming the columns, "
                                  "then one row per line."),
                                 (b"", "application/x-ndjson", "The file is empty: send one JSON object per line."),
                                 (csv, "application/x-ndjson", "The first line is not a JSON object")):
        refused = await attendance.http.post(attendance.path("attendance-imports"), content=body,
                                             headers={"content-type": kind})
        assert (refused.status_code, detail(refused)[:len(sentence)]) == (400, sentence)

    # One line more than an import takes: refused before anything is recorded, even its first line, new.
    published = await attendance.sql("SELECT count(*) FROM outbox")
    first = json.dumps({"employee_id": people[0], "session_id": s2})
    rest = [json.dumps({"employee_id": people[1], "session_id": s1})] * bulk.MAX_FILE_LINES
    too_many = await attendance.http.post(attendance.path("attendance-imports"),
                                          content="\n".join([first, *rest]).encode(),
                                          headers={"content-type": "application/x-ndjson"})
    assert too_many.status_code == 413
    assert f"more than {bulk.MAX_FILE_LINES:,} lines" in detail(too_many)
    assert await attendance.sql("SELECT count(*) FROM outbox") == published


async def test_a_mark_of_more_minutes_raises_the_attendance_and_the_same_report_again_changes_nothing(attendance):
    batch, employee = BatchPlan(sessions_planned=1), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    await enrol(attendance, batch, employee)
    [session] = await attendance.schedule(batch, [1])
    path = attendance.path(f"sessions/{session['id']}/attendance/{employee}")

    assert (await attendance.http.put(path, json={"minutes_attended": 45})).json()["accepted"] == 1
    assert await attendance.wait_for(MINUTES, 45, enrolment_id) == 45
    assert await attendance.sql("SELECT count(*) FROM completions") == 0  # 50% of a 75% rule
    for minutes, recorded in ((45, 45), (90, None), (60, 90)):
        response = (await attendance.http.put(path, json={"minutes_attended": minutes})).json()
        assert [(r["status"], r["reason"]) for r in response["rows"]] == [
            ("duplicate", f"This attendance is already recorded with {recorded} minutes.") if recorded
            else ("accepted", None)]
        if not recorded:
            assert await attendance.wait_for(MINUTES, 90, enrolment_id) == 90
    assert await attendance.wait_for("SELECT count(*) FROM completions", 1) == 1

    reports = [event for _, event in await attendance.published("session.attended")]
    assert [r.data.minutes_attended for r in reports] == [45, 90]
    assert {r.data.attendance_id for r in reports} == {ids.attendance_id(TENANT, employee, uuid.UUID(session["id"]))}
    # The 90 delivered again is the same event (the inbox drops it); iGOT's report of it is another, and
    # neither completes the course a second time.
    await attendance.publish(reports[1], attended(employee, batch, 1, session_id=uuid.UUID(session["id"]),
                                                  marked_by="igot"))
    sources = "SELECT sources FROM attendance WHERE enrolment_id = $1"
    assert await attendance.wait_for(sources, ["trainer", "igot"], enrolment_id) == ["trainer", "igot"]
    assert await attendance.sql("SELECT count(*) FROM inbox WHERE consumer LIKE '%marks'") == 3
    assert (await attendance.sql(MINUTES, enrolment_id), await attendance.sql("SELECT count(*) FROM completions")) == (90, 1)
    assert len(await attendance.published("course.completed")) == 1


async def test_an_import_reports_a_mark_repeated_in_a_later_chunk_as_a_duplicate(attendance, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 2)
    batch, people = BatchPlan(), [employee_id(), employee_id()]
    await enrol(attendance, batch, *people)
    [session] = await attendance.schedule(batch, [1])
    csv = "\n".join([
        "employee_id,session_id,minutes_attended,marked_at",
        f"{people[0]},{session['id']},45,",  # 2 accepted (first chunk)
        f"{people[1]},{session['id']},,",    # 3 accepted
        f"{people[0]},{session['id']},45,",  # 4 duplicate of line 2 (second chunk)
        f"{people[0]},{session['id']},90,",  # 5 accepted: more minutes
    ]).encode()
    response = await attendance.http.post(attendance.path("attendance-imports"), content=csv,
                                          headers={"content-type": "text/csv"})
    assert [(r["line"], r["status"], r["reason"]) for r in response.json()["rows"]] == [
        (2, "accepted", None), (3, "accepted", None),
        (4, "duplicate", "Line 2 already marks this attendance with 45 minutes."), (5, "accepted", None)]
    enrolment_id = ids.enrolment_id(TENANT, people[0], batch.id)
    assert await attendance.wait_for(MINUTES, 90, enrolment_id) == 90


async def test_a_bad_line_deep_in_an_import_refuses_the_file_with_nothing_recorded(attendance, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 1)
    batch, employee = BatchPlan(), employee_id()
    await enrol(attendance, batch, employee)
    [session] = await attendance.schedule(batch, [1])
    good = json.dumps({"employee_id": employee, "session_id": session["id"]}).encode()
    for bad, sentence in (
        (b'{"employee_id": "HR\xe9"}', "Line 3 is not UTF-8 text; nothing was imported."),
        (b" " * bulk.MAX_LINE_BYTES + b"{}", "Line 3 is longer than 16,384 bytes; nothing was imported."),
    ):
        response = await attendance.http.post(attendance.path("attendance-imports"),
                                              content=b"\n".join([good, good, bad, good]),
                                              headers={"content-type": "application/x-ndjson"})
        assert response.status_code == 400, response.text
        assert sentence in detail(response)
    assert await attendance.sql("SELECT count(*) FROM outbox") == 0


async def test_an_import_with_a_misspelt_minutes_column_or_field_credits_nothing(attendance):
    batch, employee = BatchPlan(), employee_id()
    await enrol(attendance, batch, employee)
    [session] = await attendance.schedule(batch, [1])
    csv = f"employee_id,session_id,minutes_atended\n{employee},{session['id']},5\n".encode()
    misspelt = await attendance.http.post(attendance.path("attendance-imports"), content=csv,
                                          headers={"content-type": "text/csv"})
    assert misspelt.status_code == 400, misspelt.text
    assert detail(misspelt) == ('The CSV header has the column(s) "minutes_atended", which this import does not know; '
                                "the accepted columns are employee_id and session_id (required), minutes_attended "
                                "and marked_at; nothing was imported.")
    unknown = await attendance.http.post(attendance.path("attendance-imports"),
                                         content=json.dumps({"employee_id": employee, "session_id": session["id"],
                                                             "minutes": 5}).encode(),
                                         headers={"content-type": "application/x-ndjson"})
    assert unknown.status_code == 202, unknown.text
    assert [(r["status"], r["reason"]) for r in unknown.json()["rows"]] == [("rejected",
        'Line 1 has the field(s) "minutes", which this import does not know; the accepted fields are employee_id '
        "and session_id (required), minutes_attended and marked_at.")]
    assert await attendance.sql("SELECT count(*) FROM outbox") == 0  # no whole session credited


async def test_an_excel_mac_csv_with_impossible_times_gets_a_status_for_every_line(attendance):
    batch, employee = BatchPlan(), employee_id()
    await enrol(attendance, batch, employee)
    [session] = await attendance.schedule(batch, [1])
    csv = "\r".join([  # Excel's "CSV (Macintosh)" ends lines with a lone CR
        "employee_id,session_id,minutes_attended,marked_at",
        f"{employee},{session['id']},,0001-01-01T00:00:00+05:30",  # 2 before any time an event can carry
        f"{employee},{session['id']},,2000-01-01T10:00:00+05:30",  # 3 a biometric device's reset clock
        f"{employee},{session['id']},,",                           # 4 accepted
    ]).encode()
    response = await attendance.http.post(attendance.path("attendance-imports"), content=csv,
                                          headers={"content-type": "text/csv"})
    assert response.status_code == 202, response.text
    rows = response.json()["rows"]
    assert [(r["line"], r["status"]) for r in rows] == [(2, "rejected"), (3, "rejected"), (4, "accepted")]
    assert rows[0]["reason"] == "Line 2 marked_at is not a date-time an attendance can have."
    assert "more than 60 minutes before the session starts" in rows[1]["reason"]


async def test_progress_aggregates_match_an_independent_count(attendance):
    rng = random.Random(6)
    batches = [BatchPlan(centre_name="DTC Rohtak", district="Rohtak"),
               BatchPlan(centre_name="HIPA Gurugram", district="Gurugram"),
               BatchPlan(centre_name="DTC Gurugram", district="Gurugram")]
    plan = []  # (batch, employee, sessions attended, withdrawn)
    for batch in batches:
        for _ in range(8):
            plan.append((batch, employee_id(), rng.randint(0, 6), rng.random() < 0.2))
    await attendance.publish(*[enrolled(e, b) for b, e, _, _ in plan])
    assert await attendance.wait_for("SELECT count(*) FROM enrolments", len(plan)) == len(plan)
    await attendance.publish(*[withdrawn(e, b) for b, e, _, w in plan if w])
    leavers = sum(w for *_, w in plan)
    assert await attendance.wait_for("SELECT count(*) FROM enrolments WHERE withdrawn_at IS NOT NULL", leavers) == leavers
    await attendance.publish(*[attended(e, b, n) for b, e, k, _ in plan for n in range(1, k + 1)])
    total = sum(k for _, _, k, _ in plan)
    assert await attendance.wait_for("SELECT count(*) FROM attendance", total) == total
    await attendance.drained()

    def figures(rows) -> dict:
        # Withdrawals are recorded before any attendance, so a withdrawn employee never completes.
        return {
            "enrolled": sum(not w for _, _, _, w in rows),
            "attending": sum(not w and 0 < k < 5 for _, _, k, w in rows),
            "completed": sum(not w and k >= 5 for _, _, k, w in rows),
            "withdrawn": sum(w for _, _, _, w in rows),
        }

    state = (await attendance.http.get(attendance.path("progress"))).json()
    assert state == figures(plan)
    districts = (await attendance.http.get(attendance.path("progress/districts"))).json()
    assert {d.pop("district"): d for d in districts} == {
        name: figures([p for p in plan if p[0].district == name]) for name in ("Gurugram", "Rohtak")}
    centres = (await attendance.http.get(attendance.path("progress/centres"))).json()
    assert {uuid.UUID(c["centre_id"]): {k: c[k] for k in ("enrolled", "attending", "completed", "withdrawn")}
            for c in centres} == {b.centre_id: figures([p for p in plan if p[0] is b]) for b in batches}
    assert len(await attendance.published("course.completed")) == figures(plan)["completed"]
    other_state = (await attendance.http.get(attendance.path("progress", "IN-BR"))).json()
    assert other_state == {"enrolled": 0, "attending": 0, "completed": 0, "withdrawn": 0}
