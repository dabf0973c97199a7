"""Cross-service flows: the four services as separate processes over the real Kafka and PostgreSQL, driven
through their APIs and topics as training officers and state systems drive them."""

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from karmayogi_contracts import (
    TOPICS, CourseCompleted, EmployeeEnrolled, SessionAttended, dead_letter_topic, encode_structured, ids, new_event,
)
from karmayogi_runtime import calendar
from karmayogi_runtime.dead_letter_topics import read_dead_letters

from system_harness import STATE, TENANT, consumer_groups, consumer_lag, invalid_records, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES = Path(__file__).parents[1] / "contracts" / "examples"


async def _complete(training, batch_id: str, employee_ids: list[str], attended: int = 6) -> None:
    sessions = await training.sessions(batch_id, roster=len(employee_ids))
    for session in sessions[:attended]:
        await training.attend(session, employee_ids)


async def test_an_enrolment_ends_as_a_signed_certificate_and_mail_in_the_employees_language(training):
    hub = await training.centre("hub", district="Gurugram")
    course = await training.course()
    batch = (await training.batch(course, hub)).json()
    sunita = await training.employee("सुनीता देवी", language="hi")
    enrolment = await training.enrol(sunita, batch["id"])

    await _complete(training, batch["id"], [sunita], attended=5)

    certificate = await training.certificate(str(ids.certificate_id(TENANT, enrolment["id"])))
    assert certificate["status"] == "valid" and certificate["employee_name"] == "सुनीता देवी"
    address = f"{sunita.lower()}@hry.example.in"
    mails = await training.mails(address, 3)  # welcome, completion, certificate
    bodies = [m.get_body(("plain",)).get_content() for m in mails.values()]
    assert any(certificate["verify_url"] in body for body in bodies)
    # Her name alone would be in an English mail too ("Dear सुनीता देवी"): the Hindi templates' own words
    # (greeting and sign-off) must be there, and the English ones absent.
    for body in bodies:
        assert "प्रिय सुनीता देवी" in body and "मिशन कर्मयोगी" in body
        assert "Dear " not in body and "Mission Karmayogi" not in body
    assert any("प्रशिक्षण में आपका नामांकन हो गया है" in body for body in bodies)  # the welcome
    assert any("बधाई!" in body for body in bodies)  # the completion
    async with httpx.AsyncClient() as anyone:  # the e-mail's link needs no key
        page = await anyone.get(certificate["verify_url"])
    assert page.status_code == 200 and "सुनीता देवी" in page.text


async def test_a_change_to_the_directory_reaches_the_certificate_and_the_messages_of_an_earlier_enrolment(
    training, system
):
    """Her name corrected and a transfer (a new e-mail) after she enrolled: the certificate carries the corrected
    name, and what is sent after the change goes to the new address."""
    hub = await training.centre("hub", district="Gurugram")
    batch = (await training.batch(await training.course(), hub)).json()
    sunita = await training.employee("Sunita Devi", language="en")
    enrolment = await training.enrol(sunita, batch["id"])
    before = f"{sunita.lower()}@hry.example.in"
    await training.mails(before, 1)  # the welcome
    after = f"{sunita.lower()}@jhajjar.example.in"

    await training.call("enrolment", "PUT", f"{STATE}/employees/{sunita}", json={
        "name": "Sunita Devi Malik", "email": after, "mobile": "+919812345678", "preferred_language": "en",
        "department": "Revenue", "designation": "Tehsildar", "district": "Jhajjar"}, expect=200)
    readers = {group: ("employee.updated",) for group, topics in consumer_groups(system).items()
               if "employee.updated" in topics}
    assert len(readers) == 2  # attendance's roster and notifications

    async def applied() -> bool:
        lag, never_committed = await consumer_lag(system, readers)
        return lag == 0 and not never_committed

    await training.eventually(applied)
    await _complete(training, batch["id"], [sunita], attended=5)

    certificate = await training.certificate(str(ids.certificate_id(TENANT, enrolment["id"])))
    assert certificate["employee_name"] == "Sunita Devi Malik"
    mails = await training.mails(after, 2)  # completion and certificate
    assert all("Dear Sunita Devi Malik" in m.get_body(("plain",)).get_content() for m in mails.values())
    assert any(certificate["verify_url"] in m.get_body(("plain",)).get_content() for m in mails.values())
    assert len(training.mails_to(before)) == 1


async def test_a_state_system_publishing_structured_cloudevents_straight_to_the_topics_is_served(training, system):
    enrolled = _enrolled_example(training.run)
    enrolment_id = enrolled.data.enrolment_id
    marks = [_attended(enrolled, n) for n in range(5)]
    await publish(system.kafka_bootstrap, system.prefix, [encode_structured(e) for e in [enrolled, *marks]])

    certificate = await training.certificate(str(ids.certificate_id(TENANT, enrolment_id)), timeout=90)
    assert certificate["employee_name"] == enrolled.data.employee.name
    await training.mails(enrolled.data.employee.email, 3)


async def test_invalid_events_from_a_state_system_are_dead_lettered_with_reasons_while_valid_ones_flow(training, system):
    poison = invalid_records(EXAMPLES / "employee.enrolled" / "invalid") + invalid_records(EXAMPLES / "session.attended" / "invalid")
    enrolled = _enrolled_example(training.run)
    await publish(system.kafka_bootstrap, system.prefix, [*(p.record for p in poison), encode_structured(enrolled)])

    await training.mails(enrolled.data.employee.email, 1, timeout=90)  # the welcome mail
    progress = await training.roster(str(enrolled.data.batch.id), 1, timeout=90)  # and attendance's roster
    assert [row["employee_id"] for row in progress] == [enrolled.data.employee.id]

    # Every group that reads a topic rejects each bad record of it once (employee.enrolled is read by the
    # roster and by notifications), and nothing else is dead-lettered anywhere.
    due = {(group, p.record.key.decode()): p for p in poison
           for group, topics in consumer_groups(system).items() if p.record.topic in topics}
    assert {key for _, key in due} == {p.record.key.decode() for p in poison}  # every record is read by a group
    every_dlq = [system.prefix + dead_letter_topic(topic) for topic in TOPICS]
    letters = await training.eventually(lambda: _at_least(system, every_dlq, len(due)), timeout=90)
    found = Counter((letter.why["consumer_group"], letter.record.key.decode()) for letter in letters)
    assert found == Counter(due.keys())
    for letter in letters:
        expected = due[(letter.why["consumer_group"], letter.record.key.decode())]
        assert letter.why["original_topic"] == expected.record.topic
        assert letter.why["error_class"] == f"DecodeError.{expected.reason}"
        assert expected.message in letter.why["error_message"]


async def test_an_igot_completion_published_directly_yields_a_certificate_and_a_message(training, system):
    hub = await training.centre("hub", district="Gurugram")
    course = await training.course()
    batch = (await training.batch(course, hub)).json()
    amit = await training.employee("Amit Yadav", language="en")
    await training.enrol(amit, batch["id"])
    await training.mails(f"{amit.lower()}@hry.example.in", 1)  # the welcome: notifications knows him now

    online_enrolment = uuid.uuid4()
    completed = CourseCompleted.model_validate({
        "tenant": TENANT, "completion_id": str(ids.completion_id(TENANT, online_enrolment)),
        "enrolment_id": str(online_enrolment), "employee": {"id": amit, "name": "Amit Yadav"},
        "course": {"id": str(uuid.uuid4()), "title": "Cyber Security Awareness (iGOT)", "competencies": [],
                   "trains_trainers": False, "family": "cyber-security"},
        "completed_at": datetime.now(timezone.utc).isoformat(),
        "basis": {"kind": "external", "source": "igot", "reference": "igot-do_1138"},
    })
    await publish(system.kafka_bootstrap, system.prefix,
                  [encode_structured(new_event(completed, source="urn:state:IN-HR:igot", id=completed.completion_id))])

    certificate = await training.certificate(str(ids.certificate_id(TENANT, online_enrolment)))
    assert certificate["course_title"] == "Cyber Security Awareness (iGOT)"
    mails = await training.mails(f"{amit.lower()}@hry.example.in", 3)
    assert any(certificate["verify_url"] in m.get_body(("plain",)).get_content() for m in mails.values())


async def test_a_master_trainer_certified_at_a_hub_is_then_accepted_as_trainer_of_a_spoke_batch(training):
    hub = await training.centre("hub", district="Gurugram")
    spoke = await training.centre("spoke", hub_id=hub["id"], district="Rewari")
    master_course = await training.course(trains_trainers=True)
    spoke_course = await training.course()
    trainer = await training.employee("Kavita Malik", language="en")

    refused = await training.batch(spoke_course, spoke, [trainer], expect=422)
    assert trainer in refused.text and "ethics-in-governance" in refused.text

    hub_batch = (await training.batch(master_course, hub)).json()
    enrolment = await training.enrol(trainer, hub_batch["id"])
    await _complete(training, hub_batch["id"], [trainer])
    await training.certificate(str(ids.certificate_id(TENANT, enrolment["id"])))

    async def accepted():
        response = await training.call("enrolment", "POST", f"{STATE}/batches", expect=(201, 422), json={
            "course_id": spoke_course["id"], "centre_id": spoke["id"],
            "start_date": calendar.today().isoformat(), "end_date": calendar.today().isoformat(),
            "capacity": 40, "mode": "classroom",
            "sessions_planned": 6, "trainers": [trainer]})
        return response.status_code == 201

    assert await training.eventually(accepted, timeout=60)


async def _at_least(system, topics, count):
    letters = await read_dead_letters(system.kafka_bootstrap, topics)
    return letters if len(letters) >= count else None


def _enrolled_example(run: str):
    """A valid enrolment from the contract test vectors, with ids of this test's own."""
    data = json.loads(next((EXAMPLES / "employee.enrolled" / "valid").glob("*.json")).read_text())["data"]
    employee_id = f"HR-{run}-{uuid.uuid4().hex[:6]}"
    batch_id = uuid.uuid4()
    data["employee"] |= {"id": employee_id, "email": f"{employee_id.lower()}@hry.example.in"}
    data["batch"]["id"] = str(batch_id)
    today = calendar.today()
    data["batch"] |= {"start_date": today.isoformat(), "end_date": today.isoformat(), "sessions_planned": 6}
    data["completion_rule"] = {"minimum_attendance_percent": 75, "mandatory_session_ids": []}
    data["tenant"] = TENANT
    data["enrolment_id"] = str(ids.enrolment_id(TENANT, employee_id, batch_id))
    model = EmployeeEnrolled.model_validate(data)
    return new_event(model, source="urn:state:IN-HR:hrms", id=model.enrolment_id)


def _attended(enrolled, n: int):
    data = enrolled.data
    session_id = uuid.uuid5(data.batch.id, f"session-{n}")
    starts = calendar.earlier_today(6)[n]
    attended = SessionAttended.model_validate({
        "tenant": TENANT, "attendance_id": str(ids.attendance_id(TENANT, data.employee.id, session_id)),
        "employee_id": data.employee.id, "batch_id": str(data.batch.id), "enrolment_id": str(data.enrolment_id),
        "session": {"id": str(session_id), "starts_at": starts.isoformat(), "duration_minutes": 1, "mode": "classroom"},
        "minutes_attended": 1, "marked_by": "biometric", "marked_at": (starts + timedelta(minutes=1)).isoformat(),
    })
    return new_event(attended, source="urn:state:IN-HR:biometric", id=attended.attendance_id)
