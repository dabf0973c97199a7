"""The use cases on the event path, each one recipe in the caller's transaction: load, decide, save, publish.

`record_attendance` is the ONE place attendance is written, whoever reported it (this service's own
API, a biometric system, iGOT): the API only publishes `session.attended`, and this consumes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from karmayogi_contracts import CloudEvent, EmployeeEnrolled, EnrolmentWithdrawn, SessionAttended, ids
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
    context.arrived(waiting_for(data.enrolment_id))


async def record_withdrawal(context: EventContext, event: CloudEvent[EnrolmentWithdrawn]) -> None:
    """Kept even when the enrolment is not known yet: `record_enrolment` applies it on arrival."""
    data, connection = event.data, context.connection
    await connection.execute(LOCK_ENROLMENT, waiting_for(data.enrolment_id))
    await connection.execute(sql.INSERT_WITHDRAWAL, data.tenant, data.enrolment_id, data.employee_id, data.batch_id,
                             data.withdrawn_at, data.reason)
    await connection.execute(sql.MARK_WITHDRAWN, data.enrolment_id, data.withdrawn_at)


async def record_attendance(context: EventContext, event: CloudEvent[SessionAttended], clock: Clock) -> None:
    data, connection = event.data, context.connection
    enrolment_id = ids.enrolment_id(data.tenant, data.employee_id, data.batch_id)
    if data.enrolment_id is not None and data.enrolment_id != enrolment_id:
        raise RuleViolation(f"enrolment_id {data.enrolment_id} is not the enrolment of employee {data.employee_id} "
                            f"in batch {data.batch_id}.")
    if problem := domain.attendance_problem(data.session.starts_at, data.marked_at, clock.now):
        raise RuleViolation(problem)
    await _check_session(connection, data)
    enrolment = await connection.fetchrow(sql.ENROLMENT_FOR_UPDATE, enrolment_id)
    if enrolment is None:
        raise DependencyMissing(waiting_for(enrolment_id),
                                f"employee {data.employee_id} is not known to be enrolled in batch {data.batch_id} yet")
    if problem := domain.session_within_batch(data.session.starts_at, enrolment["start_date"], enrolment["end_date"],
                                              clock.zone):
        raise RuleViolation(problem)
    await connection.execute(
        sql.RECORD_ATTENDANCE, data.tenant, enrolment_id, data.session.id, data.employee_id, data.minutes_attended,
        data.session.duration_minutes, data.session.starts_at, data.marked_at, data.marked_by,
    )
    await _evaluate(context, enrolment, event)


async def _check_session(connection, data: SessionAttended) -> None:
    """A session this service scheduled must be reported with its own batch; others (a state system's
    own sessions) are taken as reported."""
    known = await connection.fetchrow(sql.SESSION_BY_ID, data.session.id)
    if known is not None and (known["tenant"] != data.tenant or known["batch_id"] != data.batch_id):
        raise RuleViolation(f"Session {data.session.id} belongs to another batch than {data.batch_id}.")


async def _evaluate(context: EventContext, enrolment, cause: CloudEvent) -> None:
    """Save the progress and, the first time the rule is met, publish the completion (exactly once)."""
    connection = context.connection
    rows = await connection.fetch(sql.ATTENDED, enrolment["enrolment_id"])
    attended = [domain.Attended(r["session_id"], r["minutes"], r["duration_minutes"]) for r in rows]
    progress = domain.progress(enrolment["sessions_planned"], attended)
    await connection.execute(sql.SAVE_PROGRESS, enrolment["enrolment_id"], progress.sessions_attended,
                             progress.rounded_percent)
    rule = domain.Rule(enrolment["minimum_attendance_percent"], frozenset(enrolment["mandatory_session_ids"]))
    withdrawn = enrolment["withdrawn_at"] is not None
    if enrolment["completed_at"] is not None or not domain.completion_reached(
        rule, enrolment["sessions_planned"], attended, withdrawn=withdrawn
    ):
        return
    # When the rule was met: the latest report that counts, so a re-run over the same events agrees.
    at = max(r["marked_at"] for r in rows if r["minutes"] > 0)
    completion_id = ids.completion_id(enrolment["tenant"], enrolment["enrolment_id"])
    if await connection.fetchval(sql.RECORD_COMPLETION, enrolment["tenant"], enrolment["enrolment_id"],
                                 completion_id, at) is None:
        return
    await connection.execute(sql.MARK_COMPLETED, enrolment["enrolment_id"], at)
    await context.publish(events.completed(enrolment, progress, at=at, cause=cause))
