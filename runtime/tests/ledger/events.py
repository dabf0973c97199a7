"""Realistic events for the ledger tests, with random ids so tests never share data."""

import uuid
from datetime import date, datetime, timedelta, timezone

from karmayogi_contracts import CloudEvent, EmployeeEnrolled, SessionAttended, ids, new_event

TENANT = "IN-HR"
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


def enrolled(employee_id: str, *, tenant: str = TENANT) -> CloudEvent:
    batch_id = uuid.uuid4()
    data = EmployeeEnrolled.model_validate({
        "tenant": tenant,
        "enrolment_id": str(ids.enrolment_id(tenant, employee_id, batch_id)),
        "employee": {
            "id": employee_id, "name": "सुनीता देवी", "email": "sunita.devi@hry.example.in", "mobile": "+919812345678",
            "preferred_language": "hi", "department": "Revenue", "designation": "Patwari", "district": "Karnal",
        },
        "course": {
            "id": str(uuid.uuid4()), "title": "Ethics in Governance", "trains_trainers": False,
            "family": "ethics-in-governance",
            "competencies": [{"name": "Integrity", "kind": "behavioural"}],
        },
        "batch": {
            "id": str(batch_id),
            "centre": {"id": str(uuid.uuid4()), "name": "DTC Karnal", "tier": "spoke", "district": "Karnal"},
            "start_date": date(2026, 11, 16).isoformat(), "end_date": date(2026, 11, 21).isoformat(),
            "mode": "classroom", "sessions_planned": 6,
        },
        "completion_rule": {"minimum_attendance_percent": 75, "mandatory_session_ids": []},
        "enrolled_at": NOW.isoformat(),
        "channel": "api",
    })
    return new_event(data, source="/tests/enrolment")


def attended(employee_id: str, *, session: int = 1, tenant: str = TENANT) -> CloudEvent:
    session_id = uuid.uuid5(uuid.NAMESPACE_URL, f"session:{employee_id}:{session}")
    data = SessionAttended.model_validate({
        "tenant": tenant,
        "attendance_id": str(ids.attendance_id(tenant, employee_id, session_id)),
        "employee_id": employee_id,
        "batch_id": str(uuid.uuid4()),
        "session": {"id": str(session_id), "starts_at": (NOW + timedelta(days=session)).isoformat(),
                    "duration_minutes": 90, "mode": "classroom"},
        "minutes_attended": 90,
        "marked_by": "trainer",
        "marked_at": (NOW + timedelta(days=session, hours=2)).isoformat(),
    })
    return new_event(data, id=data.attendance_id, source="/tests/attendance")


def employee(label: str = "E") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"
