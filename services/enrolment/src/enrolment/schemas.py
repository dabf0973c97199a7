"""Request and response bodies of the HTTP API. Fields reuse the contract's types, so what the API
accepts is what the events can carry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from karmayogi_contracts.fields import Email, EmployeeId, LanguageTag, Mobile, PersonName, Slug
from karmayogi_contracts.parts import Competency, District, Mode, Reason, Title
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from enrolment import domain
from enrolment.domain import Status

Capacity = Annotated[int, Field(ge=1, le=100_000, description="Seats; beyond them enrolments are waitlisted.")]
Sessions = Annotated[int, Field(ge=1, le=200, description="Sessions planned, 1-200.")]
Trainers = Annotated[list[EmployeeId], Field(max_length=50, description="Employee ids of the trainers (one named "
                     "twice is kept once)."), AfterValidator(lambda trainers: list(dict.fromkeys(trainers)))]


def _example(**example: Any) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class Patch(BaseModel):
    """A change: a field left out keeps its value. `None` is the default that marks a field left out, so an
    explicit null is refused, except for the fields in `nullable`, where null is a value."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("cannot be null; leave the field out to keep its value.")
        return value


class CompletionRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minimum_attendance_percent: int = Field(ge=0, le=100, description="Share of planned minutes to attend, 0-100.")
    mandatory_session_ids: list[UUID] = Field(
        default_factory=list, max_length=200,
        description="Sessions every employee must attend, by the ids a state system reports its own sessions "
        "with. Sessions scheduled in the attendance service are flagged mandatory when they are scheduled instead.")


COURSE_EXAMPLE = {
    "title": "Ethics and Integrity in Governance: Master Trainer Programme",
    "competencies": [{"name": "Ethics and integrity", "kind": "behavioural"}],
    "completion_rule": {"minimum_attendance_percent": 75, "mandatory_session_ids": []},
    "trains_trainers": True, "family": "ethics-in-governance",
}


class CourseIn(BaseModel):
    model_config = _example(**COURSE_EXAMPLE)
    title: Title
    competencies: list[Competency] = Field(default_factory=list, max_length=50)
    completion_rule: CompletionRule
    trains_trainers: bool = Field(False, description="Completing it makes the employee a master trainer of the family.")
    family: Slug


class CoursePatch(Patch):
    model_config = _example(title="Ethics in Governance (revised)")
    title: Title | None = None
    competencies: list[Competency] | None = Field(None, max_length=50)
    completion_rule: CompletionRule | None = None
    trains_trainers: bool | None = None
    family: Slug | None = None


class CourseOut(CourseIn):
    model_config = ConfigDict(extra="ignore")
    id: UUID
    tenant: str
    created_at: datetime


class CentreIn(BaseModel):
    model_config = _example(name="District Training Centre, Rohtak", tier="spoke", district="Rohtak",
                            hub_id="0d5d3b8e-1f55-5c43-8a43-44b1c7f1e0a2")
    name: Title
    tier: Literal["hub", "spoke"]
    district: District
    hub_id: UUID | None = Field(None, description="The hub a spoke belongs to; absent for a hub.")


class CentrePatch(Patch):
    model_config = _example(name="HIPA Gurugram")
    nullable = frozenset({"hub_id"})  # the rules then decide (a hub has none, a spoke needs one)
    name: Title | None = None
    district: District | None = None
    hub_id: UUID | None = None


class CentreOut(CentreIn):
    model_config = ConfigDict(extra="ignore")
    id: UUID
    tenant: str
    created_at: datetime


class BatchIn(BaseModel):
    model_config = _example(course_id="b8d03173-2f3a-5868-a33d-16987a2cfd7c", centre_id="0d5d3b8e-1f55-5c43-8a43-44b1c7f1e0a2",
                            start_date="2026-03-02", end_date="2026-03-07", capacity=40, mode="classroom",
                            sessions_planned=6, trainers=["HR0400017"], enrolment_open=True)
    course_id: UUID
    centre_id: UUID
    start_date: date
    end_date: date
    capacity: Capacity
    mode: Mode
    sessions_planned: Sessions
    trainers: Trainers = Field(default_factory=list)
    enrolment_open: bool = Field(True, description="The training centre's flag: enrolment is accepted while it is "
                                 "set and until the start date (inclusive); false closes the batch early.")


class BatchPatch(Patch):
    model_config = _example(trainers=["HR0400017", "HR0400231"], capacity=45)
    start_date: date | None = None
    end_date: date | None = None
    capacity: Capacity | None = None
    mode: Mode | None = None
    sessions_planned: Sessions | None = None
    trainers: Trainers | None = None
    enrolment_open: bool | None = None


class BatchOut(BatchIn):
    model_config = ConfigDict(extra="ignore")
    enrolment_open: bool = Field(description="Whether the batch accepts an enrolment today: the training centre's "
                                 "flag is set and the batch has not started (the state's calendar day is not after "
                                 "the start date). A started batch shows false whatever its flag.")
    id: UUID
    tenant: str
    enrolled_count: int
    waitlisted_count: int
    created_at: datetime


class EmployeeIn(BaseModel):
    model_config = _example(name="सुनीता देवी", email="sunita.devi@hry.gov.in", mobile="+919812345678",
                            preferred_language="hi", department="Revenue and Disaster Management",
                            designation="Naib Tehsildar", district="Rohtak")
    name: PersonName
    email: Email | None = None
    mobile: Mobile | None = None
    preferred_language: LanguageTag
    department: Title
    designation: Title
    district: District


class EmployeeOut(EmployeeIn):
    model_config = ConfigDict(extra="ignore")
    id: str
    tenant: str
    updated_at: datetime


class EnrolIn(BaseModel):
    model_config = _example(employee_id="HR0412345", batch_id="3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b", channel="api")
    employee_id: EmployeeId
    batch_id: UUID
    channel: Literal["api", "hrms"] = "api"


class WithdrawIn(BaseModel):
    model_config = _example(reason="Transferred to another district before the batch started.")
    reason: Reason


class EnrolmentOut(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: UUID
    tenant: str
    employee_id: str
    employee_name: str
    employee_district: str
    batch_id: UUID
    course_id: UUID
    centre_id: UUID
    centre_district: str
    status: Status
    channel: str
    requested_at: datetime
    enrolled_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    completed_at: datetime | None = Field(description="When the enrolment's certificate was issued.")
    certificate_revoked_at: datetime | None = Field(
        description="When its certificate was revoked (status `revoked`): the employee may enrol in the course again.")


class Page(BaseModel):
    """A page of a list that grows while it is read (enrolments, a job's report): `after` resumes past the
    last item seen, so nothing is skipped or repeated."""
    items: list[Any]
    next: str | None = Field(None, description="Pass as `after` for the next page; null on the last page.")


class OffsetPage(BaseModel):
    """A page of a short list an officer keeps (courses, centres, batches, bulk jobs), paged by position."""
    items: list[Any]
    next: str | None = Field(None, description="Pass as `offset` for the next page; null on the last page.")


class BulkJobOut(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: UUID
    tenant: str
    format: Literal["csv", "ndjson"]
    channel: str
    status: Literal["running", "completed", "failed", "interrupted"]
    lines_read: int
    accepted: int = Field(description="Rows enrolled or waitlisted by this job.")
    waitlisted: int = Field(description="Of the accepted rows, those waitlisted because the batch was full.")
    duplicate: int = Field(description="Rows whose enrolment already existed (a re-run, or a repeat in the file).")
    rejected: int = Field(description="Rows refused; the report says why.")
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class BulkRowOut(BaseModel):
    model_config = ConfigDict(extra="ignore")
    line: int
    outcome: Literal["accepted", "duplicate", "rejected"]
    status: str | None
    employee_id: str | None
    batch_id: str | None
    enrolment_id: UUID | None
    reason: str | None


def course_out(row: Any) -> CourseOut:
    return CourseOut.model_validate({
        **dict(row), "completion_rule": {"minimum_attendance_percent": row["minimum_attendance_percent"],
                                         "mandatory_session_ids": row["mandatory_session_ids"]}})


def batch_out(row: Any, today: date) -> BatchOut:
    """A batch as the officer sees it `today` (the state's calendar day): open only while it takes enrolments."""
    return BatchOut.model_validate({
        **dict(row), "enrolment_open": domain.takes_enrolments(row["enrolment_open"], row["start_date"], today)})


def job_out(row: Any) -> BulkJobOut:
    return BulkJobOut.model_validate({**dict(row), "status": row["shown_status"]})
