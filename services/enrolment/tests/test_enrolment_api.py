"""Single enrolment, withdrawal, waitlist (and its lapse) and the hub-and-spoke rule, through the HTTP API on the real stack."""

import asyncio
import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from karmayogi_contracts import EmployeeEnrolled, EnrolmentWithdrawn, ids
from karmayogi_runtime import calendar

from enrolment import handlers

TENANT = "IN-HR"
SOON = date.today() + timedelta(days=30)  # the start date of the batches conftest makes
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


async def test_a_batch_that_has_started_promotes_nobody_and_its_waitlist_lapses(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub, capacity=1)
    first, second = await enrolment.employee(), await enrolment.employee()
    await enrolment.post("enrolments", {"employee_id": first, "batch_id": batch["id"]})
    waiting = await enrolment.post("enrolments", {"employee_id": second, "batch_id": batch["id"]})
    # Days pass (a batch with enrolments keeps its dates, so its start comes to it), and the sweep the
    # service runs once a minute (`lapse_waitlists_loop`, running: see liveness) goes by.
    await enrolment.sql("UPDATE batches SET start_date = $1 WHERE id = $2", date.today() - timedelta(days=2),
                        uuid.UUID(batch["id"]))
    await lapse_waitlists(enrolment, datetime.now(timezone.utc))

    response = await enrolment.http.patch(enrolment.path(f"batches/{batch['id']}"), json={"capacity": 2})

    assert response.status_code == 200, response.text
    assert (response.json()["enrolled_count"], response.json()["waitlisted_count"]) == (1, 0)
    assert (await enrolment.http.get(enrolment.path(f"enrolments/{waiting['id']}"))).json()["status"] == "lapsed"
    assert [e.data.employee.id for _, e in await enrolment.published("employee.enrolled")] == [first]
    assert (await enrolment.http.get("/health/live")).json()["checks"]["lapse_waitlists_loop"] is True


async def test_an_employee_whose_waitlist_lapsed_enrols_in_another_batch_of_the_course_without_withdrawing(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    full, later = await enrolment.batch(course, hub, capacity=1), await enrolment.batch(course, hub)
    first, second = await enrolment.employee(), await enrolment.employee()
    await enrolment.post("enrolments", {"employee_id": first, "batch_id": full["id"]})
    waiting = await enrolment.post("enrolments", {"employee_id": second, "batch_id": full["id"]})
    assert waiting["status"] == "waitlisted"

    # The sweep as it will run once the batch has started (its start date is SOON; the service's own
    # sweep goes by today's date, so it leaves this batch alone until then).
    lapsed = await lapse_waitlists(enrolment, datetime.now(timezone.utc) + timedelta(days=40))

    assert lapsed == 1
    assert (await enrolment.http.get(enrolment.path(f"batches/{full['id']}"))).json()["waitlisted_count"] == 0
    moved = await enrolment.post("enrolments", {"employee_id": second, "batch_id": later["id"]})
    assert moved["status"] == "enrolled"
    nothing_to_withdraw = await enrolment.post(f"enrolments/{waiting['id']}/withdrawal", {"reason": "Moved."}, expect=200)
    assert nothing_to_withdraw["status"] == "lapsed"
    assert await enrolment.published("enrolment.withdrawn") == []
    assert await lapse_waitlists(enrolment, datetime.now(timezone.utc) + timedelta(days=40)) == 0


async def lapse_waitlists(enrolment, now: datetime) -> int:
    async with enrolment.runtime.pool.acquire() as connection, connection.transaction():
        return await handlers.lapse_waitlists(connection, handlers.Clock.at(now, calendar.zone()))


async def test_a_batch_closed_for_new_requests_still_promotes_its_waitlist_before_it_starts(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub, capacity=1)
    first, second = await enrolment.employee(), await enrolment.employee()
    await enrolment.post("enrolments", {"employee_id": first, "batch_id": batch["id"]})
    waiting = await enrolment.post("enrolments", {"employee_id": second, "batch_id": batch["id"]})

    response = await enrolment.http.patch(enrolment.path(f"batches/{batch['id']}"),
                                          json={"enrolment_open": False, "capacity": 2})

    assert response.status_code == 200, response.text
    assert (await enrolment.http.get(enrolment.path(f"enrolments/{waiting['id']}"))).json()["status"] == "enrolled"


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
    hub_batch = await enrolment.batch(course, hub, trainers=[trainer, trainer])  # hubs have no such rule
    assert hub_batch["trainers"] == [trainer]  # named twice, kept once
    changed = await enrolment.http.patch(enrolment.path(f"batches/{hub_batch['id']}"), json={"trainers": [trainer] * 3})
    assert changed.json()["trainers"] == [trainer]

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


async def test_a_certificate_completes_its_enrolment_which_then_cannot_be_withdrawn(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, hub, capacity=1)
    certified, waiting = await enrolment.employee(), await enrolment.employee()
    made = await enrolment.post("enrolments", {"employee_id": certified, "batch_id": batch["id"]})
    waitlisted = await enrolment.post("enrolments", {"employee_id": waiting, "batch_id": batch["id"]})
    certificate = enrolment.certificate(certified, course["family"], trains_trainers=False, enrolment_id=made["id"])

    await enrolment.publish(certificate, certificate,  # a repeat changes nothing
                            enrolment.certificate(waiting, course["family"], enrolment_id=waitlisted["id"]))
    completed = made
    for _ in range(100):
        completed = (await enrolment.http.get(enrolment.path(f"enrolments/{made['id']}"))).json()
        if completed["status"] == "completed" and await enrolment.sql(
                "SELECT count(*) FROM trainer_eligibility WHERE employee_id = $1", waiting):
            break
        await asyncio.sleep(0.2)

    assert completed["status"] == "completed"
    assert completed["completed_at"].startswith(certificate.data.issued_at.strftime("%Y-%m-%dT%H:%M:%S"))
    refused = await enrolment.http.post(enrolment.path(f"enrolments/{made['id']}/withdrawal"), json={"reason": "Transferred."})
    assert refused.status_code == 409
    assert refused.json()["detail"] == [f"Enrolment {made['id']} is completed and cannot be withdrawn."]
    # only an enrolled enrolment completes: the waitlisted one stays as it was
    assert (await enrolment.http.get(enrolment.path(f"enrolments/{waitlisted['id']}"))).json()["status"] == "waitlisted"
    assert await enrolment.published("enrolment.withdrawn") == []
    # an employee completes a course once: another batch of it is refused
    other = await enrolment.batch(course, hub)
    again = await enrolment.post("enrolments", {"employee_id": certified, "batch_id": other["id"]}, expect=422)
    assert again["detail"] == [f"Employee {certified} has already completed this course, in batch {batch['id']}."]


async def test_a_revoked_certificate_frees_the_course_so_the_employee_can_enrol_again_whichever_arrives_first(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    first_batch, second_batch = await enrolment.batch(course, hub), await enrolment.batch(course, hub)
    issued_first, revoked_first = await enrolment.employee(), await enrolment.employee()
    made = {who: await enrolment.post("enrolments", {"employee_id": who, "batch_id": first_batch["id"]})
            for who in (issued_first, revoked_first)}
    certificates = {who: enrolment.certificate(who, course["family"], trains_trainers=False, enrolment_id=made[who]["id"])
                    for who in made}
    # One certificate issued, then revoked; the other's revocation read before its issue (two topics, no order).
    await enrolment.publish(certificates[issued_first], enrolment.revocation(certificates[revoked_first]))
    await enrolment.handled(certificates[issued_first])
    await enrolment.handled(enrolment.revocation(certificates[revoked_first]))
    completed = (await enrolment.http.get(enrolment.path(f"enrolments/{made[issued_first]['id']}"))).json()
    assert (completed["status"], completed["certificate_revoked_at"]) == ("completed", None)
    await enrolment.publish(enrolment.revocation(certificates[issued_first]), certificates[revoked_first])
    await enrolment.handled(enrolment.revocation(certificates[issued_first]))
    await enrolment.handled(certificates[revoked_first])

    for who in made:
        revoked = (await enrolment.http.get(enrolment.path(f"enrolments/{made[who]['id']}"))).json()
        revoked_at = enrolment.revocation(certificates[who]).data.revoked_at
        assert revoked["status"] == "revoked", who
        assert datetime.fromisoformat(revoked["certificate_revoked_at"]) == revoked_at
        assert revoked["completed_at"] is not None
        # no longer active: a withdrawal changes nothing, and the course is open to the employee again
        withdrawn = await enrolment.post(f"enrolments/{made[who]['id']}/withdrawal", {"reason": "Moved."}, expect=200)
        assert withdrawn["status"] == "revoked"
        same = await enrolment.post("enrolments", {"employee_id": who, "batch_id": first_batch["id"]}, expect=422)
        assert same["detail"] == [f"Employee {who}'s certificate from batch {first_batch['id']} was revoked; enrol them "
                                  "in another batch of the course to earn it again."]
        again = await enrolment.post("enrolments", {"employee_id": who, "batch_id": second_batch["id"]})
        assert again["status"] == "enrolled"


async def test_a_revoked_master_trainer_certificate_makes_its_holder_ineligible_whichever_arrives_first(enrolment):
    course, hub = await enrolment.course(family="cyber-hygiene"), await enrolment.hub()
    spoke = await enrolment.spoke(hub)
    revoked_later, revoked_first, kept = await enrolment.employee(), await enrolment.employee(), await enrolment.employee()
    recertified = await enrolment.employee()
    certificates = {who: enrolment.certificate(who, "cyber-hygiene") for who in (revoked_later, revoked_first, kept)}
    first, second = enrolment.certificate(recertified, "cyber-hygiene"), enrolment.certificate(recertified, "cyber-hygiene")

    await enrolment.publish(certificates[revoked_later], enrolment.revocation(certificates[revoked_first]))
    await enrolment.handled(certificates[revoked_later])
    await enrolment.handled(enrolment.revocation(certificates[revoked_first]))
    await enrolment.publish(enrolment.revocation(certificates[revoked_later]), certificates[revoked_first], certificates[kept])
    for event in (enrolment.revocation(certificates[revoked_later]), certificates[revoked_first], certificates[kept]):
        await enrolment.handled(event)
    # re-certified in the family: revoking one of two certificates leaves the other
    await enrolment.publish(first, second)
    await enrolment.handled(second)
    await enrolment.publish(enrolment.revocation(first))
    await enrolment.handled(enrolment.revocation(first))

    for who, status in ((revoked_later, 422), (revoked_first, 422), (kept, 201), (recertified, 201)):
        response = await enrolment.http.post(enrolment.path("batches"), json=enrolment.batch_body(course, spoke, trainers=[who]))
        assert response.status_code == status, (who, response.text)
        if status == 422:  # told it was revoked, and on which day in the state, not that they were never certified
            revoked_on = calendar.day_of(enrolment.revocation(certificates[who]).data.revoked_at)
            assert response.json()["detail"] == [
                f"Trainer {who}'s master-trainer certificate for course family 'cyber-hygiene' was revoked on "
                f"{revoked_on.isoformat()}; a spoke batch can only be taught by master trainers certified at a hub."]
    eligible = await enrolment.sql(
        "SELECT array_agg(DISTINCT employee_id ORDER BY employee_id) FROM trainer_eligibility WHERE revoked_at IS NULL")
    assert eligible == sorted([kept, recertified])


async def test_a_spoke_batch_keeps_a_trainer_revoked_since_and_checks_only_trainers_added(enrolment):
    course, hub = await enrolment.course(family="cyber-hygiene"), await enrolment.hub()
    spoke, trainer, newcomer = await enrolment.spoke(hub), await enrolment.employee(), await enrolment.employee()
    certificate = enrolment.certificate(trainer, "cyber-hygiene")
    await enrolment.publish(certificate)
    await enrolment.handled(certificate)
    batch = await enrolment.post("batches", enrolment.batch_body(course, spoke, trainers=[trainer]))
    await enrolment.publish(enrolment.revocation(certificate))
    await enrolment.handled(enrolment.revocation(certificate))

    kept = await enrolment.http.patch(enrolment.path(f"batches/{batch['id']}"), json={"trainers": [trainer], "capacity": 31})
    added = await enrolment.http.patch(enrolment.path(f"batches/{batch['id']}"), json={"trainers": [trainer, newcomer]})

    assert (kept.status_code, kept.json()["capacity"]) == (200, 31), kept.text
    assert added.status_code == 422
    assert added.json()["detail"] == [f"Trainer {newcomer} holds no master-trainer certificate for course family "
                                      "'cyber-hygiene'; a spoke batch can only be taught by master trainers certified at a hub."]


async def test_assigning_an_uncertified_trainer_to_a_spoke_batch_is_refused(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, await enrolment.spoke(hub))

    response = await enrolment.http.patch(enrolment.path(f"batches/{batch['id']}"), json={"trainers": ["HR0400017", "HR0400017"]})

    assert response.status_code == 422
    [sentence] = response.json()["detail"]  # named twice, said once
    assert "Trainer HR0400017 holds no master-trainer certificate for course family 'ethics-in-governance'" in sentence


async def test_a_batch_keeps_its_dates_and_plan_once_anyone_has_enrolled_but_its_seats_trainers_and_flag_still_change(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch, emptied = await enrolment.batch(course, hub), await enrolment.batch(course, hub)
    path = enrolment.path(f"batches/{batch['id']}")
    replanned = await enrolment.http.patch(path, json={"sessions_planned": 4, "end_date": (SOON + timedelta(days=3)).isoformat()})
    assert replanned.status_code == 200, replanned.text  # nobody enrolled yet: the plan is still a draft
    employee = await enrolment.employee()
    await enrolment.post("enrolments", {"employee_id": employee, "batch_id": batch["id"]})
    gone = await enrolment.post("enrolments", {"employee_id": await enrolment.employee(), "batch_id": emptied["id"]})
    await enrolment.post(f"enrolments/{gone['id']}/withdrawal", {"reason": "Transferred."}, expect=200)

    refused = [await enrolment.http.patch(path, json=change) for change in (
        {"sessions_planned": 6}, {"start_date": (SOON - timedelta(days=1)).isoformat()}, {"end_date": SOON.isoformat()})]
    refused.append(await enrolment.http.patch(enrolment.path(f"batches/{emptied['id']}"), json={"sessions_planned": 8}))
    same = await enrolment.http.patch(path, json={**{k: replanned.json()[k] for k in ("start_date", "end_date", "sessions_planned")},
                                                  "capacity": 60, "trainers": ["HR0400017"], "enrolment_open": False})

    assert [r.status_code for r in refused] == [409] * 4
    assert refused[0].json()["detail"] == [
        "sessions_planned: cannot change once the batch has enrolments, because attendance measures each enrolled "
        "employee against the plan and dates they were enrolled with; create a new batch and move the employees "
        "by withdrawing them here and enrolling them there."]
    assert same.status_code == 200, same.text
    assert (same.json()["sessions_planned"], same.json()["capacity"], same.json()["enrolment_open"]) == (4, 60, False)
    [announced] = [e for _, e in await enrolment.published("employee.enrolled") if e.data.employee.id == employee]
    assert (announced.data.batch.sessions_planned, announced.data.batch.end_date) == (4, SOON + timedelta(days=3))
    operation = (await enrolment.http.get("/openapi.json")).json()["paths"]["/v1/states/{tenant}/batches/{batch_id}"]["patch"]
    assert "409" in operation["responses"] and "no enrolment" in operation["description"]


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


async def test_a_change_that_sets_a_required_field_to_null_is_answered_422_with_a_sentence(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    spoke, batch = await enrolment.spoke(hub), await enrolment.batch(course, hub)
    cases = [(f"batches/{batch['id']}", {"capacity": None, "start_date": None}, ["start_date", "capacity"]),
             (f"courses/{course['id']}", {"title": None, "completion_rule": None}, ["title", "completion_rule"]),
             (f"centres/{hub['id']}", {"name": None, "district": None}, ["name", "district"])]

    for path, body, fields in cases:
        response = await enrolment.http.patch(enrolment.path(path), json=body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == [
            f"body.{field}: cannot be null; leave the field out to keep its value." for field in fields]

    unhubbed = await enrolment.http.patch(enrolment.path(f"centres/{spoke['id']}"), json={"hub_id": None})
    assert unhubbed.status_code == 422 and unhubbed.json()["detail"] == ["hub_id: a spoke must name the hub it belongs to."]
    renamed = await enrolment.http.patch(enrolment.path(f"centres/{hub['id']}"), json={"name": "HIPA, Gurugram", "hub_id": None})
    assert renamed.status_code == 200 and renamed.json()["name"] == "HIPA, Gurugram"


@pytest.mark.parametrize("listing", ["courses", "centres", "batches", "bulk-jobs", "enrolments"])
async def test_following_next_as_the_openapi_document_says_reaches_the_second_page(enrolment, listing):
    course, hub = await enrolment.course(), await enrolment.hub()
    batch = await enrolment.batch(course, await enrolment.spoke(hub))
    for _ in range(3):
        await enrolment.course(), await enrolment.hub(), await enrolment.batch(course, hub)
        await enrolment.post("enrolments", {"employee_id": await enrolment.employee(), "batch_id": batch["id"]})
        await enrolment.http.post(enrolment.path("bulk-enrolments"), content=json.dumps({
            "employee_id": "HRP1", "name": "Asha", "preferred_language": "hi", "department": "Revenue",
            "designation": "Patwari", "district": "Hisar", "batch_id": batch["id"]}).encode(),
            headers={"content-type": "application/x-ndjson"})
    document = (await enrolment.http.get("/openapi.json")).json()
    operation = document["paths"][f"/v1/states/{{tenant}}/{listing}"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    page_model = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    parameter = re.search(r"Pass as `(\w+)`", page_model["properties"]["next"]["description"])[1]
    assert parameter in {p["name"] for p in operation["parameters"]}

    first = (await enrolment.http.get(enrolment.path(listing), params={"limit": 2})).json()
    second = (await enrolment.http.get(enrolment.path(listing), params={"limit": 2, parameter: first["next"]})).json()

    assert len(first["items"]) == 2 and second["items"]
    assert not {item["id"] for item in first["items"]} & {item["id"] for item in second["items"]}


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


async def test_a_batch_s_trainer_cannot_be_enrolled_in_it_singly_or_in_bulk_and_its_trainee_cannot_be_named_its_trainer(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    trainer, seated, waiting, gone = [await enrolment.employee() for _ in range(4)]
    batch = await enrolment.batch(course, hub, capacity=1, trainers=[trainer])

    refused = await enrolment.post("enrolments", {"employee_id": trainer, "batch_id": batch["id"]}, expect=409)
    rows = [{"employee_id": who, "name": "Asha Rani", "preferred_language": "hi", "department": "Revenue",
             "designation": "Patwari", "district": "Hisar", "batch_id": batch["id"]} for who in (trainer, seated)]
    job = (await enrolment.http.post(enrolment.path("bulk-enrolments"), content="\n".join(map(json.dumps, rows)).encode(),
                                     headers={"content-type": "application/x-ndjson"})).json()
    report = (await enrolment.http.get(enrolment.path(f"bulk-jobs/{job['id']}/rows"), params={"outcome": "rejected"})).json()

    said = (f"Employee {trainer} is a trainer of batch {batch['id']} and cannot also be enrolled in it as a trainee; "
            "enrol them in another batch of the course, or remove them from this batch's trainers first.")
    assert refused["detail"] == [said]
    assert (job["accepted"], job["rejected"]) == (1, 1)  # the import went on past the trainer's row
    assert [(r["line"], r["reason"]) for r in report["items"]] == [(1, said)]
    assert await enrolment.sql("SELECT count(*) FROM enrolments WHERE employee_id = $1", trainer) == 0

    await enrolment.post("enrolments", {"employee_id": waiting, "batch_id": batch["id"]})
    withdrawn = await enrolment.post("enrolments", {"employee_id": gone, "batch_id": batch["id"]})
    await enrolment.post(f"enrolments/{withdrawn['id']}/withdrawal", {"reason": "Transferred."}, expect=200)
    path = enrolment.path(f"batches/{batch['id']}")
    as_trainer = {who: await enrolment.http.patch(path, json={"trainers": [trainer, who]}) for who in (seated, waiting)}
    after_withdrawing = await enrolment.http.patch(path, json={"trainers": [trainer, gone]})

    for who, status in ((seated, "enrolled"), (waiting, "waitlisted")):
        assert as_trainer[who].status_code == 409, as_trainer[who].text
        assert as_trainer[who].json()["detail"] == [
            f"Employee {who} is a trainee of batch {batch['id']} ({status}) and cannot also be its trainer; withdraw "
            "their enrolment first, or name another trainer."]
    assert after_withdrawing.status_code == 200, after_withdrawing.text
    assert after_withdrawing.json()["trainers"] == [trainer, gone]
    operations = (await enrolment.http.get("/openapi.json")).json()["paths"]
    assert "409" in operations["/v1/states/{tenant}/enrolments"]["post"]["responses"]


async def test_naming_an_employee_trainer_while_they_enrol_in_the_same_batch_lets_only_one_of_the_two_through(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    for _ in range(5):
        batch, employee = await enrolment.batch(course, hub), await enrolment.employee()

        named, enrolled = await asyncio.gather(
            enrolment.http.patch(enrolment.path(f"batches/{batch['id']}"), json={"trainers": [employee]}),
            enrolment.http.post(enrolment.path("enrolments"), json={"employee_id": employee, "batch_id": batch["id"]}))

        assert sorted((named.status_code, enrolled.status_code)) in ([200, 409], [201, 409]), (named.text, enrolled.text)
        trainers = (await enrolment.http.get(enrolment.path(f"batches/{batch['id']}"))).json()["trainers"]
        enrolments = await enrolment.sql("SELECT count(*) FROM enrolments WHERE batch_id = $1", uuid.UUID(batch["id"]))
        assert (trainers, enrolments) in (([employee], 0), ([], 1))


async def test_a_batch_that_has_started_shows_and_lists_as_closed_for_enrolment_and_its_flag_still_changes(enrolment):
    course, hub = await enrolment.course(), await enrolment.hub()
    started = await enrolment.batch(course, hub, start_date=(date.today() - timedelta(days=2)).isoformat(),
                                    end_date=(date.today() + timedelta(days=3)).isoformat())
    upcoming, closed = await enrolment.batch(course, hub), await enrolment.batch(course, hub, enrolment_open=False)

    async def listed(open_: bool) -> set[str]:
        page = (await enrolment.http.get(enrolment.path("batches"), params={"enrolment_open": str(open_).lower()})).json()
        return {item["id"] for item in page["items"]}

    assert started["enrolment_open"] is False  # as created: it refuses enrolment from the start
    assert await listed(True) == {upcoming["id"]}
    assert await listed(False) == {started["id"], closed["id"]}
    assert (await enrolment.http.get(enrolment.path(f"batches/{started['id']}"))).json()["enrolment_open"] is False
    refused = await enrolment.post("enrolments", {"employee_id": await enrolment.employee(), "batch_id": started["id"]},
                                   expect=422)
    assert "enrolment closes on the start date" in refused["detail"][0]
    upcoming_path = enrolment.path(f"batches/{upcoming['id']}")
    assert (await enrolment.http.patch(upcoming_path, json={"enrolment_open": False})).json()["enrolment_open"] is False
    assert await listed(True) == set()
    assert (await enrolment.http.patch(upcoming_path, json={"enrolment_open": True})).json()["enrolment_open"] is True
    reopened = await enrolment.http.patch(enrolment.path(f"batches/{started['id']}"), json={"enrolment_open": True})
    assert (reopened.status_code, reopened.json()["enrolment_open"]) == (200, False)
    assert await listed(True) == {upcoming["id"]}
    document = (await enrolment.http.get("/openapi.json")).json()
    [flag] = [p for p in document["paths"]["/v1/states/{tenant}/batches"]["get"]["parameters"] if p["name"] == "enrolment_open"]
    assert "not started" in flag["description"]
    assert "has not started" in document["components"]["schemas"]["BatchOut"]["properties"]["enrolment_open"]["description"]


async def test_a_list_whose_last_page_is_full_ends_there_without_a_next_page(enrolment):
    courses = [await enrolment.course() for _ in range(4)]
    hub = await enrolment.hub()
    [await enrolment.spoke(hub) for _ in range(3)]
    batch = await enrolment.batch(courses[0], hub)
    [await enrolment.batch(course, hub) for course in courses[1:]]

    def row(employee_id: str, batch_id: str) -> str:
        return json.dumps({"employee_id": employee_id, "name": "Asha Rani", "preferred_language": "hi",
                           "department": "Revenue", "designation": "Patwari", "district": "Hisar", "batch_id": batch_id})

    files = [[row(f"HRP{n}", batch["id"])] for n in range(3)]  # three jobs of one enrolment each
    files.append([row("HRP3", batch["id"])] + [row(f"HRQ{n}", str(uuid.uuid4())) for n in range(3)])  # 1 enrolled, 3 rejected
    jobs = [(await enrolment.http.post(enrolment.path("bulk-enrolments"), content="\n".join(lines).encode(),
                                       headers={"content-type": "application/x-ndjson"})).json() for lines in files]
    listings = {  # four items each, in pages of two
        "courses": "offset", "centres": "offset", "batches": "offset", "bulk-jobs": "offset", "enrolments": "after",
        f"bulk-jobs/{jobs[-1]['id']}/rows": "after"}

    for listing, parameter in listings.items():
        first = (await enrolment.http.get(enrolment.path(listing), params={"limit": 2})).json()
        last = (await enrolment.http.get(enrolment.path(listing), params={"limit": 2, parameter: first["next"]})).json()
        assert (len(first["items"]), len(last["items"])) == (2, 2), listing
        assert first["next"] is not None and last["next"] is None, listing
    completed_none = (await enrolment.http.get(enrolment.path("enrolments"), params={"status": "completed"})).json()
    assert completed_none == {"items": [], "next": None}
    whole = (await enrolment.http.get(enrolment.path("enrolments"), params={"status": "enrolled", "limit": 4})).json()
    assert (len(whole["items"]), whole["next"]) == (4, None)
