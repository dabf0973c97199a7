"""HTTP routes for enrolments: enrol one, withdraw, rosters and search, and bulk files with their reports."""

from __future__ import annotations

import logging
from typing import Annotated, Literal
from uuid import UUID, uuid4

import asyncpg
from fastapi import APIRouter, Query, Request, Response
from karmayogi_runtime.http import Pool, Problem, problem_answer
from karmayogi_runtime.logs import correlation_id
from starlette.requests import ClientDisconnect

from enrolment import bulk, bulk_file, handlers
from enrolment import repository as sql
from enrolment.api import Limit, Offset, Tenant, clock, found, keyset_page, not_found, page, transaction
from enrolment.bulk_rows import COLUMNS, BulkRow
from enrolment.domain import Status
from enrolment.schemas import BulkJobOut, BulkRowOut, EnrolIn, EnrolmentOut, OffsetPage, Page, WithdrawIn, job_out

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1")


@router.post("/states/{tenant}/enrolments", response_model=EnrolmentOut, tags=["enrolments"],
             summary="Enrol one employee in a batch (idempotent: a repeat returns the same enrolment)",
             responses={201: {"description": "Enrolled, or waitlisted when the batch is full"},
                        200: {"description": "This employee already has this enrolment; it is returned unchanged"},
                        409: problem_answer("The employee is a trainer of the batch, so cannot be its trainee")})
async def enrol(tenant: Tenant, body: EnrolIn, pool: Pool, request: Request, response: Response) -> EnrolmentOut:
    for attempt in (1, 2):
        try:
            async with transaction(pool) as connection:
                outcome, row = await handlers.enrol_one(connection, tenant, body.employee_id, body.batch_id,
                                                        body.channel, clock(request), correlation_id.get())
            break
        except asyncpg.UniqueViolationError:  # a concurrent enrolment of the same employee won; decide again
            if attempt == 2:
                raise
    response.status_code = 201 if outcome.outcome == "accepted" else 200
    return EnrolmentOut.model_validate(dict(row))


@router.get("/states/{tenant}/enrolments", response_model=Page, tags=["enrolments"],
            summary="Rosters and search: enrolments by batch, centre, course, the centre's district, status, employee")
async def search(
    tenant: Tenant, pool: Pool, batch_id: UUID | None = None, centre_id: UUID | None = None,
    course_id: UUID | None = None, district: str | None = None, status: Status | None = None,
    employee_id: str | None = None, limit: Limit = 100,
    after: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$", description="`next` of the previous page.")] = None,
) -> Page:
    async with pool.acquire() as connection:
        rows = await connection.fetch(sql.SEARCH_ENROLMENTS, tenant, batch_id, centre_id, course_id, district, status,
                                      employee_id, int(after or 0), limit + 1)
    return keyset_page(rows, limit, lambda row: EnrolmentOut.model_validate(dict(row)), "seq")


@router.get("/states/{tenant}/enrolments/{enrolment_id}", response_model=EnrolmentOut, tags=["enrolments"],
            summary="Read an enrolment", responses=not_found("enrolment"))
async def get_enrolment(tenant: Tenant, enrolment_id: UUID, pool: Pool) -> EnrolmentOut:
    async with pool.acquire() as connection:
        row = found(await connection.fetchrow(sql.GET_ENROLMENT, tenant, enrolment_id), f"enrolment {enrolment_id}", tenant)
    return EnrolmentOut.model_validate(dict(row))


@router.post("/states/{tenant}/enrolments/{enrolment_id}/withdrawal", response_model=EnrolmentOut, tags=["enrolments"],
             summary="Withdraw an enrolment; the oldest waitlisted employee takes the freed seat",
             responses={**not_found("enrolment"), 409: problem_answer("The enrolment is completed, so it cannot be withdrawn")})
async def withdraw(tenant: Tenant, enrolment_id: UUID, body: WithdrawIn, pool: Pool, request: Request) -> EnrolmentOut:
    async with transaction(pool) as connection:
        row = await handlers.withdraw(connection, tenant, enrolment_id, body.reason, clock(request), correlation_id.get())
    return EnrolmentOut.model_validate(dict(row))


# --- bulk ------------------------------------------------------------------------------------------------

BULK_DESCRIPTION = f"""Send the file as the request body with `Content-Type: text/csv` or `application/x-ndjson`.
CSV: a header line naming exactly the columns {', '.join(COLUMNS)} (any order), then one row per line.
NDJSON: one JSON object per line with the same fields (email and mobile may be null or absent).
The file is read as a stream and imported in chunks of {bulk.CHUNK_ROWS} rows, each in one transaction. A file that
is empty or whose first line is wrong (columns, encoding, format) is refused whole (400) before anything is
written; after that, each bad row is reported with its line number and the import goes on. Sending the same file
again is safe: rows already imported are reported as duplicates and nothing is published twice."""

BULK_ANSWERS = {
    400: problem_answer("The file cannot be imported as a whole: it is empty, or its first line is not the header "
                        "(CSV) or a JSON object with the fields (NDJSON), or it is not UTF-8 text; nothing was written"),
    415: problem_answer("The Content-Type is neither text/csv nor application/x-ndjson; nothing was written"),
    500: {"description": "The import stopped midway (the upload broke off, or the service failed): the job, `failed`, "
                         "says which rows were imported; send the same file again to finish", "model": BulkJobOut},
}


@router.post("/states/{tenant}/bulk-enrolments", status_code=201, response_model=BulkJobOut, tags=["bulk"],
             summary="Enrol employees from a CSV or NDJSON file (streamed)", description=BULK_DESCRIPTION,
             responses=BULK_ANSWERS,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}, "example": ",".join(COLUMNS) + "\nHR0412345,सुनीता देवी,"
                              "sunita.devi@hry.gov.in,+919812345678,hi,Revenue,Naib Tehsildar,Rohtak,"
                              "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b\n"},
                 "application/x-ndjson": {"schema": {"type": "string"}}}}})
async def bulk_enrol(tenant: Tenant, request: Request, pool: Pool, response: Response,
                     channel: Literal["bulk", "hrms"] = "bulk") -> BulkJobOut:
    fmt = bulk_file.format_of(request.headers.get("content-type"))
    if fmt is None:
        raise Problem(415, "Send the file with Content-Type text/csv or application/x-ndjson.")
    try:
        chunks = await bulk.open_file(request.stream(), fmt)
    except bulk_file.MalformedFile as error:
        raise Problem(400, str(error)) from None
    job_id = uuid4()
    async with pool.acquire() as connection:
        await connection.execute(sql.INSERT_JOB, tenant, job_id, fmt, channel)
    error = None
    try:
        async with bulk.read_ahead(chunks) as ahead:
            async for chunk in ahead:
                await _import_chunk(pool, tenant, job_id, chunk, channel, request)
    except ClientDisconnect:
        error = "The upload stopped before the end of the file; send the same file again to finish (imported rows count as duplicates)."
    except Exception as failure:
        log.exception("bulk job %s failed", job_id)
        error = f"The import stopped ({type(failure).__name__}); send the same file again to finish."
    async with pool.acquire() as connection:
        await connection.execute(sql.FINISH_JOB, tenant, job_id, "failed" if error else "completed", error)
        response.status_code = 500 if error else 201
        return job_out(await connection.fetchrow(sql.GET_JOB, tenant, job_id))


async def _import_chunk(pool: asyncpg.Pool, tenant: str, job_id: UUID, chunk: list[BulkRow], channel: str,
                        request: Request) -> None:
    for attempt in (1, 2):
        try:
            async with pool.acquire() as connection, connection.transaction():
                report = await handlers.enrol_chunk(connection, tenant, job_id, chunk, channel, clock(request))
                counts = {kind: sum(1 for o in report if o.outcome == kind) for kind in ("accepted", "duplicate", "rejected")}
                waitlisted = sum(1 for o in report if o.outcome == "accepted" and o.status == "waitlisted")
                await connection.execute(sql.JOB_PROGRESS, tenant, job_id, chunk[-1].line, counts["accepted"],
                                         waitlisted, counts["duplicate"], counts["rejected"])
            return
        except asyncpg.UniqueViolationError:  # a concurrent enrolment took the same seat or course; decide again
            if attempt == 2:
                raise


@router.get("/states/{tenant}/bulk-jobs", response_model=OffsetPage, tags=["bulk"], summary="Bulk jobs, newest first")
async def list_jobs(tenant: Tenant, pool: Pool, limit: Limit = 50, offset: Offset = 0) -> OffsetPage:
    async with pool.acquire() as connection:
        rows = await connection.fetch(sql.LIST_JOBS, tenant, limit + 1, offset)
    return page([job_out(row) for row in rows], limit, offset)


@router.get("/states/{tenant}/bulk-jobs/{job_id}", response_model=BulkJobOut, tags=["bulk"],
            summary="A bulk job's status and counts", responses=not_found("bulk job"))
async def get_job(tenant: Tenant, job_id: UUID, pool: Pool) -> BulkJobOut:
    async with pool.acquire() as connection:
        return job_out(found(await connection.fetchrow(sql.GET_JOB, tenant, job_id), f"bulk job {job_id}", tenant))


@router.get("/states/{tenant}/bulk-jobs/{job_id}/rows", response_model=Page, tags=["bulk"],
            summary="A bulk job's per-row report: accepted, duplicate, or rejected with the reason, by line number",
            responses=not_found("bulk job"))
async def job_rows(tenant: Tenant, job_id: UUID, pool: Pool,
                   outcome: Literal["accepted", "duplicate", "rejected"] | None = None, limit: Limit = 100,
                   after: Annotated[int, Query(ge=0, le=2_147_483_647,  # `line` is a PostgreSQL integer
                                               description="Line number: rows after it (`next`).")] = 0) -> Page:
    async with pool.acquire() as connection:
        found(await connection.fetchrow(sql.GET_JOB, tenant, job_id), f"bulk job {job_id}", tenant)
        rows = await connection.fetch(sql.JOB_ROWS, tenant, job_id, outcome, after, limit + 1)
    return keyset_page(rows, limit, lambda row: BulkRowOut.model_validate(dict(row)), "line")
