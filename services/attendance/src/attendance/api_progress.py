"""Progress for training officers: one enrolment, a batch's roster, and counts per centre, district, state.

Counts: `enrolled` = enrolments not withdrawn before completing; `attending` = of those, with at least
one session attended and not completed yet; `completed` = completion recorded; `withdrawn` = withdrawn
without completing. The district is the training centre's district.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from karmayogi_runtime.http import Pool, Problem, problem_answer
from pydantic import BaseModel

from attendance import repository as sql
from attendance.api import Tenant

router = APIRouter(prefix="/v1", tags=["progress"])


class EnrolmentProgress(BaseModel):
    enrolment_id: UUID
    employee_id: str
    employee_name: str
    sessions_planned: int
    sessions_attended: int
    attendance_percent: float
    minimum_attendance_percent: int
    status: str  # enrolled | attending | completed | withdrawn
    completed_at: datetime | None = None
    withdrawn_at: datetime | None = None


class Figures(BaseModel):
    enrolled: int
    attending: int
    completed: int
    withdrawn: int


class CentreFigures(Figures):
    centre_id: UUID
    centre_name: str
    district: str


class DistrictFigures(Figures):
    district: str


def _status(row) -> str:
    if row["completed_at"] is not None:
        return "completed"
    if row["withdrawn_at"] is not None:
        return "withdrawn"
    return "attending" if row["sessions_attended"] > 0 else "enrolled"


def _progress(row) -> EnrolmentProgress:
    return EnrolmentProgress(**{k: row[k] for k in EnrolmentProgress.model_fields if k != "status"}, status=_status(row))


@router.get("/states/{tenant}/enrolments/{enrolment_id}/progress", response_model=EnrolmentProgress,
            summary="Progress of one enrolment",
            responses={404: problem_answer("No enrolment with this id is known in the state")})
async def enrolment_progress(tenant: Tenant, enrolment_id: UUID, pool: Pool) -> EnrolmentProgress:
    async with pool.acquire() as connection:
        row = await connection.fetchrow(sql.ENROLMENT, tenant, enrolment_id)
    if row is None:
        raise Problem(404, f"No enrolment {enrolment_id} is known in {tenant}.")
    return _progress(row)


@router.get("/states/{tenant}/batches/{batch_id}/progress", response_model=list[EnrolmentProgress],
            summary="A batch's roster with each employee's attendance percentage",
            responses={404: problem_answer("No batch with this id has enrolments known in the state")})
async def batch_progress(tenant: Tenant, batch_id: UUID, pool: Pool) -> list[EnrolmentProgress]:
    async with pool.acquire() as connection:
        rows = await connection.fetch(sql.ROSTER, tenant, batch_id)
    if not rows:
        raise Problem(404, f"No batch {batch_id} with enrolments is known in {tenant}.")
    return [_progress(r) for r in rows]


@router.get("/states/{tenant}/progress", response_model=Figures, summary="Counts for the whole state")
async def state_progress(tenant: Tenant, pool: Pool) -> dict:
    async with pool.acquire() as connection:
        return dict(await connection.fetchrow(sql.BY_STATE, tenant))


@router.get("/states/{tenant}/progress/districts", response_model=list[DistrictFigures], summary="Counts per district")
async def district_progress(tenant: Tenant, pool: Pool) -> list[dict]:
    async with pool.acquire() as connection:
        return [dict(r) for r in await connection.fetch(sql.BY_DISTRICT, tenant)]


@router.get("/states/{tenant}/progress/centres", response_model=list[CentreFigures], summary="Counts per training centre")
async def centre_progress(tenant: Tenant, pool: Pool) -> list[dict]:
    async with pool.acquire() as connection:
        return [dict(r) for r in await connection.fetch(sql.BY_CENTRE, tenant)]
