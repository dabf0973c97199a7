"""Single enrolment, withdrawal, waitlist and the hub-and-spoke rule, through the HTTP API on the real stack."""

import asyncio
import uuid

import pytest
from karmayogi_contracts import EmployeeEnrolled, EnrolmentWithdrawn, ids

TENANT = "IN-HR"
pytestmark = pytest.mark.integration


async def test_an_enrolment_is_published_on_employee_enrolled_with_its_key_and_cloudevents_headers(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub)
    employee = await enrolment.employee()

    made = await enrolment.post("enrolments", {"employee_id": employee, "batch_id": batch["id"]})

    assert made["status"] == "enrolled"
    assert made["id"] == str(ids.enrolment_id(TENANT, employee, batch["id"]))
    [(record, event)] = await enrolment.published("employee.enrolled")
    assert record.key == f"{TENANT}:{employee}".encode()
    headers = dict(record.headers)
    assert headers["ce_type"] == b"karmayogi.employee.enrolled.v1"
    assert headers["ce_source"] == b"/services/enrolment"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_tenant"] == TENANT.encode()
    assert headers["ce_id"] == made["id"].encode()
    assert headers["ce_subject"] == made["id"].encode()
    assert isinstance(event.data, EmployeeEnrolled)
    assert event.data.employee.name == "सुनीता देवी"
    assert event.data.completion_rule.minimum_attendance_percent == 75
    assert event.data.batch.centre.tier == "hub"
    assert event.data.channel == "api"


async def test_enrolling_the_same_employee_twice_returns_the_same_enrolment_and_publishes_once(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub)
    employee = await enrolment.employee()
    body = {"employee_id": employee, "batch_id": batch["id"]}

    first = await enrolment.post("enrolments", body, expect=201)
    again = await enrolment.post("enrolments", body, expect=200)

    assert again["id"] == first["id"]
    assert await enrolment.sql("SELECT count(*) FROM enrolments") == 1
    assert len(await enrolment.published("employee.enrolled")) == 1


async def test_concurrent_requests_for_the_same_seat_make_one_enrolment(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub)
    employee = await enrolment.employee()
    body = {"employee_id": employee, "batch_id": batch["id"]}

    answers = await asyncio.gather(*(enrolment.http.post(enrolment.path("enrolments"), json=body) for _ in range(5)))

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_a_full_batch_waitlists_and_a_withdrawal_promotes_the_oldest_waitlisted(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub, capacity=1)
    first, second, third = [await enrolment.employee() for _ in range(3)]
    seat = await enrolment.post("enrolments", {"employee_id": first, "batch_id": batch["id"]})
    waiting = await enrolment.post("enrolments", {"employee_id": second, "batch_id": batch["id"]})
    later = await enrolment.post("enrolments", {"employee_id": third, "batch_id": batch["id"]})
    assert (seat["status"], waiting["status"], later["status"]) == ("enrolled", "waitlisted", "waitlisted")
    assert [e.data.employee.id for _, e in await enrolment.published("employee.enrolled")] == [first]

    gone = await enrolment.post(f"enrolments/{seat['id']}/withdrawal", {"reason": "Transferred to Hisar."}, expect=200)

    assert gone["status"] == "withdrawn"
    promoted = (await enrolment.http.get(enrolment.path(f"enrolments/{waiting['id']}"))).json()
    assert promoted["status"] == "enrolled"
    assert (await enrolment.http.get(enrolment.path(f"enrolments/{later['id']}"))).json()["status"] == "waitlisted"
    enrolled = [e.data for _, e in await enrolment.published("employee.enrolled")]
    assert sorted(d.employee.id for d in enrolled) == sorted([first, second])  # different partitions: no order
    [(_, withdrawal)] = await enrolment.published("enrolment.withdrawn")
    assert isinstance(withdrawal.data, EnrolmentWithdrawn)
    assert (withdrawal.data.employee_id, withdrawal.data.reason) == (first, "Transferred to Hisar.")
    batch_now = (await enrolment.http.get(enrolment.path(f"batches/{batch['id']}"))).json()
    assert (batch_now["enrolled_count"], batch_now["waitlisted_count"]) == (1, 1)


async def test_withdrawing_a_waitlisted_enrolment_publishes_nothing_and_the_batch_cannot_be_rejoined(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub, capacity=1)
    first, second = await enrolment.employee(), await enrolment.employee()
    await enrolment.post("enrolments", {"employee_id": first, "batch_id": batch["id"]})
    waiting = await enrolment.post("enrolments", {"employee_id": second, "batch_id": batch["id"]})

    await enrolment.post(f"enrolments/{waiting['id']}/withdrawal", {"reason": "Not relieved by office."}, expect=200)
    again = await enrolment.post("enrolments", {"employee_id": second, "batch_id": batch["id"]}, expect=422)

    assert "withdrew from batch" in again["detail"][0]
    assert await enrolment.published("enrolment.withdrawn") == []


async def test_an_employee_has_one_active_enrolment_per_course(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    one, other = await enrolment.batch(course, hub), await enrolment.batch(course, hub)
    employee = await enrolment.employee()
    await enrolment.post("enrolments", {"employee_id": employee, "batch_id": one["id"]})

    refused = await enrolment.post("enrolments", {"employee_id": employee, "batch_id": other["id"]}, expect=422)

    assert f"already has an active enrolment (enrolled) in batch {one['id']}" in refused["detail"][0]


async def test_a_closed_batch_refuses_enrolment_with_a_sentence(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub, enrolment_open=False)
    employee = await enrolment.employee()

    refused = await enrolment.post("enrolments", {"employee_id": employee, "batch_id": batch["id"]}, expect=422)

    assert refused["detail"] == [f"Batch {batch['id']} is closed for enrolment; ask the training centre to open it."]


async def test_a_spoke_batch_refuses_a_trainer_without_a_master_trainer_certificate_until_the_certificate_arrives(enrolment):
    course, hub = await enrolment.course(family="cyber-hygiene"), await enrolment.hub()
    spoke = await enrolment.spoke(hub)
    trainer = await enrolment.employee()

    refused = await enrolment.post("batches", enrolment.batch_body(course, spoke, trainers=[trainer]), expect=422)
    assert refused["detail"] == [
        f"Trainer {trainer} holds no master-trainer certificate for course family 'cyber-hygiene'; "
        "a spoke batch can only be taught by master trainers certified at a hub."]
    assert await enrolment.batch(course, hub, trainers=[trainer])  # hubs have no such rule

    await enrolment.publish(enrolment.certificate(trainer, "cyber-hygiene", trains_trainers=False),
                            enrolment.certificate(trainer, "ethics-in-governance"),
                            enrolment.certificate(trainer, "cyber-hygiene"))
    batch = None
    for _ in range(100):
        response = await enrolment.http.post(enrolment.path("batches"), json=enrolment.batch_body(course, spoke, trainers=[trainer]))
        if response.status_code == 201:
            batch = response.json()
            break
        await asyncio.sleep(0.2)
    assert batch is not None and batch["trainers"] == [trainer]
    assert await enrolment.sql("SELECT count(*) FROM trainer_eligibility WHERE employee_id = $1", trainer) == 2


async def test_assigning_an_uncertified_trainer_to_a_spoke_batch_is_refused(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, await enrolment.spoke(hub))

    response = await enrolment.http.patch(enrolment.path(f"batches/{batch['id']}"), json={"trainers": ["HR0400017"]})

    assert response.status_code == 422
    assert "Trainer HR0400017 holds no master-trainer certificate for course family 'ethics-in-governance'" in response.json()["detail"][0]


async def test_bad_input_is_answered_422_with_one_sentence_per_problem(enrolment):
    bad_course = await enrolment.post("courses", {"title": " ", "family": "Ethics In Governance",
                                                  "completion_rule": {"minimum_attendance_percent": 120}}, expect=422)
    assert len(bad_course["detail"]) == 3
    assert any(s.startswith("body.family: must be 1-64 lowercase letters") for s in bad_course["detail"])

    spoke_without_hub = await enrolment.post("centres", {"name": "DTC Gaya", "tier": "spoke", "district": "Gaya"}, expect=422)
    assert spoke_without_hub["detail"] == ["hub_id: a spoke must name the hub it belongs to."]

    course, hub = await enrolment.course(), await enrolment.hub()
    backwards = await enrolment.post("batches", enrolment.batch_body(course, hub, end_date="2020-01-01",
                                                                     centre_id=str(uuid.uuid4())), expect=422)
    assert len(backwards["detail"]) == 2

    unknown = await enrolment.post("enrolments", {"employee_id": "HR404", "batch_id": str(uuid.uuid4())}, expect=422)
    assert "not in the directory" in unknown["detail"][0]


async def test_rosters_are_searchable_by_batch_centre_district_and_course_page_by_page(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    spoke = await enrolment.spoke(hub)
    at_hub, at_spoke = await enrolment.batch(course, hub), await enrolment.batch(await enrolment.course(), spoke)
    for _ in range(5):
        employee = await enrolment.employee()
        await enrolment.post("enrolments", {"employee_id": employee, "batch_id": at_hub["id"]})
        await enrolment.post("enrolments", {"employee_id": employee, "batch_id": at_spoke["id"]})

    async def ids_of(**query) -> list[str]:
        found, after = [], None
        while True:
            page = (await enrolment.http.get(enrolment.path("enrolments"), params={**query, "limit": 2, **({"after": after} if after else {})})).json()
            found += [item["id"] for item in page["items"]]
            if not (after := page["next"]):
                return found

    assert len(await ids_of(batch_id=at_hub["id"])) == 5
    assert len(await ids_of(centre_id=spoke["id"])) == 5
    assert len(await ids_of(district="Gurugram")) == 5
    assert len(await ids_of(course_id=course["id"])) == 5
    assert len(set(await ids_of())) == 10
