"""Realistic events: Haryana and Bihar, Hindi and English names, hub and spoke centres.

The committed examples under contracts/examples/ were written from these, and tests build on them.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import NAMESPACE_URL, UUID, uuid5

from karmayogi_contracts import (
    CertificateIssued, CertificateRevoked, CourseCompleted, EmployeeEnrolled, EmployeeUpdated, EnrolmentWithdrawn,
    SessionAttended, ids,
)
from karmayogi_contracts.events import Batch, CompletionRule, EmployeeProfile, Session
from karmayogi_contracts.parts import AttendanceBasis, BatchRef, Centre, Competency, CourseSummary, EmployeeRef, ExternalBasis


def fixed_uuid(label: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:karmayogi-example:{label}")


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=timezone.utc)


HIPA = Centre(id=fixed_uuid("centre:hipa"), name="Haryana Institute of Public Administration (HIPA), Gurugram",
              tier="hub", district="Gurugram")
DTC_ROHTAK = Centre(id=fixed_uuid("centre:dtc-rohtak"), name="District Training Centre, Rohtak",
                    tier="spoke", district="Rohtak")
BIPARD = Centre(id=fixed_uuid("centre:bipard"), name="BIPARD, Gaya", tier="hub", district="Gaya")
DTC_MUZAFFARPUR = Centre(id=fixed_uuid("centre:dtc-muzaffarpur"), name="District Training Centre, Muzaffarpur",
                         tier="spoke", district="Muzaffarpur")

ETHICS = (Competency(name="Ethics and integrity", kind="behavioural"),
          Competency(name="Public grievance redressal", kind="functional"))
ETHICS_MASTER = CourseSummary(id=fixed_uuid("course:ethics-mt"),
                              title="Ethics and Integrity in Governance: Master Trainer Programme",
                              competencies=ETHICS, trains_trainers=True, family="ethics-in-governance")
ETHICS_SPOKE = CourseSummary(id=fixed_uuid("course:ethics"), title="Ethics and Integrity in Governance",
                             competencies=ETHICS, trains_trainers=False, family="ethics-in-governance")
LAND_RECORDS = CourseSummary(id=fixed_uuid("course:land-records"), title="Digital Land Records (Bhu-Naksha)",
                             competencies=(Competency(name="Land records management", kind="domain"),),
                             trains_trainers=False, family="land-records")

SUNITA = EmployeeProfile(id="HR0412345", name="सुनीता देवी", email="sunita.devi@hry.gov.in",
                         mobile="+919812345678", preferred_language="hi", department="Revenue and Disaster Management",
                         designation="Naib Tehsildar", district="Rohtak")
PRIYA = EmployeeProfile(id="HR0498765", name="Priya Malik", email="priya.malik@hry.gov.in", mobile=None,
                        preferred_language="en-IN", department="Social Justice and Empowerment",
                        designation="District Social Welfare Officer", district="Gurugram")
RAKESH = EmployeeProfile(id="BR-2019-07731", name="Rakesh Kumar Singh", email=None, mobile="+919431234567",
                         preferred_language="en", department="Revenue and Land Reforms",
                         designation="Circle Officer", district="Muzaffarpur")
ANJALI = EmployeeProfile(id="BR-2021-11802", name="अंजलि कुमारी", email="anjali.kumari@bihar.gov.in",
                         mobile="+917004123456", preferred_language="hi-IN", department="Education",
                         designation="Block Education Officer", district="Muzaffarpur")

HIPA_BATCH = Batch(id=fixed_uuid("batch:hipa-ethics-mt-2025-03"), centre=HIPA, start_date=date(2025, 3, 3),
                   end_date=date(2025, 3, 8), mode="classroom", sessions_planned=6)
MUZAFFARPUR_BATCH = Batch(id=fixed_uuid("batch:muz-land-2025-03"), centre=DTC_MUZAFFARPUR,
                          start_date=date(2025, 3, 10), end_date=date(2025, 3, 21), mode="blended",
                          sessions_planned=6)
FIRST_SESSION = fixed_uuid("session:hipa-ethics-mt-1")
RULE = CompletionRule(minimum_attendance_percent=75, mandatory_session_ids=(FIRST_SESSION,))


def enrolled(employee: EmployeeProfile, tenant: str, course: CourseSummary, batch: Batch, channel: str = "api"):
    return EmployeeEnrolled(
        tenant=tenant, enrolment_id=ids.enrolment_id(tenant, employee.id, batch.id), employee=employee,
        course=course, batch=batch, completion_rule=RULE if batch is HIPA_BATCH else
        CompletionRule(minimum_attendance_percent=80, mandatory_session_ids=()),
        enrolled_at=at(1, 9, 30), channel=channel,
    )


def sunita_enrolled() -> EmployeeEnrolled:
    return enrolled(SUNITA, "IN-HR", ETHICS_MASTER, HIPA_BATCH, "hrms")


def rakesh_enrolled() -> EmployeeEnrolled:
    return enrolled(RAKESH, "IN-BR", LAND_RECORDS, MUZAFFARPUR_BATCH, "bulk")


def sunita_attended() -> SessionAttended:
    session = Session(id=FIRST_SESSION, starts_at=at(3, 4, 30), duration_minutes=180, mode="classroom")
    return SessionAttended(
        tenant="IN-HR", attendance_id=ids.attendance_id("IN-HR", SUNITA.id, session.id), employee_id=SUNITA.id,
        batch_id=HIPA_BATCH.id, enrolment_id=sunita_enrolled().enrolment_id, session=session,
        minutes_attended=170, marked_by="biometric", marked_at=at(3, 7, 31),
    )


def rakesh_attended_online() -> SessionAttended:
    session = Session(id=fixed_uuid("session:muz-land-2"), starts_at=at(12, 5), duration_minutes=90, mode="online")
    return SessionAttended(
        tenant="IN-BR", attendance_id=ids.attendance_id("IN-BR", RAKESH.id, session.id), employee_id=RAKESH.id,
        batch_id=MUZAFFARPUR_BATCH.id, session=session, minutes_attended=90, marked_by="trainer",
        marked_at=at(12, 6, 45),
    )


def sunita_completed() -> CourseCompleted:
    enrolment = sunita_enrolled().enrolment_id
    return CourseCompleted(
        tenant="IN-HR", completion_id=ids.completion_id("IN-HR", enrolment), enrolment_id=enrolment,
        employee=EmployeeRef(id=SUNITA.id, name=SUNITA.name), course=ETHICS_MASTER,
        batch=BatchRef(id=HIPA_BATCH.id, centre=HIPA), completed_at=at(8, 12),
        basis=AttendanceBasis(kind="attendance", sessions_attended=6, sessions_planned=6, attendance_percent=97.5),
    )


def anjali_completed_on_igot() -> CourseCompleted:
    enrolment = ids.enrolment_id("IN-BR", ANJALI.id, fixed_uuid("batch:igot-ethics-online"))
    return CourseCompleted(
        tenant="IN-BR", completion_id=ids.completion_id("IN-BR", enrolment), enrolment_id=enrolment,
        employee=EmployeeRef(id=ANJALI.id, name=ANJALI.name), course=ETHICS_SPOKE, batch=None,
        completed_at=at(20, 15, 5), basis=ExternalBasis(kind="external", source="igot", reference="do_11398765"),
    )


def sunita_certified() -> CertificateIssued:
    enrolment = sunita_enrolled().enrolment_id
    certificate = ids.certificate_id("IN-HR", enrolment)
    return CertificateIssued(
        tenant="IN-HR", certificate_id=certificate, enrolment_id=enrolment, employee_id=SUNITA.id,
        course_id=ETHICS_MASTER.id, course_title=ETHICS_MASTER.title, course_family=ETHICS_MASTER.family,
        trains_trainers=True, issued_at=at(8, 12, 1), verify_url=f"https://certificates.hry.gov.in/verify/{certificate}",
    )


def anjali_certified() -> CertificateIssued:
    completed = anjali_completed_on_igot()
    certificate = ids.certificate_id("IN-BR", completed.enrolment_id)
    return CertificateIssued(
        tenant="IN-BR", certificate_id=certificate, enrolment_id=completed.enrolment_id, employee_id=ANJALI.id,
        course_id=ETHICS_SPOKE.id, course_title=ETHICS_SPOKE.title, course_family=ETHICS_SPOKE.family,
        trains_trainers=False, issued_at=at(20, 15, 6), verify_url=f"https://certificates.bihar.gov.in/v/{certificate}",
    )


def anjali_certificate_revoked() -> CertificateRevoked:
    issued = anjali_certified()
    return CertificateRevoked(
        tenant="IN-BR", certificate_id=issued.certificate_id, enrolment_id=issued.enrolment_id,
        employee_id=ANJALI.id, course_id=issued.course_id, revoked_at=at(2, 10, month=4),
        reason="iGOT withdrew the completion after an assessment audit",
    )


def priya_withdrawn() -> EnrolmentWithdrawn:
    batch = fixed_uuid("batch:dtc-rohtak-ethics-2025-04")
    return EnrolmentWithdrawn(
        tenant="IN-HR", enrolment_id=ids.enrolment_id("IN-HR", PRIYA.id, batch), employee_id=PRIYA.id,
        batch_id=batch, withdrawn_at=at(28, 11, 15), reason="Transferred to another district before the batch began",
    )


def rakesh_withdrawn() -> EnrolmentWithdrawn:
    event = rakesh_enrolled()
    return EnrolmentWithdrawn(
        tenant="IN-BR", enrolment_id=event.enrolment_id, employee_id=RAKESH.id, batch_id=event.batch.id,
        withdrawn_at=at(11, 8), reason="प्रशिक्षण अवधि में चुनाव ड्यूटी",
    )


def sunita_promoted_and_transferred() -> EmployeeUpdated:
    """After her master trainer course: a new designation, posting and mobile number."""
    return EmployeeUpdated(
        tenant="IN-HR", updated_at=at(2, 6, 45, month=4),
        employee=SUNITA.model_copy(update={"designation": "Tehsildar", "district": "Jhajjar", "mobile": "+919812345679"}),
    )


ALL = (sunita_enrolled, rakesh_enrolled, sunita_attended, rakesh_attended_online, sunita_completed,
       anjali_completed_on_igot, sunita_certified, anjali_certified, anjali_certificate_revoked, priya_withdrawn,
       rakesh_withdrawn, sunita_promoted_and_transferred)
