"""The HTTP API for trainers and state systems, thin: validate, one transaction, a use case, answer.

The tenant (the state's ISO 3166-2 code) is a path segment: `/v1/states/IN-HR/...`. Marking answers
202: the attendance is published, and recorded when this service consumes it a moment later.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from karmayogi_contracts.fields import EMPLOYEE_ID_PATTERN, UtcDatetime
from karmayogi_runtime.http import Pool, Problem, problem_answer
from karmayogi_runtime.logs import correlation_id
from pydantic import BaseModel, ConfigDict, Field

from attendance import bulk, marking
from attendance.bulk import BadLine, Mark
from attendance.handlers import Clock
from attendance.marking import Outcome, PlannedSession, Refused

router = APIRouter(prefix="/v1")
Tenant = Annotated[str, Path(pattern=r"^IN-[A-Z]{2}$", description="The state's ISO 3166-2 code.", examples=["IN-HR"])]
EmployeeId = Annotated[str, Path(pattern=EMPLOYEE_ID_PATTERN, description="The employee's HRMS id.")]
MarkedBy = Literal["trainer", "biometric", "igot", "admin"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionIn(Strict):
    starts_at: UtcDatetime = Field(examples=["2026-11-16T10:00:00+05:30"])
    duration_minutes: int = Field(ge=1, le=1440, examples=[90])
    mode: Literal["classroom", "online"] = "classroom"
    mandatory: bool | None = Field(None, description="Every enrolled employee must attend this session to complete "
                                   "the course, whatever their percentage. Left out: not mandatory for a new session, "
                                   "unchanged for one scheduled before.")


class ScheduleIn(Strict):
    sessions: list[SessionIn] = Field(min_length=1, max_length=200)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"sessions": [
        {"starts_at": "2026-11-16T10:00:00+05:30", "duration_minutes": 90, "mode": "classroom"},
        {"starts_at": "2026-11-17T10:00:00+05:30", "duration_minutes": 90, "mode": "classroom", "mandatory": True}]}]})


class SessionOut(BaseModel):
    id: UUID
    batch_id: UUID
    starts_at: datetime
    duration_minutes: int
    mode: str
    mandatory: bool


class AttendeeIn(Strict):
    employee_id: str = Field(pattern=EMPLOYEE_ID_PATTERN, examples=["HR0012345"])
    minutes_attended: int | None = Field(None, ge=0, le=1440, description="Empty: the whole session.")


class MarkListIn(Strict):
    marked_by: MarkedBy = "trainer"
    attendees: list[AttendeeIn] = Field(min_length=1, max_length=1000)


class MarkOneIn(Strict):
    marked_by: MarkedBy = "trainer"
    minutes_attended: int | None = Field(None, ge=0, le=1440, description="Empty: the whole session.")


class OutcomeOut(BaseModel):
    line: int
    employee_id: str | None
    session_id: UUID | None
    status: marking.Status
    reason: str | None = None
    attendance_id: UUID | None = None


class MarkOut(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    rows: list[OutcomeOut]


# The answers besides each route's success and 422, for the OpenAPI document.
UNKNOWN_BATCH = {404: problem_answer("No batch with this id is known in the state: it is known once someone is "
                                     "enrolled in it")}
UNKNOWN_SESSION = {404: problem_answer("No session with this id is scheduled in the state")}
PLAN_EXCEEDED = {409: problem_answer("The batch would have more sessions than it plans")}
IMPORT_REFUSED = {
    400: problem_answer("The file cannot be imported as a whole: it is empty, its first line is not a CSV header "
                        "with the required columns (and no others) or a JSON object with the required fields, or a "
                        "line is not UTF-8 text or is too long; nothing was recorded"),
    413: problem_answer(f"The file has more than {bulk.MAX_FILE_LINES:,} lines or "
                        f"{bulk.MAX_FILE_BYTES // 2**20} MiB; nothing was recorded"),
    415: problem_answer("The Content-Type is neither text/csv nor application/x-ndjson; nothing was recorded"),
}


def clock(request: Request) -> Clock:
    return Clock(now=datetime.now(timezone.utc), zone=request.app.state.runtime.definition.settings.zone())


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as connection:
        try:
            async with connection.transaction():
                yield connection
        except Refused as refused:
            if refused.status == 422:
                raise RequestValidationError([{"loc": (), "msg": s} for s in refused.sentences]) from None
            raise Problem(refused.status, " ".join(refused.sentences)) from None


@router.post("/states/{tenant}/batches/{batch_id}/sessions", status_code=201, response_model=list[SessionOut],
             tags=["sessions"], summary="Schedule sessions of a batch, flagging the mandatory ones",
             responses={**UNKNOWN_BATCH, **PLAN_EXCEEDED},
             description="Adds sessions (each within the batch's dates) to a batch known from its enrolments. An "
                         "employee completes the course only after attending every session flagged `mandatory`, "
                         "whatever their percentage, as well as any mandatory session the course's completion rule "
                         "names; the flag changes no progress figure. Scheduling the same start time again changes "
                         "nothing but the flag, and only when one is sent (a plan sent again without flags keeps them). A flag set "
                         "after an employee completed does not undo the completion; clearing one completes at once "
                         "every employee it alone held back. Answers every session "
                         "of the batch.")
async def schedule_sessions(tenant: Tenant, batch_id: UUID, body: ScheduleIn, pool: Pool, request: Request) -> list[dict]:
    plan = [PlannedSession(s.starts_at, s.duration_minutes, s.mode, s.mandatory) for s in body.sessions]
    async with transaction(pool) as connection:
        return [dict(r) for r in await marking.schedule(connection, tenant, batch_id, plan, clock(request),
                                                        correlation_id.get())]


@router.get("/states/{tenant}/batches/{batch_id}/sessions", response_model=list[SessionOut], tags=["sessions"],
            summary="Sessions of a batch", responses=UNKNOWN_BATCH)
async def list_sessions(tenant: Tenant, batch_id: UUID, pool: Pool) -> list[dict]:
    async with transaction(pool) as connection:
        await marking.known_batch(connection, tenant, batch_id)
        return [dict(r) for r in await connection.fetch(marking.sql.SESSIONS_OF_BATCH, tenant, batch_id)]


async def _mark_session(pool: asyncpg.Pool, request: Request, tenant: str, session_id: UUID, marks: list[Mark],
                        marked_by: str) -> MarkOut:
    async with transaction(pool) as connection:
        if await connection.fetchrow(marking.sql.SESSION, tenant, session_id) is None:
            raise Refused(404, f"No session {session_id} is scheduled in {tenant}.")
        outcomes = await marking.mark(connection, tenant, marks, marked_by, clock(request), correlation_id.get())
        if rejected := [o.reason for o in outcomes if o.status == "rejected"]:
            raise Refused(422, *rejected)  # a trainer's list is all or nothing
    return report(outcomes, [])


@router.post("/states/{tenant}/sessions/{session_id}/attendance", status_code=202, response_model=MarkOut,
             tags=["attendance"], summary="Mark attendance for a session (a list of employees)",
             responses=UNKNOWN_SESSION,
             description="All or nothing: if any employee cannot be marked, nothing is and every problem is "
                         "answered. An employee already marked with as many minutes or more is reported as a "
                         "duplicate; a mark of more minutes raises what is recorded.")
async def mark_session(tenant: Tenant, session_id: UUID, body: MarkListIn, pool: Pool, request: Request) -> MarkOut:
    marks = [Mark(i + 1, a.employee_id, session_id, a.minutes_attended) for i, a in enumerate(body.attendees)]
    return await _mark_session(pool, request, tenant, session_id, marks, body.marked_by)


@router.put("/states/{tenant}/sessions/{session_id}/attendance/{employee_id}", status_code=202, response_model=MarkOut,
            tags=["attendance"], summary="Mark one employee present at a session", responses=UNKNOWN_SESSION)
async def mark_one(tenant: Tenant, session_id: UUID, employee_id: EmployeeId, pool: Pool, request: Request,
                   body: Annotated[MarkOneIn | None, Body()] = None) -> MarkOut:
    body = body or MarkOneIn()
    return await _mark_session(pool, request, tenant, session_id, [Mark(1, employee_id, session_id, body.minutes_attended)],
                               body.marked_by)


@router.post("/states/{tenant}/attendance-imports", status_code=202, response_model=MarkOut, tags=["attendance"],
             summary=f"Import attendance from a state system (CSV or NDJSON, up to {bulk.MAX_FILE_LINES:,} lines)",
             responses=IMPORT_REFUSED,
             description="Columns: employee_id, session_id, minutes_attended (empty: whole session), marked_at "
                         "(RFC 3339; empty: now), and no others: a CSV header naming another column is refused "
                         "(400, nothing recorded), and an NDJSON line with another field is rejected. An empty "
                         "file is refused (400). Every line gets a status: accepted, duplicate or rejected with "
                         "the reason. Committed in chunks of 1,000 rows: sending the same file again is safe. At "
                         f"most {bulk.MAX_FILE_LINES:,} lines and {bulk.MAX_FILE_BYTES // 2**20} MiB a file (413 "
                         "otherwise, with nothing recorded).")
async def import_attendance(tenant: Tenant, request: Request, pool: Pool,
                            marked_by: Annotated[MarkedBy, Query(description="The system the file comes from.")] = "biometric") -> MarkOut:
    kind = bulk.file_format(request.headers.get("content-type"))
    if kind is None:
        raise Problem(415, "Send the file with Content-Type text/csv or application/x-ndjson.")
    try:
        outcomes: list[Outcome] = []
        bad: list[BadLine] = []
        earlier: marking.Earlier = {}  # across chunks: a mark repeated anywhere in the file is a duplicate
        async with bulk.received(request.stream()) as stream:
            async for chunk in bulk.rows(stream, kind):
                bad += [row for row in chunk if isinstance(row, BadLine)]
                marks = [row for row in chunk if isinstance(row, Mark)]
                async with transaction(pool) as connection:
                    outcomes += await marking.mark(connection, tenant, marks, marked_by, clock(request),
                                                   correlation_id.get(), earlier)
    except bulk.MalformedFile as malformed:
        raise Problem(400, str(malformed)) from None
    except bulk.TooLarge as too_large:
        raise Problem(413, str(too_large)) from None
    return report(outcomes, bad)


def report(outcomes: list[Outcome], bad: list[BadLine]) -> MarkOut:
    rows = [OutcomeOut(line=o.line, employee_id=o.employee_id, session_id=o.session_id, status=o.status,
                       reason=o.reason, attendance_id=o.attendance_id) for o in outcomes]
    rows += [OutcomeOut(line=b.line, employee_id=b.employee_id, session_id=None, status="rejected",
                        reason=f"Line {b.line} {b.reason}")
             for b in bad]
    rows.sort(key=lambda r: r.line)
    count = {status: sum(r.status == status for r in rows) for status in ("accepted", "duplicate", "rejected")}
    return MarkOut(**count, rows=rows)
