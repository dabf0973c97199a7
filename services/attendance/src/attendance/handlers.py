"""The use cases on the event path, each one recipe in the caller's transaction: load, decide, save, publish.

`record_attendance` is the ONE place attendance is written, whoever reported it (this service's own
API, a biometric system, iGOT): the API only publishes `session.attended`, and this consumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from karmayogi_contracts import CloudEvent, EmployeeEnrolled, EmployeeUpdated, EnrolmentWithdrawn, SessionAttended, ids
from karmayogi_runtime.consumer import DependencyMissing, EventContext, RuleViolation

from attendance import domain, events
from attendance import repository as sql

# Taken by every writer of one enrolment's roster row (enrolled, withdrawn), so a withdrawal that
# arrives while its enrolment is being recorded is never lost between the two tables.
LOCK_ENROLMENT = "SELECT pg_advisory_xact_lock(hashtext($1))"


@dataclass(frozen=True)
class Clock:
    now: datetime
    zone: tzinfo


def waiting_for(enrolment_id: object) -> str:
    """The name parked attendances wait under (see `karmayogi_runtime.parking`)."""
    return f"enrolment:{enrolment_id}"


async def record_enrolment(context: EventContext, event: CloudEvent[EmployeeEnrolled]) -> None:
    data, connection = event.data, context.connection
    if data.enrolment_id != ids.enrolment_id(data.tenant, data.employee.id, data.batch.id):
        raise RuleViolation(f"enrolment_id {data.enrolment_id} is not the id of employee {data.employee.id} "
                            f"in batch {data.batch.id} (ids.enrolment_id).")
    batch, course, centre = data.batch, data.course.model_dump(mode="json"), data.batch.centre.model_dump(mode="json")
    await connection.execute(LOCK_ENROLMENT, waiting_for(data.enrolment_id))
    await connection.execute(sql.UPSERT_BATCH, data.tenant, batch.id, course, centre, batch.start_date,
                             batch.end_date, batch.mode, batch.sessions_planned, data.enrolled_at)
    await connection.execute(
        sql.INSERT_ENROLMENT, data.tenant, data.enrolment_id, data.employee.id, data.employee.name, batch.id, course,
        centre, batch.centre.id, batch.centre.district, batch.sessions_planned,
        data.completion_rule.minimum_attendance_percent, list(data.completion_rule.mandatory_session_ids),
        data.enrolled_at,
    )
    await keep_newest_name(connection, data.tenant, data.employee.id, data.employee.name, data.enrolled_at)
    context.arrived(waiting_for(data.enrolment_id))


async def record_withdrawal(context: EventContext, event: CloudEvent[EnrolmentWithdrawn]) -> None:
    """Kept even when the enrolment is not known yet: `record_enrolment` applies it on arrival."""
    data, connection = event.data, context.connection
    await connection.execute(LOCK_ENROLMENT, waiting_for(data.enrolment_id))
    await connection.execute(sql.INSERT_WITHDRAWAL, data.tenant, data.enrolment_id, data.employee_id, data.batch_id,
                             data.withdrawn_at, data.reason)
    await connection.execute(sql.MARK_WITHDRAWN, data.enrolment_id, data.withdrawn_at)


async def record_name_change(context: EventContext, event: CloudEvent[EmployeeUpdated]) -> None:
    """Only the name: the district and centre an enrolment is counted under are its training centre's, not the
    employee's posting. Kept for an employee with no enrolment here yet too: their enrolments take it."""
    data = event.data
    await keep_newest_name(context.connection, data.tenant, data.employee_id, data.employee.name, data.updated_at)


async def keep_newest_name(connection, tenant: str, employee_id: str, name: str, as_of: datetime) -> None:
    """Keep the employee's name if it is newer than the one kept, then put the newest onto their enrolments.

    The first statement locks the employee's row in `employee_names`, even when it changes nothing, so two
    writers of one employee's name (an enrolment and a change read from two topics) run one after the other,
    and the second's rename, a statement of its own, sees the enrolment the first recorded."""
    await connection.execute(sql.KEEP_NEWEST_NAME, tenant, employee_id, name, as_of)
    await connection.execute(sql.RENAME_EMPLOYEE, tenant, employee_id)


async def record_attendances(context: EventContext, batch: Sequence[CloudEvent[SessionAttended]], clock: Clock) -> None:
    """Record a batch of attendances (one event is a batch of one) with a few statements for the whole batch.

    Each event is checked first; the first that breaks a rule or waits for its enrolment raises, and the
    runner then applies the batch event by event, so only that one is dead-lettered or parked. Completion
    is evaluated after each event in turn, exactly as if they came one by one."""
    connection = context.connection
    enrolment_ids = [_checked(event, clock) for event in batch]
    sessions = {r["id"]: r for r in await connection.fetch(sql.SESSIONS_BY_ID, list({e.data.session.id for e in batch}))}
    enrolments = {r["enrolment_id"]: r for r in await connection.fetch(sql.ENROLMENTS_FOR_UPDATE, list(set(enrolment_ids)))}
    for event, enrolment_id in zip(batch, enrolment_ids):
        _check_against(event, sessions.get(event.data.session.id), enrolments.get(enrolment_id), clock)
    before = await connection.fetch(sql.REPORTS, list(enrolments))
    await connection.executemany(sql.RECORD_ATTENDANCE, [
        (e.data.tenant, enrolment_id, e.data.session.id, e.data.employee_id, e.data.minutes_attended,
         e.data.session.duration_minutes, e.data.session.starts_at, e.data.marked_at, e.data.marked_by)
        for e, enrolment_id in zip(batch, enrolment_ids)
    ])
    await connection.executemany(sql.RECORD_REPORT, [
        (e.data.tenant, enrolment_id, e.data.session.id, e.data.minutes_attended, e.data.session.duration_minutes,
         e.data.marked_at)
        for e, enrolment_id in zip(batch, enrolment_ids)
    ])
    await _evaluate(context, enrolments, before, list(zip(batch, enrolment_ids)))


def _checked(event: CloudEvent[SessionAttended], clock: Clock):
    data = event.data  # a session.attended: the runner dead-letters a type of another topic (`wrong_topic`)
    enrolment_id = ids.enrolment_id(data.tenant, data.employee_id, data.batch_id)
    if data.enrolment_id is not None and data.enrolment_id != enrolment_id:
        raise RuleViolation(f"enrolment_id {data.enrolment_id} is not the enrolment of employee {data.employee_id} "
                            f"in batch {data.batch_id}.")
    if problem := domain.attendance_problem(data.session.starts_at, data.marked_at, clock.now, clock.zone):
        raise RuleViolation(problem)
    return enrolment_id


def _check_against(event: CloudEvent[SessionAttended], session, enrolment, clock: Clock) -> None:
    """A session this service scheduled must be reported with its own batch, start and length; others (a
    state system's own sessions) are taken as reported, within the batch's dates."""
    data = event.data
    if session is not None:
        if session["tenant"] != data.tenant or session["batch_id"] != data.batch_id:
            raise RuleViolation(f"Session {data.session.id} belongs to another batch than {data.batch_id}.")
        if problem := domain.schedule_problem(data.session.id, (session["starts_at"], session["duration_minutes"]),
                                              (data.session.starts_at, data.session.duration_minutes)):
            raise RuleViolation(problem)
    if enrolment is None:
        enrolment_id = ids.enrolment_id(data.tenant, data.employee_id, data.batch_id)
        raise DependencyMissing(waiting_for(enrolment_id),
                                f"employee {data.employee_id} is not known to be enrolled in batch {data.batch_id} yet")
    if problem := domain.session_within_batch(data.session.starts_at, enrolment["start_date"], enrolment["end_date"],
                                              clock.zone):
        raise RuleViolation(problem)


async def _evaluate(context: EventContext, enrolments, before, applied) -> None:
    """Replay the batch's reports over those recorded before it, enrolment by enrolment; save the
    progress and, the first time the rule is met, publish the completion (exactly once), dated when the
    reports read until then first met it."""
    connection = context.connection
    mandatory = await _mandatory_in_batches(connection, [e for e in enrolments.values() if e["completed_at"] is None])
    reports: dict = {enrolment_id: [] for enrolment_id in enrolments}
    for r in before:
        reports[r["enrolment_id"]].append(_attended(r))
    reached: dict = {}
    for event, enrolment_id in applied:
        data, enrolment = event.data, enrolments[enrolment_id]
        reports[enrolment_id].append(
            domain.Attended(data.session.id, data.minutes_attended, data.session.duration_minutes, data.marked_at))
        batch_mandatory = mandatory.get(enrolment["batch_id"], frozenset())
        if enrolment["completed_at"] is None and enrolment_id not in reached and domain.completion_reached(
            _rule(enrolment), enrolment["sessions_planned"], reports[enrolment_id],
            withdrawn=enrolment["withdrawn_at"] is not None, batch_mandatory=batch_mandatory,
        ):
            reached[enrolment_id] = (*_dated(enrolment, reports[enrolment_id], batch_mandatory), event)
    progress = {i: domain.progress(enrolments[i]["sessions_planned"], reports[i]) for i in enrolments}
    await connection.executemany(sql.SAVE_PROGRESS, [(i, p.sessions_attended, p.rounded_percent)
                                                     for i, p in progress.items()])
    for completion in await _record_completions(connection, enrolments, reached):
        await context.publish(completion)


async def complete_released(connection, batch_id, cleared_at: datetime, correlation_id: str | None) -> list[CloudEvent]:
    """The completions of a batch whose mandatory flag a training officer cleared at `cleared_at`: every
    enrolment the rule now admits, recorded exactly once, and dated when the rule was met, that is when the
    flag was cleared (or when the reports first met the rule without it, should that be later: a device
    clock ahead by a few minutes); the caller adds them to the outbox in its transaction. The rows are
    locked as the consumer locks them, so an attendance applied at the same time is counted by one of the two."""
    enrolments = {r["enrolment_id"]: r for r in await connection.fetch(sql.OPEN_ENROLMENTS_OF_BATCH_FOR_UPDATE, batch_id)}
    if not enrolments:
        return []
    mandatory = (await _mandatory_in_batches(connection, enrolments.values())).get(batch_id, frozenset())
    reports: dict = {enrolment_id: [] for enrolment_id in enrolments}
    for r in await connection.fetch(sql.REPORTS, list(enrolments)):
        reports[r["enrolment_id"]].append(_attended(r))
    reached = {
        enrolment_id: (*_dated(enrolment, reports[enrolment_id], mandatory, not_before=cleared_at), None)
        for enrolment_id, enrolment in enrolments.items()
        if domain.completion_reached(_rule(enrolment), enrolment["sessions_planned"], reports[enrolment_id],
                                     withdrawn=False, batch_mandatory=mandatory)
    }
    return await _record_completions(connection, enrolments, reached, correlation_id)


async def _record_completions(connection, enrolments, reached, correlation_id: str | None = None) -> list[CloudEvent]:
    """Record the completions `reached` (enrolment id -> figures, time, cause) once each; their events."""
    if not reached:
        return []
    rows = [(enrolments[i]["tenant"], i, ids.completion_id(enrolments[i]["tenant"], i), at)
            for i, (_, at, _) in reached.items()]
    recorded = await connection.fetch(sql.RECORD_COMPLETIONS, *map(list, zip(*rows)))  # the exactly-once guard
    completions = []
    for row in recorded:
        figures, at, cause = reached[row["enrolment_id"]]
        completions.append(events.completed(enrolments[row["enrolment_id"]], figures, at=at, cause=cause,
                                            correlation_id=correlation_id))
    return completions


def _dated(enrolment, reports, batch_mandatory, not_before: datetime | None = None) -> tuple[domain.Progress, datetime]:
    """A completion's figures and time: when `reports`, which meet the rule, first met it (not before
    `not_before`), with the figures of that moment."""
    at = domain.first_met(_rule(enrolment), enrolment["sessions_planned"], reports, batch_mandatory=batch_mandatory)
    at = at if not_before is None else max(at, not_before)
    return domain.progress_at(at, enrolment["sessions_planned"], reports), at


def _attended(row) -> domain.Attended:
    """A report (`sql.REPORTS`) as the completion rule reads it."""
    return domain.Attended(row["session_id"], row["minutes"], row["duration_minutes"], row["marked_at"])


async def _mandatory_in_batches(connection, enrolments) -> dict:
    """The sessions flagged mandatory in each batch of these enrolments, in one query for them all."""
    rows = await connection.fetch(sql.MANDATORY_SESSIONS, list({e["batch_id"] for e in enrolments}))
    return {r["batch_id"]: frozenset(r["ids"]) for r in rows}


def _rule(enrolment) -> domain.Rule:
    return domain.Rule(enrolment["minimum_attendance_percent"], frozenset(enrolment["mandatory_session_ids"]))
