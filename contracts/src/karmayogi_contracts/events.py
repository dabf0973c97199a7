"""The seven v1 event payloads: self-contained facts in the past tense (DESIGN.md section 3).

A consumer never calls back to act on one, so each carries the snapshot it needs: the enrolment
carries the completion rule, the completion carries the course family that certification needs.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field, model_validator

from .fields import Date, Email, EmployeeId, Flag, HttpsUrl, LanguageTag, Mobile, Slug, UtcDatetime
from .parts import (
    AttendanceBasis, BatchRef, CourseSummary, Count, District, EmployeeRef, Event, ExternalBasis,
    Mode, Reason, Title, Value,
)


class EmployeeProfile(EmployeeRef):
    email: Email | None = Field(default=None, description="Official e-mail address, when the state has one.")
    mobile: Mobile | None = Field(default=None, description="Mobile number for SMS notifications, E.164.")
    preferred_language: LanguageTag = Field(description="Language for notifications, BCP 47, e.g. 'hi'.")
    department: Title = Field(description="Department, e.g. 'Revenue and Disaster Management'.")
    designation: Title = Field(description="Designation, e.g. 'Naib Tehsildar'.")
    district: District = Field(description="District of posting.")


class Batch(BatchRef):
    start_date: Date = Field(description="First day of the batch.")
    end_date: Date = Field(description="Last day of the batch; not before start_date.")
    mode: Mode = Field(description="How the batch is delivered.")
    sessions_planned: Count = Field(ge=1, le=200, description="Number of sessions planned, 1-200.")

    @model_validator(mode="after")
    def _dates_in_order(self) -> "Batch":
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class CompletionRule(Value):
    minimum_attendance_percent: Count = Field(
        ge=0, le=100, description="Share of planned minutes an employee must attend to complete, 0-100."
    )
    mandatory_session_ids: tuple[UUID, ...] = Field(
        max_length=200, description="Sessions that must be attended whatever the percentage; may be empty."
    )


class EmployeeEnrolled(Event):
    """An employee was enrolled in a batch of a course."""

    event_type: ClassVar[str] = "karmayogi.employee.enrolled.v1"
    topic: ClassVar[str] = "employee.enrolled"
    subject_field: ClassVar[str] = "enrolment_id"

    enrolment_id: UUID = Field(description="ids.enrolment_id(tenant, employee.id, batch.id): one per employee per batch.")
    employee: EmployeeProfile = Field(description="The employee, with the contact details notifications need.")
    course: CourseSummary = Field(description="The course the batch teaches.")
    batch: Batch = Field(description="The batch, its centre and its schedule.")
    completion_rule: CompletionRule = Field(description="The completion rule in force when the employee enrolled.")
    enrolled_at: UtcDatetime = Field(description="When the enrolment was accepted.")
    channel: Literal["api", "bulk", "hrms", "igot"] = Field(description="How the enrolment arrived.")

    @property
    def employee_id(self) -> str:
        return self.employee.id


class Session(Value):
    id: UUID = Field(description="Session id, assigned by the attendance service.")
    starts_at: UtcDatetime = Field(description="When the session starts.")
    duration_minutes: Count = Field(ge=1, le=1440, description="Planned length of the session in minutes.")
    mode: Literal["classroom", "online"] = Field(description="How this session was held.")


class SessionAttended(Event):
    """An employee attended (part of) a session."""

    event_type: ClassVar[str] = "karmayogi.session.attended.v1"
    topic: ClassVar[str] = "session.attended"
    subject_field: ClassVar[str] = "attendance_id"

    attendance_id: UUID = Field(description="ids.attendance_id(tenant, employee_id, session.id): one per session.")
    employee_id: EmployeeId
    batch_id: UUID = Field(description="The batch the session belongs to.")
    enrolment_id: UUID | None = Field(
        default=None, description="The enrolment, when the publisher knows it (state systems may not)."
    )
    session: Session = Field(description="The session attended.")
    minutes_attended: Count = Field(ge=0, le=1440, description="Minutes attended; at most the session's duration.")
    marked_by: Literal["trainer", "biometric", "igot", "admin"] = Field(description="Who or what recorded it.")
    marked_at: UtcDatetime = Field(description="When the attendance was recorded.")

    @model_validator(mode="after")
    def _within_session(self) -> "SessionAttended":
        if self.minutes_attended > self.session.duration_minutes:
            raise ValueError("minutes_attended must not exceed session.duration_minutes")
        return self


class CourseCompleted(Event):
    """An employee completed a course: at most one per enrolment."""

    event_type: ClassVar[str] = "karmayogi.course.completed.v1"
    topic: ClassVar[str] = "course.completed"
    subject_field: ClassVar[str] = "completion_id"

    completion_id: UUID = Field(description="ids.completion_id(tenant, enrolment_id): one per enrolment.")
    enrolment_id: UUID = Field(description="The enrolment completed.")
    employee: EmployeeRef = Field(description="Who completed, with the name to print on the certificate.")
    course: CourseSummary = Field(description="The course completed.")
    batch: BatchRef | None = Field(
        default=None, description="Batch and centre; absent for online completions reported by iGOT."
    )
    completed_at: UtcDatetime = Field(description="When the completion rule was met.")
    basis: Annotated[AttendanceBasis | ExternalBasis, Field(discriminator="kind")] = Field(
        description="Why it counts as completed: attendance figures, or an external platform's report."
    )

    @property
    def employee_id(self) -> str:
        return self.employee.id


class CertificateIssued(Event):
    """A certificate was issued for a completed enrolment."""

    event_type: ClassVar[str] = "karmayogi.certificate.issued.v1"
    topic: ClassVar[str] = "certificate.issued"
    subject_field: ClassVar[str] = "certificate_id"

    certificate_id: UUID = Field(description="ids.certificate_id(tenant, enrolment_id): one per enrolment.")
    enrolment_id: UUID = Field(description="The enrolment the certificate is for.")
    employee_id: EmployeeId
    course_id: UUID = Field(description="The course completed.")
    course_title: Title = Field(description="Course title as printed on the certificate.")
    course_family: Slug = Field(description="Course family; with trains_trainers, says what the holder may teach.")
    trains_trainers: Flag = Field(description="True when the holder is now a master trainer for course_family.")
    issued_at: UtcDatetime = Field(description="When the certificate was signed.")
    verify_url: HttpsUrl = Field(description="Public https page that verifies the certificate (the QR code target).")


class CertificateRevoked(Event):
    """A certificate was revoked; verification shows it as revoked from now on."""

    event_type: ClassVar[str] = "karmayogi.certificate.revoked.v1"
    topic: ClassVar[str] = "certificate.revoked"
    subject_field: ClassVar[str] = "certificate_id"

    certificate_id: UUID = Field(description="The certificate revoked.")
    enrolment_id: UUID = Field(description="The enrolment the certificate was for.")
    employee_id: EmployeeId
    course_id: UUID = Field(description="The course of the certificate.")
    revoked_at: UtcDatetime = Field(description="When the revocation took effect.")
    reason: Reason


class EnrolmentWithdrawn(Event):
    """An enrolment was withdrawn before completion."""

    event_type: ClassVar[str] = "karmayogi.enrolment.withdrawn.v1"
    topic: ClassVar[str] = "enrolment.withdrawn"
    subject_field: ClassVar[str] = "enrolment_id"

    enrolment_id: UUID = Field(description="The enrolment withdrawn.")
    employee_id: EmployeeId
    batch_id: UUID = Field(description="The batch the employee leaves.")
    withdrawn_at: UtcDatetime = Field(description="When the withdrawal took effect.")
    reason: Reason


class EmployeeUpdated(Event):
    """An employee's directory entry changed (name, contact details, language, posting): the services that
    keep them from the employee's enrolments take the new ones. Of two changes, or of a change and an
    enrolment, the later `updated_at` or `enrolled_at` wins, whatever order they arrive in."""

    event_type: ClassVar[str] = "karmayogi.employee.updated.v1"
    topic: ClassVar[str] = "employee.updated"
    subject_field: ClassVar[str] = "employee_id"

    employee: EmployeeProfile = Field(description="The employee's directory entry as it is now, every field.")
    updated_at: UtcDatetime = Field(description="When the change was recorded.")

    @property
    def employee_id(self) -> str:
        return self.employee.id


ALL_EVENTS: tuple[type[Event], ...] = (
    EmployeeEnrolled, SessionAttended, CourseCompleted, CertificateIssued, CertificateRevoked, EnrolmentWithdrawn,
    EmployeeUpdated,
)
