"""Hypothesis strategies that build any valid v1 event, in any script the names may use."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import strategies as st

from karmayogi_contracts import (
    CertificateIssued, CertificateRevoked, CourseCompleted, EmployeeEnrolled, EmployeeUpdated, EnrolmentWithdrawn,
    SessionAttended, new_event,
)
from karmayogi_contracts.events import Batch, CompletionRule, EmployeeProfile, Session
from karmayogi_contracts.parts import AttendanceBasis, BatchRef, Centre, Competency, CourseSummary, EmployeeRef, ExternalBasis

# Letters and marks from Latin, Devanagari (incl. nukta letters that NFC decomposes), Gurmukhi,
# Bengali, Tamil and Telugu, with the punctuation names use.
_SCRIPTS = [(0x900, 0x97F), (0xA00, 0xA7F), (0x980, 0x9FF), (0xB80, 0xBFF), (0xC00, 0xC7F)]
_NAME_CHARS = st.one_of(
    st.characters(min_codepoint=0x41, max_codepoint=0x7A, categories=("L",)),
    *[st.characters(min_codepoint=lo, max_codepoint=hi, categories=("L", "M")) for lo, hi in _SCRIPTS],
    st.sampled_from([" ", ".", "'", "-", "\u200d"]),
)
names = st.text(_NAME_CHARS, min_size=1, max_size=60).filter(lambda n: any(c.isalpha() for c in n))
texts = st.text(st.characters(categories=("L", "M", "N", "P", "Zs", "S")), min_size=1, max_size=80).filter(str.strip)
tenants = st.from_regex(r"IN-[A-Z]{2}", fullmatch=True)
employee_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
slugs = st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}", fullmatch=True)
emails = st.builds("{}@{}".format, st.from_regex(r"[a-z][a-z0-9.]{0,20}[a-z0-9]", fullmatch=True).filter(lambda s: ".." not in s),
                   st.sampled_from(["hry.gov.in", "bihar.gov.in", "gmail.com", "nic.in"]))
mobiles = st.from_regex(r"\+91[6-9][0-9]{9}", fullmatch=True)
languages = st.sampled_from(["hi", "en", "hi-IN", "en-IN", "pa", "bn", "ta-IN", "sa-Deva-IN", "mai"])
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                       timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30))]))
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1))
counts = st.integers(min_value=1, max_value=200)
competencies = st.lists(st.builds(Competency, name=texts, kind=st.sampled_from(["behavioural", "functional", "domain"])),
                        max_size=4).map(tuple)
centres = st.builds(Centre, id=st.uuids(), name=texts, tier=st.sampled_from(["hub", "spoke"]), district=texts)
courses = st.builds(CourseSummary, id=st.uuids(), title=texts, competencies=competencies, trains_trainers=st.booleans(),
                    family=slugs)


@st.composite
def batches(draw):
    start = draw(days)
    return Batch(id=draw(st.uuids()), centre=draw(centres), start_date=start,
                 end_date=start + timedelta(days=draw(st.integers(0, 60))),
                 mode=draw(st.sampled_from(["classroom", "online", "blended"])), sessions_planned=draw(counts))


profiles = st.builds(EmployeeProfile, id=employee_ids, name=names, email=st.none() | emails, mobile=st.none() | mobiles,
                    preferred_language=languages, department=texts, designation=texts, district=texts)


enrolled = st.builds(
    EmployeeEnrolled, tenant=tenants, enrolment_id=st.uuids(), employee=profiles, course=courses, batch=batches(),
    completion_rule=st.builds(CompletionRule, minimum_attendance_percent=st.integers(0, 100),
                              mandatory_session_ids=st.lists(st.uuids(), max_size=3).map(tuple)),
    enrolled_at=moments, channel=st.sampled_from(["api", "bulk", "hrms", "igot"]),
)


@st.composite
def attended(draw):
    session = Session(id=draw(st.uuids()), starts_at=draw(moments), duration_minutes=draw(st.integers(1, 1440)),
                      mode=draw(st.sampled_from(["classroom", "online"])))
    return SessionAttended(
        tenant=draw(tenants), attendance_id=draw(st.uuids()), employee_id=draw(employee_ids), batch_id=draw(st.uuids()),
        enrolment_id=draw(st.none() | st.uuids()), session=session,
        minutes_attended=draw(st.integers(0, session.duration_minutes)),
        marked_by=draw(st.sampled_from(["trainer", "biometric", "igot", "admin"])), marked_at=draw(moments),
    )


bases = st.builds(AttendanceBasis, kind=st.just("attendance"), sessions_attended=st.integers(0, 200),
                  sessions_planned=counts, attendance_percent=st.floats(0, 100, allow_nan=False)) | st.builds(
    ExternalBasis, kind=st.just("external"), source=slugs, reference=st.none() | texts)
completed = st.builds(
    CourseCompleted, tenant=tenants, completion_id=st.uuids(), enrolment_id=st.uuids(),
    employee=st.builds(EmployeeRef, id=employee_ids, name=names), course=courses,
    batch=st.none() | st.builds(BatchRef, id=st.uuids(), centre=centres), completed_at=moments, basis=bases,
)
issued = st.builds(
    CertificateIssued, tenant=tenants, certificate_id=st.uuids(), enrolment_id=st.uuids(), employee_id=employee_ids,
    course_id=st.uuids(), course_title=texts, course_family=slugs, trains_trainers=st.booleans(), issued_at=moments,
    verify_url=st.uuids().map(lambda u: f"https://certificates.hry.gov.in/verify/{u}"),
)
revoked = st.builds(CertificateRevoked, tenant=tenants, certificate_id=st.uuids(), enrolment_id=st.uuids(),
                    employee_id=employee_ids, course_id=st.uuids(), revoked_at=moments, reason=texts)
withdrawn = st.builds(EnrolmentWithdrawn, tenant=tenants, enrolment_id=st.uuids(), employee_id=employee_ids,
                      batch_id=st.uuids(), withdrawn_at=moments, reason=texts)
updated = st.builds(EmployeeUpdated, tenant=tenants, employee=profiles, updated_at=moments)
payloads = st.one_of(enrolled, attended(), completed, issued, revoked, withdrawn, updated)
traceparents = st.from_regex(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]", fullmatch=True)
sources = st.sampled_from(["/services/enrolment", "/services/attendance", "urn:state:IN-HR:hrms", "urn:igot:IN-BR:exports"])


@st.composite
def events(draw):
    return new_event(
        draw(payloads), source=draw(sources), id=draw(st.uuids()), time=draw(moments),
        causation_id=draw(st.none() | st.uuids().map(str)), traceparent=draw(st.none() | traceparents),
    )
