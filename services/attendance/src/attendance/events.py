"""Building the two events this service publishes, with their deterministic ids.

`session.attended` carries the attendance's identity, `ids.attendance_id(tenant, employee, session)`, in
its payload; its event id is that of the report (`ids.attendance_report_id`): the same report sent again is
the same event, filtered by every consumer's inbox, while a report of more minutes is a new event that
raises what is recorded. `course.completed` has the id `ids.completion_id(tenant, enrolment)`: one per enrolment, by
construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from karmayogi_contracts import CloudEvent, CourseCompleted, SessionAttended, ids, new_event
from karmayogi_contracts.events import Session
from karmayogi_contracts.parts import AttendanceBasis, BatchRef, CourseSummary, EmployeeRef

from attendance.domain import Progress

SOURCE = "/services/attendance"


def attended(
    tenant: str,
    employee_id: str,
    session: Mapping[str, Any],
    *,
    minutes: int,
    marked_by: str,
    marked_at: datetime,
    enrolment_id: UUID | None = None,
    correlation_id: str | None = None,
) -> CloudEvent:
    """`session` is a row of the sessions table."""
    attendance_id = ids.attendance_id(tenant, employee_id, session["id"])
    data = SessionAttended(
        tenant=tenant, attendance_id=attendance_id, employee_id=employee_id, batch_id=session["batch_id"],
        enrolment_id=enrolment_id,
        session=Session(id=session["id"], starts_at=session["starts_at"], duration_minutes=session["duration_minutes"],
                        mode=session["mode"]),
        minutes_attended=minutes, marked_by=marked_by, marked_at=marked_at,
    )
    return new_event(data, source=SOURCE, id=ids.attendance_report_id(attendance_id, minutes, marked_by),
                     correlation_id=correlation_id)


def completed(enrolment: Mapping[str, Any], progress: Progress, *, at: datetime, cause: CloudEvent | None,
              correlation_id: str | None = None) -> CloudEvent:
    """`enrolment` is a row of the enrolments table; `cause` the attendance that met the rule, or None when
    a training officer's change met it (a mandatory flag cleared), with that request's `correlation_id`."""
    tenant, enrolment_id = enrolment["tenant"], enrolment["enrolment_id"]
    completion_id = ids.completion_id(tenant, enrolment_id)
    data = CourseCompleted(
        tenant=tenant, completion_id=completion_id, enrolment_id=enrolment_id,
        employee=EmployeeRef(id=enrolment["employee_id"], name=enrolment["employee_name"]),
        course=CourseSummary.model_validate(enrolment["course"]),
        batch=BatchRef(id=enrolment["batch_id"], centre=enrolment["centre"]),
        completed_at=at,
        basis=AttendanceBasis(
            kind="attendance", sessions_attended=min(progress.sessions_attended, 200),
            sessions_planned=progress.sessions_planned, attendance_percent=progress.rounded_percent,
        ),
    )
    if cause is not None:
        causation_id, correlation_id = str(cause.id), cause.correlation_id
    else:
        causation_id = None
    return new_event(data, source=SOURCE, id=completion_id, causation_id=causation_id, correlation_id=correlation_id)
