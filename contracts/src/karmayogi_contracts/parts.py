"""The base of every event payload and the value objects several events share.

Models are frozen (a fact does not change after it happened) and ignore unknown fields, so a
consumer built against v1.0 still reads events from a v1.3 publisher that added optional fields
(docs/adr/0002-contract-versioning.md).
"""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .fields import NAME_RULE, Count, EmployeeId, Flag, Percent, PersonName, Slug, StateCode, text

CONFIG = ConfigDict(frozen=True, extra="ignore")

Title = text(300, "Title as shown to employees.")
District = text(100, "District name as used by the state, e.g. 'Gurugram', 'Muzaffarpur'.")
Reason = text(500, "Why this happened, in words an employee or auditor can read.")
Mode = Literal["classroom", "online", "blended"]


class Event(BaseModel):
    """Base of the seven event payloads (the CloudEvent `data`)."""

    model_config = CONFIG

    event_type: ClassVar[str]
    topic: ClassVar[str]
    # Name of the field whose value is the CloudEvent subject: the fact's own identity.
    subject_field: ClassVar[str]

    tenant: StateCode

    @property
    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


class Value(BaseModel):
    """Base of the nested value objects."""

    model_config = CONFIG


class Competency(Value):
    name: text(150, "Competency name from the Karmayogi competency dictionary.")
    kind: Literal["behavioural", "functional", "domain"] = Field(
        description="Which part of the Karmayogi competency model it belongs to."
    )


Competencies = tuple[Competency, ...]


class Centre(Value):
    id: UUID = Field(description="Training centre id, assigned by the enrolment service.")
    name: Title = Field(description="Centre name, e.g. 'HIPA Gurugram' or 'District Training Centre, Gaya'.")
    tier: Literal["hub", "spoke"] = Field(
        description="'hub' trains master trainers (state institutes, academies); 'spoke' runs district batches."
    )
    district: District = Field(description="District the centre is in.")


class EmployeeRef(Value):
    id: EmployeeId
    # The description repeats PersonName's rule: a Field description here replaces the type's own.
    name: PersonName = Field(description=f"Employee's name as recorded by the state, in any script; {NAME_RULE}")


class CourseSummary(Value):
    id: UUID = Field(description="Course id, assigned by the enrolment service.")
    title: Title = Field(description="Course title as shown on the certificate.")
    competencies: Competencies = Field(
        max_length=50, description="Competencies the course builds; may be empty."
    )
    trains_trainers: Flag = Field(
        description="True when completing the course makes the employee a master trainer for its family."
    )
    family: Slug = Field(
        description="Course family: a master-trainer course and the spoke courses it qualifies one to teach "
        "share a family, e.g. 'ethics-in-governance'."
    )


class BatchRef(Value):
    id: UUID = Field(description="Batch id, assigned by the enrolment service.")
    centre: Centre = Field(description="Where the batch runs.")


class AttendanceBasis(Value):
    kind: Literal["attendance"] = Field(description="Completed by attending enough sessions of a batch.")
    sessions_attended: Count = Field(ge=0, le=200, description="Sessions the employee attended.")
    sessions_planned: Count = Field(ge=1, le=200, description="Sessions planned for the batch.")
    attendance_percent: Percent = Field(description="Attended minutes over planned minutes, 0-100.")


class ExternalBasis(Value):
    kind: Literal["external"] = Field(description="Completed on an external platform, e.g. an online course.")
    source: Slug = Field(description="The platform that reported the completion, e.g. 'igot'.")
    reference: text(200, "The platform's own id of the completion.") | None = Field(
        default=None, description="The platform's own id of the completion, when it has one."
    )


__all__ = [
    "AttendanceBasis", "BatchRef", "Centre", "Competencies", "Competency", "Count", "CourseSummary",
    "District", "EmployeeId", "EmployeeRef", "Event", "ExternalBasis", "Flag", "Mode", "Reason", "Title",
]
