"""HTTP API: delivery status by employee and by event; opt-out and opt-in per channel. Every route is behind a
state's key (karmayogi_runtime.access): a key reads and changes its own state's employees only."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from karmayogi_contracts.fields import EMPLOYEE_ID_PATTERN, STATE_CODE_PATTERN
from pydantic import BaseModel, Field

from karmayogi_runtime.access import StateScope
from karmayogi_runtime.http import Pool, Problem, problem_answer

from . import repository

router = APIRouter(prefix="/v1", tags=["notifications"])

Tenant = Annotated[str, Path(pattern=STATE_CODE_PATTERN, description="State code, e.g. IN-HR.", examples=["IN-HR"])]
EmployeeId = Annotated[str, Path(pattern=EMPLOYEE_ID_PATTERN, examples=["HR0412345"])]
Channel = Annotated[Literal["email", "sms"], Path(description="email or sms.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size, at most 1000.")]
# A million is past the last page of any employee's deliveries, and keeps the offset within PostgreSQL's bigint.
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Deliveries to skip: the `next` of the page before.")]

# The answers besides each route's success and 422, for the OpenAPI document.
EVENT_NOT_CONSUMED = {404: problem_answer(
    "No deliveries for this event (yet): it may not have been consumed, or it repeated a fact (an enrolment, a "
    "completion, a certificate) whose messages went out under another event id; or it is another state's event")}


class DeliveryStatus(BaseModel):
    id: UUID = Field(description="Delivery id; the e-mail's Message-ID is <id@domain>.")
    event_id: UUID
    event_type: str = Field(examples=["karmayogi.certificate.issued.v1"])
    channel: Literal["email", "sms"]
    address: str | None = Field(description="Where it goes; null when the employee has none (undeliverable).")
    language: str = Field(examples=["hi"])
    subject: str | None
    status: Literal["pending", "sending", "sent", "failed", "undeliverable", "opted_out"]
    reason: str | None = Field(description="Why it is not sent (yet): the last error, or why it never will be.")
    attempts: int = Field(description="Sends started so far; a row claimed but never sent does not count.")
    next_attempt_at: datetime | None = Field(
        description="When it is tried (again) while pending or sending; null once it is settled.")
    created_at: datetime
    sent_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryStatus] = Field(description="Newest first.")
    next: str | None = Field(description="Pass as `offset` for the next page (a string, as in the other services' "
                             "pages); null on the last page. A delivery recorded while you page moves the older ones "
                             "down, so a page may show again the last delivery of the page before, but never skips one.")


class OptOuts(BaseModel):
    tenant: str
    employee_id: str
    opted_out: list[Literal["email", "sms"]] = Field(description="Channels the employee receives nothing on.")


def _statuses(rows) -> list[DeliveryStatus]:
    return [DeliveryStatus(**dict(row)) for row in rows]


@router.get("/employees/{tenant}/{employee_id}/deliveries",
            summary="Deliveries to one employee, newest first, a page at a time")
async def employee_deliveries(pool: Pool, tenant: Tenant, employee_id: EmployeeId, limit: Limit = 200,
                              offset: Offset = 0) -> DeliveryPage:
    async with pool.acquire() as connection:
        rows = await repository.by_employee(connection, tenant, employee_id, limit + 1, offset)
    # The one row past the page tells whether another follows, without counting all the employee's deliveries.
    return DeliveryPage(items=_statuses(rows[:limit]), next=str(offset + limit) if len(rows) > limit else None)


@router.get("/events/{event_id}/deliveries", summary="Deliveries caused by one event", responses=EVENT_NOT_CONSUMED,
            description="A fact (an enrolment, a completion, a certificate issued or revoked) is notified once, "
                        "under the first event id that reported it. An event repeating a fact under another id "
                        "caused no deliveries: it is a 404; the fact's deliveries are listed under the employee. "
                        "Only the deliveries of the states the key acts for are listed: another state's event is "
                        "answered as one with no deliveries.")
async def event_deliveries(pool: Pool, event_id: UUID, scope: StateScope) -> list[DeliveryStatus]:
    async with pool.acquire() as connection:
        rows = await repository.by_event(connection, event_id)
    # The path names no state, so the rows are filtered rather than refused: a 403 would tell another state's
    # key that the event exists and whose it is. An event's deliveries are a few rows, one per recipient and
    # channel, so filtering here costs nothing and keeps the one rule of `Scope.covers`.
    rows = [row for row in rows if scope.covers(row["tenant"])]
    if not rows:
        # A repeat of a fact records nothing of its own (repository.INSERT_DELIVERY), so it cannot be told
        # apart from an event not consumed yet, nor from another state's: the sentence names all three.
        raise Problem(404, f"No deliveries for event {event_id} exist (yet) that this key may read: the event may "
                           "not have been consumed, it may have repeated a fact already notified under another event "
                           "id (see the employee's deliveries), or it may be another state's.")
    return _statuses(rows)


@router.get("/employees/{tenant}/{employee_id}/opt-outs", summary="Channels the employee opted out of")
async def opt_outs(pool: Pool, tenant: Tenant, employee_id: EmployeeId) -> OptOuts:
    async with pool.acquire() as connection:
        channels = await repository.opted_out(connection, tenant, employee_id)
    return OptOuts(tenant=tenant, employee_id=employee_id, opted_out=sorted(channels))


@router.put("/employees/{tenant}/{employee_id}/opt-outs/{channel}",
            summary="Opt out of a channel: its messages are recorded as opted_out and never sent")
async def opt_out(pool: Pool, tenant: Tenant, employee_id: EmployeeId, channel: Channel) -> OptOuts:
    return await _set(pool, tenant, employee_id, channel, True)


@router.delete("/employees/{tenant}/{employee_id}/opt-outs/{channel}",
               summary="Opt in again: messages of later events are sent on this channel")
async def opt_in(pool: Pool, tenant: Tenant, employee_id: EmployeeId, channel: Channel) -> OptOuts:
    return await _set(pool, tenant, employee_id, channel, False)


async def _set(pool, tenant: str, employee_id: str, channel: str, out: bool) -> OptOuts:
    async with pool.acquire() as connection:
        await repository.set_opt_out(connection, tenant, employee_id, channel, out)
        channels = await repository.opted_out(connection, tenant, employee_id)
    return OptOuts(tenant=tenant, employee_id=employee_id, opted_out=sorted(channels))
