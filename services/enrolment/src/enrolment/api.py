"""The HTTP API, thin: every route validates, opens one transaction, calls a handler, answers.

The tenant (the state's ISO 3166-2 code) is a path segment: `/v1/states/IN-HR/...`.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone, tzinfo
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from karmayogi_runtime.http import Pool, Problem, problem_answer
from karmayogi_runtime.logs import correlation_id

from enrolment import directory, domain, handlers
from enrolment import repository as sql
from enrolment.handlers import Clock, Refused
from enrolment.schemas import (
    BatchIn, BatchOut, BatchPatch, CentreIn, CentreOut, CentrePatch, CourseIn, CourseOut, CoursePatch, EmployeeIn,
    EmployeeOut, OffsetPage, Page, batch_out, course_out,
)

router = APIRouter(prefix="/v1")
Tenant = Annotated[str, Path(pattern=r"^IN-[A-Z]{2}$", description="The state's ISO 3166-2 code.", examples=["IN-HR"])]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size, at most 500.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def state_zone(request: Request) -> tzinfo:
    return request.app.state.runtime.definition.settings.zone()


def clock(request: Request) -> Clock:
    return Clock.at(datetime.now(timezone.utc), state_zone(request))


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One transaction; a refusal from the rules becomes a 4xx with one sentence per problem."""
    async with pool.acquire() as connection:
        try:
            async with connection.transaction():
                yield connection
        except Refused as refused:
            raise answer(refused) from None


def answer(refused: Refused) -> Exception:
    if refused.status == 422:
        return RequestValidationError([{"loc": (), "msg": sentence} for sentence in refused.sentences])
    return Problem(refused.status, " ".join(refused.sentences))


def found(row: Any, what: str, tenant: str) -> Any:
    """`row`, or a 404 naming `what` was not found in the state `tenant` (it may be another state's)."""
    if row is None:
        raise Problem(404, f"No {what} exists in {tenant}.")
    return row


def not_found(what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answer of a route that `found` one `what` by its id."""
    return {404: problem_answer(f"No {what} has this id in the state")}


# Lists are read one item beyond the page (`limit + 1`), so that `next` is given only when another item
# follows: a full last page then ends the list instead of leading to an empty one.
def page(items: list[Any], limit: int, offset: int) -> OffsetPage:
    """A page by position of `items`, read with `limit + 1`."""
    return OffsetPage(items=items[:limit], next=str(offset + limit) if len(items) > limit else None)


def keyset_page(rows: list[Any], limit: int, item: Callable[[Any], Any], key: str) -> Page:
    """A page of `rows`, read with `limit + 1` in the order of `key`; `next` is the last shown row's `key`."""
    return Page(items=[item(row) for row in rows[:limit]], next=str(rows[limit - 1][key]) if len(rows) > limit else None)


# --- courses ---------------------------------------------------------------------------------------------


@router.post("/states/{tenant}/courses", status_code=201, response_model=CourseOut, tags=["courses"],
             summary="Create a course with its competencies and completion rule")
async def create_course(tenant: Tenant, course: CourseIn, pool: Pool) -> CourseOut:
    async with transaction(pool) as connection:
        return course_out(await connection.fetchrow(sql.INSERT_COURSE, tenant, uuid4(), *_course_values(course)))


@router.get("/states/{tenant}/courses", response_model=OffsetPage, tags=["courses"], summary="List courses")
async def list_courses(tenant: Tenant, pool: Pool, family: str | None = None, limit: Limit = 100, offset: Offset = 0) -> OffsetPage:
    async with pool.acquire() as connection:
        rows = await connection.fetch(sql.LIST_COURSES, tenant, family, limit + 1, offset)
    return page([course_out(row) for row in rows], limit, offset)


@router.get("/states/{tenant}/courses/{course_id}", response_model=CourseOut, tags=["courses"], summary="Read a course",
            responses=not_found("course"))
async def get_course(tenant: Tenant, course_id: UUID, pool: Pool) -> CourseOut:
    async with pool.acquire() as connection:
        return course_out(found(await connection.fetchrow(sql.GET_COURSE, tenant, course_id), f"course {course_id}", tenant))


@router.patch("/states/{tenant}/courses/{course_id}", response_model=CourseOut, tags=["courses"],
              summary="Change a course; enrolments keep the completion rule they were made under",
              responses=not_found("course"))
async def update_course(tenant: Tenant, course_id: UUID, patch: CoursePatch, pool: Pool) -> CourseOut:
    async with transaction(pool) as connection:
        current = course_out(found(await connection.fetchrow(sql.GET_COURSE, tenant, course_id), f"course {course_id}", tenant))
        changed = CourseIn.model_validate({**current.model_dump(include=set(CourseIn.model_fields)),
                                           **patch.model_dump(exclude_unset=True)})
        return course_out(await connection.fetchrow(sql.UPDATE_COURSE, tenant, course_id, *_course_values(changed)))


def _course_values(course: CourseIn) -> tuple:
    return (course.title, [c.model_dump() for c in course.competencies], course.completion_rule.minimum_attendance_percent,
            course.completion_rule.mandatory_session_ids, course.trains_trainers, course.family)


# --- centres ---------------------------------------------------------------------------------------------


@router.post("/states/{tenant}/centres", status_code=201, response_model=CentreOut, tags=["centres"],
             summary="Create a training centre: a hub, or a spoke that belongs to a hub")
async def create_centre(tenant: Tenant, centre: CentreIn, pool: Pool) -> CentreOut:
    async with transaction(pool) as connection:
        await _check_hub(connection, tenant, centre.tier, centre.hub_id)
        row = await connection.fetchrow(sql.INSERT_CENTRE, tenant, uuid4(), centre.name, centre.tier, centre.district,
                                        centre.hub_id)
        return CentreOut.model_validate(dict(row))


@router.get("/states/{tenant}/centres", response_model=OffsetPage, tags=["centres"], summary="List centres")
async def list_centres(tenant: Tenant, pool: Pool, tier: Literal["hub", "spoke"] | None = None,
                       district: str | None = None, hub_id: UUID | None = None, limit: Limit = 100,
                       offset: Offset = 0) -> OffsetPage:
    async with pool.acquire() as connection:
        rows = await connection.fetch(sql.LIST_CENTRES, tenant, tier, district, hub_id, limit + 1, offset)
    return page([CentreOut.model_validate(dict(row)) for row in rows], limit, offset)


@router.get("/states/{tenant}/centres/{centre_id}", response_model=CentreOut, tags=["centres"], summary="Read a centre",
            responses=not_found("centre"))
async def get_centre(tenant: Tenant, centre_id: UUID, pool: Pool) -> CentreOut:
    async with pool.acquire() as connection:
        row = found(await connection.fetchrow(sql.GET_CENTRE, tenant, centre_id), f"centre {centre_id}", tenant)
    return CentreOut.model_validate(dict(row))


@router.patch("/states/{tenant}/centres/{centre_id}", response_model=CentreOut, tags=["centres"],
              summary="Rename a centre, or move a spoke to another hub (the tier never changes)",
              responses=not_found("centre"))
async def update_centre(tenant: Tenant, centre_id: UUID, patch: CentrePatch, pool: Pool) -> CentreOut:
    async with transaction(pool) as connection:
        current = found(await connection.fetchrow(sql.GET_CENTRE, tenant, centre_id), f"centre {centre_id}", tenant)
        changed = {**dict(current), **patch.model_dump(exclude_unset=True)}
        await _check_hub(connection, tenant, current["tier"], changed["hub_id"])
        row = await connection.fetchrow(sql.UPDATE_CENTRE, tenant, centre_id, changed["name"], changed["district"],
                                        changed["hub_id"])
        return CentreOut.model_validate(dict(row))


async def _check_hub(connection: asyncpg.Connection, tenant: str, tier: str, hub_id: UUID | None) -> None:
    hub = await connection.fetchrow(sql.GET_CENTRE, tenant, hub_id) if hub_id else None
    if problems := domain.centre_problems(tenant, tier, hub_id, hub["tier"] if hub else None):
        raise Refused(*problems)


# --- batches ---------------------------------------------------------------------------------------------


@router.post("/states/{tenant}/batches", status_code=201, response_model=BatchOut, tags=["batches"],
             summary="Create a batch; a spoke batch's trainers must be master trainers of the course family")
async def create_batch(tenant: Tenant, batch: BatchIn, pool: Pool, request: Request) -> BatchOut:
    async with transaction(pool) as connection:
        course = await connection.fetchrow(sql.GET_COURSE, tenant, batch.course_id)
        centre = await connection.fetchrow(sql.GET_CENTRE, tenant, batch.centre_id)
        problems = [f"course_id: no course {batch.course_id} exists in {tenant}." if course is None else "",
                    f"centre_id: no centre {batch.centre_id} exists in {tenant}." if centre is None else "",
                    domain.batch_date_problem(batch.start_date, batch.end_date) or ""]
        if any(problems):
            raise Refused(*(p for p in problems if p))
        await handlers.check_trainers(connection, tenant, centre, course, batch.trainers, state_zone(request))
        row = await connection.fetchrow(sql.INSERT_BATCH, tenant, uuid4(), *batch.model_dump().values())
        return batch_out(row, clock(request).today)


@router.get("/states/{tenant}/batches", response_model=OffsetPage, tags=["batches"],
            summary="List batches by course, centre, the centre's district, or open for enrolment")
async def list_batches(
    tenant: Tenant, pool: Pool, request: Request, course_id: UUID | None = None, centre_id: UUID | None = None,
    district: str | None = None,
    enrolment_open: Annotated[bool | None, Query(description=
        "true: the batches that accept an enrolment today (open, and not started: the state's calendar day is not "
        "after the start date); false: those that do not (closed by the training centre, or started).")] = None,
    limit: Limit = 100, offset: Offset = 0,
) -> OffsetPage:
    today = clock(request).today
    async with pool.acquire() as connection:
        rows = await connection.fetch(sql.LIST_BATCHES, tenant, course_id, centre_id, district, enrolment_open, today,
                                      limit + 1, offset)
    return page([batch_out(row, today) for row in rows], limit, offset)


@router.get("/states/{tenant}/batches/{batch_id}", response_model=BatchOut, tags=["batches"], summary="Read a batch",
            responses=not_found("batch"))
async def get_batch(tenant: Tenant, batch_id: UUID, pool: Pool, request: Request) -> BatchOut:
    async with pool.acquire() as connection:
        row = found(await connection.fetchrow(sql.GET_BATCH, tenant, batch_id), f"batch {batch_id}", tenant)
    return batch_out(row, clock(request).today)


@router.patch("/states/{tenant}/batches/{batch_id}", response_model=BatchOut, tags=["batches"],
              summary="Change capacity, trainers or open/close enrolment; more seats promote the waitlist",
              description="Dates and sessions planned change only while the batch has no enrolment of any status "
              "(409 otherwise): attendance measures each enrolled employee against the plan and dates they were "
              "enrolled with. To change them later, create a new batch and move the employees by withdrawing them "
              "here and enrolling them there. Sending the values the batch already has is no change. A trainer "
              "added must not be a trainee of the batch (enrolled, waitlisted, completed or revoked there; 409). "
              "`enrolment_open` sets the training centre's flag; the batch answers `enrolment_open: false` once "
              "it has started, whatever the flag.",
              responses={**not_found("batch"),
                         409: problem_answer("The batch has enrolments, so its dates and plan cannot change; or a "
                                             "trainer added is a trainee of the batch")})
async def update_batch(tenant: Tenant, batch_id: UUID, patch: BatchPatch, pool: Pool, request: Request) -> BatchOut:
    async with transaction(pool) as connection:
        # The batch stays locked to the end: an enrolment made meanwhile would otherwise miss the plan check.
        seats = (await sql.lock_batches(connection, tenant, [batch_id])).get(batch_id)
        current = found(await connection.fetchrow(sql.GET_BATCH, tenant, batch_id) if seats else None, f"batch {batch_id}", tenant)
        changed = BatchIn.model_validate({**{k: current[k] for k in BatchIn.model_fields}, **patch.model_dump(exclude_unset=True)})
        has_enrolments = await connection.fetchval(sql.BATCH_HAS_ENROLMENTS, tenant, batch_id)
        if problem := domain.plan_change_problem(current, changed.model_dump(), has_enrolments):
            raise Refused(problem, status=409)
        problems = [domain.batch_date_problem(changed.start_date, changed.end_date),
                    domain.capacity_problem(changed.capacity, current["enrolled_count"])]
        if any(problems):
            raise Refused(*(p for p in problems if p))
        if added := [trainer for trainer in changed.trainers if trainer not in current["trainers"]]:
            # A trainer already on the batch keeps it, certificate revoked since or not, as when its capacity
            # or open flag changes: sending the batch's trainers again is no change.
            await handlers.check_trainers_are_not_trainees(connection, tenant, batch_id, added)
            course = await connection.fetchrow(sql.GET_COURSE, tenant, current["course_id"])
            centre = await connection.fetchrow(sql.GET_CENTRE, tenant, current["centre_id"])
            await handlers.check_trainers(connection, tenant, centre, course, added, state_zone(request))
        values = changed.model_dump()
        await connection.execute(sql.UPDATE_BATCH, tenant, batch_id, *(values[k] for k in (
            "start_date", "end_date", "capacity", "mode", "sessions_planned", "trainers", "enrolment_open")))
        seats = replace(seats, capacity=changed.capacity, start_date=changed.start_date)
        now = clock(request)
        await handlers.promote_waitlisted(connection, tenant, seats, now, correlation_id.get())
        return batch_out(await connection.fetchrow(sql.GET_BATCH, tenant, batch_id), now.today)


# --- employees -------------------------------------------------------------------------------------------


@router.put("/states/{tenant}/employees/{employee_id}", response_model=EmployeeOut, tags=["employees"],
            summary="Add or update an employee's directory entry (as the state HRMS knows them)",
            description="A change of an existing entry is published as `employee.updated`, with the whole entry "
            "and its new `updated_at`, so the other services write to the new e-mail and mobile and print the "
            "new name from then on, for the employee's enrolments made before too. An employee added is not "
            "published: their enrolments carry the entry. An entry sent as it is changes nothing (its "
            "`updated_at` stays) and publishes nothing.",
            responses={201: {"description": "Added to the directory"},
                       200: {"description": "Updated, or already as sent"}})
async def upsert_employee(tenant: Tenant, employee_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")],
                          employee: EmployeeIn, pool: Pool, response: Response) -> EmployeeOut:
    async with transaction(pool) as connection:
        created, row = await directory.record_entry(connection, tenant, employee_id, employee.model_dump(),
                                                    correlation_id.get())
    response.status_code = 201 if created else 200
    return EmployeeOut.model_validate(dict(row))


@router.get("/states/{tenant}/employees/{employee_id}", response_model=EmployeeOut, tags=["employees"],
            summary="Read an employee's directory entry", responses=not_found("employee"))
async def get_employee(tenant: Tenant, employee_id: str, pool: Pool) -> EmployeeOut:
    async with pool.acquire() as connection:
        row = found(await connection.fetchrow(sql.GET_EMPLOYEE, tenant, employee_id), f"employee {employee_id}", tenant)
    return EmployeeOut.model_validate(dict(row))
