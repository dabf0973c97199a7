"""Deterministic identities: one enrolment per employee per batch, one attendance per session,
one completion and one certificate per enrolment, by construction (DESIGN.md section 3).

Each id is UUIDv5 (RFC 9562, SHA-1) under NAMESPACE over a colon-joined UTF-8 name:

    enrolment    "enrolment:<tenant>:<employee_id>:<batch_id>"
    attendance   "attendance:<tenant>:<employee_id>:<session_id>"
    report       "attendance-report:<attendance_id>:<minutes>:<marked_by>"  (the event id of a session.attended)
    completion   "completion:<tenant>:<enrolment_id>"
    certificate  "certificate:<tenant>:<enrolment_id>"

UUIDs inside a name are written lowercase with hyphens (the canonical 8-4-4-4-12 form); tenant and
employee id are used exactly as sent (case-sensitive). Any language's UUIDv5 reproduces them.
"""

from __future__ import annotations

from uuid import UUID, uuid5

# Fixed forever: changing it would give every existing enrolment a second identity.
NAMESPACE = UUID("6f1c2e0a-7b3d-5e94-9a1f-4b2c8d0e6a37")


def _uuid(value: UUID | str) -> str:
    return str(value if isinstance(value, UUID) else UUID(str(value)))


def _id(kind: str, *parts: str) -> UUID:
    return uuid5(NAMESPACE, ":".join((kind, *parts)))


def enrolment_id(tenant: str, employee_id: str, batch_id: UUID | str) -> UUID:
    return _id("enrolment", tenant, employee_id, _uuid(batch_id))


def attendance_id(tenant: str, employee_id: str, session_id: UUID | str) -> UUID:
    return _id("attendance", tenant, employee_id, _uuid(session_id))


def attendance_report_id(attendance_id: UUID | str, minutes: int, marked_by: str) -> UUID:
    """The event id of a `session.attended`: one per report of an attendance, by its minutes and its source,
    not by when it was sent. The same report sent again is the same event (consumers skip it); a report of
    more minutes, a correction, is another event. (`attendance_id` as the event id would make every
    correction a duplicate, skipped.)"""
    return _id("attendance-report", _uuid(attendance_id), str(minutes), marked_by)


def completion_id(tenant: str, enrolment_id: UUID | str) -> UUID:
    return _id("completion", tenant, _uuid(enrolment_id))


def certificate_id(tenant: str, enrolment_id: UUID | str) -> UUID:
    return _id("certificate", tenant, _uuid(enrolment_id))
