"""The enrolment rules as pure functions over frozen values: no I/O, no clock (today is passed in).

The rules (README.md explains the choices):
- a batch takes enrolments while its `enrolment_open` flag is set and until its start date (inclusive);
- up to `capacity` employees are enrolled; the next ones are waitlisted, and promoted oldest first
  when a seat frees (a withdrawal, or a larger capacity) until the batch's start date (inclusive); those
  still waitlisted when it has started lapse (`handlers.lapse_waitlists`);
- an employee has at most one active (enrolled or waitlisted) enrolment per course, and completes a course
  once: a completed enrolment keeps its course too, until its certificate is revoked (`revoked`);
- the same employee and batch always give the same enrolment (`ids.enrolment_id`): a repeat is a
  duplicate, and a batch the employee withdrew from cannot be re-joined;
- the trainers of a spoke batch must each be master trainers of the course's family;
- a batch's trainers are never its trainees, and its trainees never its trainers;
- a batch's plan and dates change only while it has no enrolment at all;
- a bulk row's details refresh the employee's directory entry only when the row is accepted or a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal
from uuid import UUID

from karmayogi_contracts import ids

Status = Literal["enrolled", "waitlisted", "withdrawn", "completed", "lapsed", "revoked"]


@dataclass(frozen=True)
class BatchSeats:
    """What the enrolment rules need to know about a batch."""

    id: UUID
    course_id: UUID
    start_date: date
    capacity: int
    enrolment_open: bool
    enrolled_count: int = 0
    waitlisted_count: int = 0
    trainers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Existing:
    """An enrolment already recorded."""

    id: UUID
    batch_id: UUID
    status: Status


@dataclass(frozen=True)
class Request:
    """One employee asking for a seat in one batch (`line` is the line in a bulk file, 0 for the API)."""

    line: int
    employee_id: str
    batch_id: UUID
    enrolment_id: UUID


def request(tenant: str, line: int, employee_id: str, batch_id: UUID) -> Request:
    return Request(line, employee_id, batch_id, ids.enrolment_id(tenant, employee_id, batch_id))


@dataclass(frozen=True)
class Outcome:
    line: int
    employee_id: str
    batch_id: UUID
    enrolment_id: UUID | None
    outcome: Literal["accepted", "duplicate", "rejected"]
    status: Status | None = None
    reason: str | None = None
    # Refused for who the employee already is in the batch (its trainer), not for what the request says:
    # the API answers it 409 rather than 422.
    conflict: bool = False


def takes_enrolments(enrolment_open: bool, start_date: date, today: date) -> bool:
    """Whether a batch accepts an enrolment today: its officer's flag is set and it has not started (its
    start date itself still takes them). What a batch shows as `enrolment_open`, and what the list's filter of
    that name selects, so an officer is never shown as open a batch that would refuse the enrolment."""
    return enrolment_open and today <= start_date


def closed_reason(batch: BatchSeats, today: date) -> str | None:
    """Why the batch takes no enrolment today, or None when it is open."""
    if not batch.enrolment_open:
        return f"Batch {batch.id} is closed for enrolment; ask the training centre to open it."
    if today > batch.start_date:
        return f"Batch {batch.id} started on {batch.start_date.isoformat()}; enrolment closes on the start date."
    return None


def seat_for(batch: BatchSeats) -> Status:
    return "enrolled" if batch.enrolled_count < batch.capacity else "waitlisted"


def take_seat(batch: BatchSeats, status: Status) -> BatchSeats:
    if status == "enrolled":
        return replace(batch, enrolled_count=batch.enrolled_count + 1)
    return replace(batch, waitlisted_count=batch.waitlisted_count + 1)


def decide_enrolments(
    tenant: str,
    requests: Sequence[Request],
    batches: Mapping[UUID, BatchSeats],
    existing: Mapping[UUID, Existing],
    active_in_course: Mapping[tuple[str, UUID], Existing],
    today: date,
) -> tuple[list[Outcome], dict[UUID, BatchSeats]]:
    """Decide each request in order; returns the outcomes and the batches with their seats taken."""
    batches, existing, active = dict(batches), dict(existing), dict(active_in_course)
    outcomes = []
    for request in requests:
        outcome = _decide(tenant, request, batches, existing, active, today)
        outcomes.append(outcome)
        if outcome.outcome == "accepted" and outcome.status and outcome.enrolment_id:
            batch = batches[request.batch_id] = take_seat(batches[request.batch_id], outcome.status)
            recorded = Existing(outcome.enrolment_id, request.batch_id, outcome.status)
            existing[outcome.enrolment_id] = recorded
            active[(request.employee_id, batch.course_id)] = recorded
    return outcomes, batches


def _decide(
    tenant: str,
    request: Request,
    batches: Mapping[UUID, BatchSeats],
    existing: Mapping[UUID, Existing],
    active: Mapping[tuple[str, UUID], Existing],
    today: date,
) -> Outcome:
    who, batch_id, enrolment_id = request.employee_id, request.batch_id, request.enrolment_id

    def rejected(reason: str, conflict: bool = False) -> Outcome:
        return Outcome(request.line, who, batch_id, None, "rejected", reason=reason, conflict=conflict)

    batch = batches.get(batch_id)
    if batch is None:
        return rejected(f"Batch {batch_id} does not exist in {tenant}.")
    before = existing.get(enrolment_id)
    if before is not None and before.status == "withdrawn":
        return rejected(f"Employee {who} withdrew from batch {batch_id} and cannot re-join it; enrol in another batch.")
    if before is not None and before.status == "revoked":
        return rejected(f"Employee {who}'s certificate from batch {batch_id} was revoked; enrol them in another batch "
                        "of the course to earn it again.")
    if before is not None:
        return Outcome(request.line, who, batch_id, enrolment_id, "duplicate", status=before.status)
    if who in batch.trainers:
        return rejected(trainer_as_trainee_reason(who, batch_id), conflict=True)
    other = active.get((who, batch.course_id))
    if other is not None and other.status == "completed":
        return rejected(f"Employee {who} has already completed this course, in batch {other.batch_id}.")
    if other is not None:
        return rejected(
            f"Employee {who} already has an active enrolment ({other.status}) in batch {other.batch_id} of this "
            "course; withdraw it before enrolling in another batch."
        )
    if reason := closed_reason(batch, today):
        return rejected(reason)
    return Outcome(request.line, who, batch_id, enrolment_id, "accepted", status=seat_for(batch))


def updates_directory(outcome: Outcome) -> bool:
    """Whether a bulk row's details are written to the employee's directory entry: a rejected row changes
    nothing, or a mistyped batch id would overwrite a real employee's name and e-mail; a duplicate may refresh them."""
    return outcome.outcome != "rejected"


def seats_to_promote(batch: BatchSeats, today: date) -> int:
    """How many waitlisted employees get a seat now (oldest first): none once the batch has started, since
    nobody joins a batch that has started; a batch closed for new requests still seats the employees who
    asked while it was open."""
    if today > batch.start_date:
        return 0
    return max(0, min(batch.capacity - batch.enrolled_count, batch.waitlisted_count))


def capacity_problem(capacity: int, enrolled_count: int) -> str | None:
    if capacity < enrolled_count:
        return (f"capacity {capacity} is below the {enrolled_count} employees already enrolled; "
                "withdraw enrolments first or choose a larger capacity.")
    return None


# What `employee.enrolled` tells attendance of a batch, which attendance keeps per enrolment.
PLAN_FIELDS = ("start_date", "end_date", "sessions_planned")


def plan_change_problem(current: Mapping[str, object], changed: Mapping[str, object], has_enrolments: bool) -> str | None:
    """A batch's plan and dates change only while nobody is enrolled in it (of any status): attendance measures
    each enrolment against the plan it was enrolled with, and hears of no later change. Setting the values
    the batch already has is no change."""
    moved = [field for field in PLAN_FIELDS if changed[field] != current[field]]
    if not moved or not has_enrolments:
        return None
    return (f"{', '.join(moved)}: cannot change once the batch has enrolments, because attendance measures each "
            "enrolled employee against the plan and dates they were enrolled with; create a new batch and move the "
            "employees by withdrawing them here and enrolling them there.")


def ineligible_trainers(
    tier: str, family: str, trainers: Iterable[str], master_trainers: Iterable[str],
    revoked_on: Mapping[str, date] | None = None,
) -> list[str]:
    """One sentence per trainer who may not teach a spoke batch of `family` (hubs have no such rule):
    never certified in the family, or (`revoked_on`: the day their last certificate of it was revoked)
    no longer."""
    if tier != "spoke":
        return []
    eligible, revoked_on = set(master_trainers), revoked_on or {}
    rule = "a spoke batch can only be taught by master trainers certified at a hub."
    return [
        f"Trainer {trainer}'s master-trainer certificate for course family '{family}' was revoked on "
        f"{revoked_on[trainer].isoformat()}; {rule}" if trainer in revoked_on else
        f"Trainer {trainer} holds no master-trainer certificate for course family '{family}'; {rule}"
        for trainer in dict.fromkeys(trainers) if trainer not in eligible  # a trainer named twice: one sentence
    ]


def trainer_as_trainee_reason(employee_id: str, batch_id: UUID) -> str:
    """A batch's trainer asked to be enrolled in it: its seats, attendance and certificates are its
    trainees' (DESIGN.md section 1 separates master trainers from the people they train)."""
    return (f"Employee {employee_id} is a trainer of batch {batch_id} and cannot also be enrolled in it as a trainee; "
            "enrol them in another batch of the course, or remove them from this batch's trainers first.")


# The enrolments that make an employee a trainee of their batch: a withdrawn one left it, a lapsed one never
# had a seat. A completed or revoked one was trained there (attendance counted it).
TRAINEE_STATUSES: frozenset[Status] = frozenset({"enrolled", "waitlisted", "completed", "revoked"})


def trainees_named_trainers(batch_id: UUID, trainees: Mapping[str, Status]) -> list[str]:
    """One sentence per employee named a trainer of the batch while its trainee (`trainees`: each one's
    enrolment status in the batch); the reverse of `trainer_as_trainee_reason`."""
    def what_to_do(status: Status) -> str:
        if status in ("enrolled", "waitlisted"):
            return "withdraw their enrolment first, or name another trainer."
        return "name another trainer."
    return [f"Employee {employee_id} is a trainee of batch {batch_id} ({status}) and cannot also be its trainer; "
            f"{what_to_do(status)}"
            for employee_id, status in trainees.items() if status in TRAINEE_STATUSES]


def centre_problems(tenant: str, tier: str, hub_id: UUID | None, hub_tier: str | None) -> list[str]:
    """A spoke belongs to exactly one hub of its state; a hub belongs to none."""
    if tier == "hub":
        return ["hub_id: a hub does not belong to another centre; leave hub_id out."] if hub_id else []
    if hub_id is None:
        return ["hub_id: a spoke must name the hub it belongs to."]
    if hub_tier is None:
        return [f"hub_id: no centre {hub_id} exists in {tenant}."]
    if hub_tier != "hub":
        return [f"hub_id: centre {hub_id} is a spoke, not a hub."]
    return []


def batch_date_problem(start: date, end: date) -> str | None:
    return "end_date: must not be before start_date." if end < start else None
