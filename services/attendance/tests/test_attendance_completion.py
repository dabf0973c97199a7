"""Completion exactly once, against the real Kafka and PostgreSQL: the fifth of six sessions completes a 75%
course; duplicates, two sources, reordering across topics, redelivery after a crash, and withdrawal never
produce a second completion (or a wrong one)."""

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from attendance import handlers
from attendance_samples import (
    GROUP_TOPICS, TENANT, BatchPlan, attended, employee_id, enrolled, rewind_consumer_groups, session_start,
    withdrawn,
)
from karmayogi_contracts import CourseCompleted, ids

pytestmark = pytest.mark.integration

record_attendances = handlers.record_attendances

ATTENDED = "SELECT count(*) FROM attendance WHERE enrolment_id = $1"
COMPLETIONS = "SELECT count(*) FROM completions WHERE enrolment_id = $1"


async def completions_for(attendance, enrolment_id: uuid.UUID) -> list:
    return [(record, event) for record, event in await attendance.published("course.completed")
            if event.data.enrolment_id == enrolment_id]


async def mark(attendance, session: dict, employee: str, expect: int = 202) -> dict:
    response = await attendance.http.put(attendance.path(f"sessions/{session['id']}/attendance/{employee}"))
    assert response.status_code == expect, response.text
    return response.json()


async def test_a_six_session_batch_with_a_75_percent_rule_completes_once_after_the_fifth_attendance(attendance):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    await attendance.publish(enrolled(employee, batch, name="सुनीता देवी"))
    assert await attendance.wait_for("SELECT count(*) FROM batches", 1) == 1
    sessions = await attendance.schedule(batch)

    for n, session in enumerate(sessions[:4], start=1):
        assert (await mark(attendance, session, employee))["accepted"] == 1
        assert await attendance.wait_for(ATTENDED, n, enrolment_id) == n
    assert await completions_for(attendance, enrolment_id) == []  # 4 of 6 is 66.7%: not yet

    await mark(attendance, sessions[4], employee)
    assert await attendance.wait_for(COMPLETIONS, 1, enrolment_id) == 1
    await mark(attendance, sessions[5], employee)  # the sixth changes nothing
    assert await attendance.wait_for(ATTENDED, 6, enrolment_id) == 6

    [(record, event)] = await completions_for(attendance, enrolment_id)
    completion_id = ids.completion_id(TENANT, enrolment_id)
    headers = dict(record.headers)
    assert record.key == f"{TENANT}:{employee}".encode()
    assert headers["ce_id"] == str(completion_id).encode()
    assert headers["ce_type"] == b"karmayogi.course.completed.v1"
    assert headers["ce_tenant"] == TENANT.encode()
    assert headers["ce_source"] == b"/services/attendance"
    assert event.id == completion_id
    data = event.data
    assert isinstance(data, CourseCompleted)
    assert (data.completion_id, data.enrolment_id) == (completion_id, enrolment_id)
    assert (data.employee.id, data.employee.name) == (employee, "सुनीता देवी")
    assert data.course.title == "Ethics and Integrity in Governance"
    assert [c.name for c in data.course.competencies] == ["Ethics and integrity"]
    assert (data.course.family, data.course.trains_trainers) == ("ethics-in-governance", False)
    assert (data.batch.id, data.batch.centre.id, data.batch.centre.district) == (batch.id, batch.centre_id, "Rohtak")
    assert data.basis.kind == "attendance"
    assert (data.basis.sessions_attended, data.basis.sessions_planned, data.basis.attendance_percent) == (5, 6, 83.33)
    # The completion happened when the fifth attendance was marked (its report time).
    fifth = await attendance.sql("SELECT marked_at FROM attendance WHERE session_id = $1", uuid.UUID(sessions[4]["id"]))
    assert data.completed_at == fifth

    progress = (await attendance.http.get(attendance.path(f"enrolments/{enrolment_id}/progress"))).json()
    assert (progress["sessions_attended"], progress["attendance_percent"], progress["status"]) == (6, 100.0, "completed")


async def test_duplicates_two_sources_and_redelivery_after_a_crash_change_nothing(service_factory):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    first_five = [attended(employee, batch, n, marked_by="biometric") for n in range(1, 6)]
    async with service_factory() as attendance:
        await attendance.publish(enrolled(employee, batch), *first_five, *first_five)
        # The same sessions again from iGOT (other event ids), and session 1 again with fewer minutes.
        await attendance.publish(*[attended(employee, batch, n, marked_by="igot") for n in range(1, 6)],
                                 attended(employee, batch, 1, minutes=10, marked_by="trainer"))
        assert await attendance.wait_for(COMPLETIONS, 1, enrolment_id) == 1
        assert await attendance.wait_for("SELECT count(*) FROM inbox WHERE consumer LIKE '%marks'", 11) == 11
        await attendance.drained()
        before = await attendance.sql("SELECT (sessions_attended, attendance_percent)::text FROM enrolments")

    # A crash after the effects but before the offsets were committed: every event comes again.
    await rewind_consumer_groups(attendance.bootstrap, attendance.prefix)
    async with service_factory() as attendance:
        await attendance.publish(*first_five, enrolled(employee, batch))
        assert await attendance.wait_for(
            "SELECT count(*) FROM attendance WHERE sources @> ARRAY['biometric', 'igot', 'trainer']", 1) == 1
        await _consumed_everything(attendance)
        assert attendance.runtime.runner.handled >= 17 + 6  # the first run's events came again, and more
        assert await attendance.sql(ATTENDED, enrolment_id) == 5
        assert await attendance.sql("SELECT (sessions_attended, attendance_percent)::text FROM enrolments") == before
        assert before == "(5,83.33)"
        assert await attendance.sql("SELECT minutes FROM attendance WHERE session_id = $1", batch.session_ids()[0]) == 90
        assert len(await completions_for(attendance, enrolment_id)) == 1


async def _consumed_everything(attendance) -> None:
    """Wait until both groups have caught up with the end of their topics."""
    import asyncio
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if attendance.runtime.runner.handled and not await _lag(attendance):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the service did not catch up with its topics")


async def _lag(attendance) -> int:
    from aiokafka import AIOKafkaConsumer
    from karmayogi_runtime import topics as topics_admin

    lag = 0
    for group, names in GROUP_TOPICS:
        partitions = await topics_admin.partitions(attendance.bootstrap, [attendance.prefix + n for n in names])
        consumer = AIOKafkaConsumer(bootstrap_servers=attendance.bootstrap, group_id=attendance.prefix + group,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            end = await consumer.end_offsets(partitions)
            for tp in partitions:
                committed = await consumer.committed(tp)
                lag += end[tp] - (committed or 0)
        finally:
            await consumer.stop()
    return lag


async def test_a_withdrawn_enrolment_never_completes_even_when_the_withdrawal_comes_first(attendance):
    batch = BatchPlan()
    early, late = employee_id("EARLY"), employee_id("LATE")
    # `early`: the withdrawal overtakes the enrolment (another topic); `late`: enrolled, then withdrawn.
    await attendance.publish(withdrawn(early, batch), enrolled(late, batch))
    assert await attendance.wait_for("SELECT count(*) FROM withdrawals", 1) == 1
    await attendance.publish(enrolled(early, batch), withdrawn(late, batch))
    assert await attendance.wait_for("SELECT count(*) FROM enrolments WHERE withdrawn_at IS NOT NULL", 2) == 2
    await attendance.publish(*[attended(who, batch, n) for who in (early, late) for n in range(1, 7)])

    for who in (early, late):
        assert await attendance.wait_for(ATTENDED, 6, ids.enrolment_id(TENANT, who, batch.id)) == 6
    assert await attendance.sql("SELECT count(*) FROM completions") == 0
    roster = (await attendance.http.get(attendance.path(f"batches/{batch.id}/progress"))).json()
    assert {r["employee_id"]: r["status"] for r in roster} == {early: "withdrawn", late: "withdrawn"}
    assert await attendance.published("course.completed") == []


async def test_attendances_parked_before_their_enrolment_complete_the_course_when_it_arrives(attendance):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    await attendance.publish(*[attended(employee, batch, n) for n in range(1, 6)])
    assert await attendance.wait_for("SELECT count(*) FROM parked", 5) == 5
    reason = await attendance.sql("SELECT min(reason) FROM parked")
    assert f"employee {employee} is not known to be enrolled in batch {batch.id}" in reason
    assert await attendance.sql(ATTENDED, enrolment_id) == 0

    await attendance.publish(enrolled(employee, batch))

    assert await attendance.wait_for(COMPLETIONS, 1, enrolment_id) == 1
    assert await attendance.sql("SELECT count(*) FROM parked") == 0
    [(_, event)] = await completions_for(attendance, enrolment_id)
    assert (event.data.basis.sessions_attended, event.data.basis.attendance_percent) == (5, 83.33)


async def test_a_mandatory_session_missed_holds_back_completion_until_it_is_attended(attendance):
    plain = BatchPlan()
    batch = BatchPlan(id=plain.id, mandatory=(plain.session_ids()[5],))
    employee = employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    await attendance.publish(enrolled(employee, batch), *[attended(employee, batch, n) for n in range(1, 6)])
    assert await attendance.wait_for(ATTENDED, 5, enrolment_id) == 5
    assert await attendance.sql(COMPLETIONS, enrolment_id) == 0

    await attendance.publish(attended(employee, batch, 6))
    assert await attendance.wait_for(COMPLETIONS, 1, enrolment_id) == 1


async def test_a_session_flagged_mandatory_when_scheduled_holds_back_whoever_missed_it(attendance):
    batch = BatchPlan()  # six sessions, 75%; the course names no mandatory session
    missed, came = employee_id("MISSED"), employee_id("CAME")
    await attendance.publish(enrolled(missed, batch), enrolled(came, batch))
    assert await attendance.wait_for("SELECT count(*) FROM enrolments", 2) == 2
    sessions = await attendance.schedule(batch, mandatory=(6,))
    assert [s["mandatory"] for s in sessions] == [False] * 5 + [True]

    for session in sessions[:5]:
        await mark(attendance, session, missed)
    for session in sessions[1:]:
        await mark(attendance, session, came)
    missed_id, came_id = (ids.enrolment_id(TENANT, e, batch.id) for e in (missed, came))
    assert await attendance.wait_for(COMPLETIONS, 1, came_id) == 1
    assert await attendance.wait_for(ATTENDED, 5, missed_id) == 5
    assert await attendance.sql(COMPLETIONS, missed_id) == 0  # 83.33%, but not the mandatory session

    # The flag holds back completion only: the progress figures are those of five sessions of six.
    progress = (await attendance.http.get(attendance.path(f"enrolments/{missed_id}/progress"))).json()
    assert (progress["sessions_attended"], progress["attendance_percent"], progress["status"]) == (5, 83.33, "attending")
    [(_, event)] = await completions_for(attendance, came_id)
    assert (event.data.basis.sessions_attended, event.data.basis.attendance_percent) == (5, 83.33)
    assert await completions_for(attendance, missed_id) == []

    # The officer clears the flag: whoever it alone held back completes at once, without another attendance,
    # and once only (clearing it again, or the next attendance, changes nothing).
    cleared = datetime.now(timezone.utc)
    assert [s["mandatory"] for s in await attendance.schedule(batch, [6])] == [False] * 6
    assert await attendance.wait_for(COMPLETIONS, 1, missed_id) == 1
    await attendance.schedule(batch, [6])
    await mark(attendance, sessions[5], missed)
    assert await attendance.wait_for(ATTENDED, 6, missed_id) == 6
    [(_, released)] = await completions_for(attendance, missed_id)
    assert (released.data.basis.sessions_attended, released.data.basis.attendance_percent) == (5, 83.33)
    assert released.causation_id is None  # met by the officer's change, not by an attendance
    # and dated then, not at the last attendance (the rule was not met when it was marked)
    assert cleared <= released.data.completed_at <= datetime.now(timezone.utc)
    assert len(await completions_for(attendance, came_id)) == 1


async def test_impossible_attendance_on_the_topic_is_dead_lettered_with_the_reason(attendance):
    from karmayogi_runtime.dead_letter_topics import read_dead_letters

    batch, employee = BatchPlan(), employee_id()
    await attendance.publish(enrolled(employee, batch))
    assert await attendance.wait_for("SELECT count(*) FROM enrolments", 1) == 1
    [scheduled] = await attendance.schedule(batch, [4])
    session = uuid.UUID(scheduled["id"])
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    await attendance.publish(
        attended(employee, batch, 1, starts_at=tomorrow),
        attended(employee, batch, 2, starts_at=session_start(1) - timedelta(days=30)),
        attended(employee, batch, 3, marked_at=datetime(2000, 1, 1, tzinfo=timezone.utc)),  # a reset clock
        # The session scheduled for 90 minutes at 10:00 on day 4, reported shorter or at another time:
        attended(employee, batch, 4, session_id=session, duration=5, minutes=5),
        attended(employee, batch, 4, session_id=session, starts_at=session_start(4) + timedelta(hours=1)),
        attended(employee, batch, 4, session_id=session, minutes=60),
    )
    assert await attendance.wait_for(ATTENDED, 1, ids.enrolment_id(TENANT, employee, batch.id)) == 1
    assert await attendance.sql("SELECT minutes FROM attendance WHERE session_id = $1", session) == 60
    await attendance.drained()
    letters = await read_dead_letters(attendance.bootstrap, [attendance.prefix + "session.attended.dlq"])
    reasons = [letter.why["error_message"] for letter in letters]  # one key: in the order published
    assert len(reasons) == 5
    assert "in the future: attendance can be marked once it has started" in reasons[0]
    assert "is outside the batch dates" in reasons[1]
    assert "The attendance is marked at 2000-01-01T05:30:00+05:30, more than 60 minutes before the session" in reasons[2]
    assert reasons[3] == f"Session {session} is scheduled for 90 minutes, but the report says 5 minutes."
    starts = session_start(4).astimezone(timezone.utc)
    assert reasons[4] == (f"Session {session} is scheduled to start at {starts.isoformat()}, but the report says "
                          f"{(starts + timedelta(hours=1)).isoformat()}.")
    assert {letter.why["error_class"] for letter in letters} == {"RuleViolation"}


async def test_six_attendances_handled_in_one_batch_complete_on_the_fifth_as_if_one_by_one(service_factory,
                                                                                            monkeypatch):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    async with service_factory() as attendance:
        await attendance.publish(enrolled(employee, batch))
        assert await attendance.wait_for("SELECT count(*) FROM enrolments", 1) == 1
    # Published while the service is stopped, the six wait on one partition and come in one poll.
    reports = [attended(employee, batch, n) for n in range(1, 7)]
    await attendance.publish(*reports)
    batches = []  # the size of every batch of attendances recorded together

    async def recorded(context, events, clock):
        await record_attendances(context, events, clock)
        batches.append(len(events))

    monkeypatch.setattr(handlers, "record_attendances", recorded)
    async with service_factory() as attendance:
        assert await attendance.wait_for(COMPLETIONS, 1, enrolment_id) == 1
        assert batches == [6]  # the batch path ran, and nothing fell back to one by one
        [(_, event)] = await completions_for(attendance, enrolment_id)
        assert (event.data.basis.sessions_attended, event.data.basis.attendance_percent) == (5, 83.33)
        assert event.data.completed_at == reports[4].data.marked_at
        assert event.causation_id == str(reports[4].id)
        assert await attendance.sql("SELECT attendance_percent FROM enrolments") == 100


async def test_reports_read_out_of_order_date_the_completion_when_the_rule_was_first_met(attendance):
    # Session 2 is mandatory: attended on day 2, but its report is read last, after day 6's.
    plain = BatchPlan()
    mandatory = BatchPlan(id=plain.id, mandatory=(plain.session_ids()[1],))
    late_mandatory = employee_id("MANDATORY")
    reports = {n: attended(late_mandatory, mandatory, n) for n in range(1, 7)}
    # The trainer's app sent session 5 on day 8 and was read first; the biometric device marked it on day 5.
    two_sources, other = employee_id("SOURCES"), BatchPlan()
    trainer = attended(two_sources, other, 5, marked_by="trainer", marked_at=session_start(8))
    biometric = [attended(two_sources, other, n) for n in (5, 1, 2, 3, 4)]
    await attendance.publish(enrolled(late_mandatory, mandatory), enrolled(two_sources, other))
    assert await attendance.wait_for("SELECT count(*) FROM enrolments", 2) == 2

    await attendance.publish(*(reports[n] for n in (1, 3, 4, 5, 6, 2)), trainer, *biometric)

    for employee, batch in ((late_mandatory, mandatory), (two_sources, other)):
        assert await attendance.wait_for(COMPLETIONS, 1, ids.enrolment_id(TENANT, employee, batch.id)) == 1
    [(_, met_on_day_5)] = await completions_for(attendance, ids.enrolment_id(TENANT, late_mandatory, mandatory.id))
    assert met_on_day_5.data.completed_at == reports[5].data.marked_at  # not day 6's, read before it
    assert met_on_day_5.causation_id == str(reports[2].id)  # the report that met the rule when it was read
    basis = met_on_day_5.data.basis  # the figures of day 5, as if the reports had been read in order
    assert (basis.sessions_attended, basis.attendance_percent) == (5, 83.33)
    [(_, first_mark)] = await completions_for(attendance, ids.enrolment_id(TENANT, two_sources, other.id))
    assert first_mark.data.completed_at == biometric[0].data.marked_at  # day 5, not the trainer's day 8
