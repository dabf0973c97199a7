"""Building the three events this service publishes, from what its tables hold.

`employee.enrolled` carries a snapshot of the course, batch, centre and completion rule, so attendance
and notifications never have to ask. Its id is the enrolment id: publishing one enrolment twice is one
event. Parts shared by every enrolment of a batch are validated once (`BatchSnapshot`). `employee.updated`
carries an employee's whole directory entry after a change; each change is a new event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from karmayogi_contracts import CloudEvent, EmployeeEnrolled, EmployeeUpdated, EnrolmentWithdrawn, new_event
from karmayogi_contracts.events import Batch, CompletionRule, EmployeeProfile
from karmayogi_contracts.parts import CourseSummary

SOURCE = "/services/enrolment"
PROFILE_FIELDS = ("name", "email", "mobile", "preferred_language", "department", "designation", "district")


@dataclass(frozen=True)
class BatchSnapshot:
    course: CourseSummary
    batch: Batch
    rule: CompletionRule


def batch_snapshot(row: Mapping[str, Any]) -> BatchSnapshot:
    """From a row of `repository.BATCH_SNAPSHOT` (batch joined with its course and centre)."""
    course = CourseSummary.model_validate({
        "id": row["course_id"], "title": row["course_title"], "competencies": row["competencies"],
        "trains_trainers": row["trains_trainers"], "family": row["family"],
    })
    batch = Batch.model_validate({
        "id": row["id"],
        "centre": {"id": row["centre_id"], "name": row["centre_name"], "tier": row["tier"],
                   "district": row["centre_district"]},
        "start_date": row["start_date"], "end_date": row["end_date"], "mode": row["mode"],
        "sessions_planned": row["sessions_planned"],
    })
    rule = CompletionRule(minimum_attendance_percent=row["minimum_attendance_percent"],
                          mandatory_session_ids=tuple(row["mandatory_session_ids"]))
    return BatchSnapshot(course, batch, rule)


def profile_from_row(row: Mapping[str, Any]) -> EmployeeProfile:
    return EmployeeProfile.model_validate({"id": row["id"], **{name: row[name] for name in PROFILE_FIELDS}})


def enrolled(
    tenant: str,
    enrolment_id: UUID,
    profile: EmployeeProfile,
    snapshot: BatchSnapshot,
    *,
    at: datetime,
    channel: str,
    correlation_id: str | None = None,
) -> CloudEvent:
    # Every part is already validated; constructing skips validating them again for each of 300,000 rows.
    data = EmployeeEnrolled.model_construct(
        tenant=tenant, enrolment_id=enrolment_id, employee=profile, course=snapshot.course, batch=snapshot.batch,
        completion_rule=snapshot.rule, enrolled_at=at, channel=channel,
    )
    return new_event(data, source=SOURCE, id=enrolment_id, time=at, correlation_id=correlation_id)


def withdrawn(
    tenant: str,
    enrolment_id: UUID,
    employee_id: str,
    batch_id: UUID,
    *,
    at: datetime,
    reason: str,
    correlation_id: str | None = None,
) -> CloudEvent:
    data = EnrolmentWithdrawn(tenant=tenant, enrolment_id=enrolment_id, employee_id=employee_id,
                              batch_id=batch_id, withdrawn_at=at, reason=reason)
    # One withdrawal per enrolment, so the event id derives from it.
    return new_event(data, source=SOURCE, id=uuid5(enrolment_id, "withdrawn"), time=at, correlation_id=correlation_id)


def updated(
    tenant: str, profile: EmployeeProfile, *, at: datetime, correlation_id: str | None = None
) -> CloudEvent:
    data = EmployeeUpdated(tenant=tenant, employee=profile, updated_at=at)
    # A change has no identity of its own (the contracts' README): each gets a new id.
    return new_event(data, source=SOURCE, time=at, correlation_id=correlation_id)
