"""The use cases behind the API: scheduling sessions, and marking attendance.

Marking never writes attendance: it checks each mark against what this service knows (the session,
the roster, the clock), and publishes `session.attended` through the outbox for the ones that hold.
The consumer of `session.attended` then records them like any state system's report (one write path).
A session keeps the most minutes any report gave (`domain`), so a mark is a duplicate, reported and not
published, when it gives no more minutes than are already recorded, or than an earlier line of the same
request or import gave; a mark of more minutes is published and raises what is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal
from uuid import UUID, uuid5

import asyncpg
from karmayogi_contracts import ids
from karmayogi_runtime import outbox

from attendance import domain, events, handlers
from attendance import repository as sql
from attendance.bulk import Mark
from attendance.handlers import Clock

Status = Literal["accepted", "duplicate", "rejected"]
# The marks accepted so far in one import: attendance id -> (minutes, line).
Earlier = dict[UUID, tuple[int, int]]


class Refused(Exception):
    """The request cannot be done as asked; answered as `status` with these sentences."""

    def __init__(self, status: int, *sentences: str) -> None:
        super().__init__(" ".join(sentences))
        self.status = status
        self.sentences = list(sentences)


@dataclass(frozen=True)
class PlannedSession:
    starts_at: datetime
    duration_minutes: int
    mode: str
    mandatory: bool | None  # None: as it is (not mandatory for a new session)


@dataclass(frozen=True)
class Outcome:
    line: int
    employee_id: str
    session_id: UUID
    status: Status
    reason: str | None = None
    attendance_id: UUID | None = None


def session_id(tenant: str, batch_id: UUID, starts_at: datetime) -> UUID:
    """One session per batch and start time: scheduling the same plan twice changes nothing. Being of one
    batch, the id cannot be named in a course's completion rule: such a session is flagged mandatory."""
    return uuid5(ids.NAMESPACE, f"session:{tenant}:{batch_id}:{starts_at.astimezone(timezone.utc).isoformat()}")


async def known_batch(connection: asyncpg.Connection, tenant: str, batch_id: UUID) -> asyncpg.Record:
    batch = await connection.fetchrow(sql.BATCH, tenant, batch_id)
    if batch is None:
        raise Refused(404, f"No batch {batch_id} is known in {tenant}: sessions can be scheduled once someone "
                           "is enrolled in the batch.")
    return batch


async def schedule(connection: asyncpg.Connection, tenant: str, batch_id: UUID, plan: Sequence[PlannedSession],
                   clock: Clock, correlation_id: str | None = None) -> list[asyncpg.Record]:
    await connection.execute(sql.LOCK_BATCH, batch_id)
    batch = await known_batch(connection, tenant, batch_id)
    problems = [p for s in plan if (p := domain.session_within_batch(s.starts_at, batch["start_date"],
                                                                      batch["end_date"], clock.zone))]
    if problems:
        raise Refused(422, *dict.fromkeys(problems))
    flagged = {r["id"] for r in await connection.fetch(sql.SESSIONS_OF_BATCH, tenant, batch_id) if r["mandatory"]}
    for session in plan:
        await connection.execute(sql.INSERT_SESSION, tenant, session_id(tenant, batch_id, session.starts_at),
                                 batch_id, session.starts_at, session.duration_minutes, session.mode, session.mandatory)
    scheduled = await connection.fetch(sql.SESSIONS_OF_BATCH, tenant, batch_id)
    if len(scheduled) > batch["sessions_planned"]:
        # This service learns the plan only from employee.enrolled, and the enrolment service keeps it fixed once
        # anyone is enrolled: a change of the plan cannot be advised, only another batch.
        raise Refused(409, f"Batch {batch_id} plans {batch['sessions_planned']} sessions; scheduling these would "
                           f"make {len(scheduled)}. The number of sessions a batch plans is fixed once "
                           "employees are enrolled: schedule the extra sessions in another batch.")
    if flagged - {r["id"] for r in scheduled if r["mandatory"]}:  # a flag cleared: whoever it alone held back completes
        await outbox.add_many(connection, await handlers.complete_released(connection, batch_id, clock.now,
                                                                          correlation_id))
    return scheduled


async def mark(connection: asyncpg.Connection, tenant: str, marks: Sequence[Mark], marked_by: str,
               clock: Clock, correlation_id: str | None = None, earlier: Earlier | None = None) -> list[Outcome]:
    """Check every mark, publish the good ones in the caller's transaction, and say what became of each.

    `earlier` holds the marks accepted by earlier calls of the same import (its earlier chunks), and
    is updated with this call's, so a mark repeated anywhere in a file is seen as such."""
    earlier = {} if earlier is None else earlier
    sessions = {r["id"]: r for r in await connection.fetch(
        sql.SESSIONS_BY_IDS, tenant, list({m.session_id for m in marks}))}
    enrolment_of = {m: ids.enrolment_id(tenant, m.employee_id, sessions[m.session_id]["batch_id"])
                    for m in marks if m.session_id in sessions}
    enrolments = {r["enrolment_id"]: r for r in await connection.fetch(sql.ENROLMENTS, list(set(enrolment_of.values())))}
    recorded = {(r["enrolment_id"], r["session_id"]): r["minutes"] for r in await connection.fetch(
        sql.KNOWN_ATTENDANCE, list(set(enrolment_of.values())), list(sessions))}
    outcomes, publish = [], []
    for m in marks:
        session = sessions.get(m.session_id)
        enrolment = enrolments.get(enrolment_of.get(m))
        reason = _problem(m, session, enrolment, clock)
        if reason is not None:
            outcomes.append(Outcome(m.line, m.employee_id, m.session_id, "rejected", reason))
            continue
        attendance_id = ids.attendance_id(tenant, m.employee_id, m.session_id)
        minutes = session["duration_minutes"] if m.minutes is None else m.minutes
        known = recorded.get((enrolment["enrolment_id"], m.session_id))
        if reason := _adds_nothing(minutes, known, earlier.get(attendance_id)):
            outcomes.append(Outcome(m.line, m.employee_id, m.session_id, "duplicate", reason, attendance_id))
            continue
        earlier[attendance_id] = (minutes, m.line)
        publish.append(events.attended(tenant, m.employee_id, session, minutes=minutes, marked_by=marked_by,
                                       marked_at=m.marked_at or clock.now, enrolment_id=enrolment["enrolment_id"],
                                       correlation_id=correlation_id))
        outcomes.append(Outcome(m.line, m.employee_id, m.session_id, "accepted", None, attendance_id))
    await outbox.add_many(connection, publish)
    return outcomes


def _adds_nothing(minutes: int, recorded: int | None, earlier: tuple[int, int] | None) -> str | None:
    """Why a mark of `minutes` would change nothing, or None: a session keeps the most minutes reported."""
    if recorded is not None and recorded >= minutes:
        return f"This attendance is already recorded with {recorded} minutes."
    if earlier is not None and earlier[0] >= minutes:
        return f"Line {earlier[1]} already marks this attendance with {earlier[0]} minutes."
    return None


def _problem(m: Mark, session, enrolment, clock: Clock) -> str | None:
    if session is None:
        return f"No session {m.session_id} is scheduled in this state."
    if enrolment is None:
        return f"Employee {m.employee_id} is not enrolled in batch {session['batch_id']} of session {m.session_id}."
    if enrolment["withdrawn_at"] is not None:
        return f"Employee {m.employee_id} withdrew from batch {session['batch_id']}; attendance cannot be marked."
    if m.minutes is not None and m.minutes > session["duration_minutes"]:
        return (f"minutes_attended {m.minutes} is more than the session's {session['duration_minutes']} minutes.")
    return domain.attendance_problem(session["starts_at"], m.marked_at or clock.now, clock.now, clock.zone)
