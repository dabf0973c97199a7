"""An employee's name kept current from `employee.updated`, against the real Kafka and PostgreSQL: the newest by
time wins, whatever order enrolments and changes arrive in; progress and a completion published after a change
carry the new name, and nothing else an enrolment is counted under moves."""

from datetime import timedelta

import pytest
from attendance_samples import ENROLLED_AT, TENANT, BatchPlan, attended, employee_id, enrolled, updated
from karmayogi_contracts import ids

pytestmark = pytest.mark.integration

NAME = "SELECT employee_name FROM enrolments WHERE enrolment_id = $1"
KEPT = "SELECT (name, as_of) FROM employee_names WHERE tenant = $1 AND employee_id = $2"
ROW_VERSION = "SELECT xmin::text FROM enrolments WHERE enrolment_id = $1"
COMPLETIONS = "SELECT count(*) FROM completions WHERE enrolment_id = $1"
ENROLMENTS = "SELECT count(*) FROM enrolments"

MARRIED = ENROLLED_AT + timedelta(days=90)


async def handled(attendance, event) -> None:
    """Wait until the roster group has recorded the event in its inbox (applied, or found to change nothing)."""
    query = "SELECT count(*) FROM inbox WHERE message_id = $1 AND consumer LIKE '%roster' AND NOT dead_lettered"
    assert await attendance.wait_for(query, 1, str(event.id)) == 1


async def completions(attendance, enrolment_id) -> list:
    return [event for _, event in await attendance.published("course.completed")
            if event.data.enrolment_id == enrolment_id]


async def test_a_name_changed_after_enrolling_is_on_the_progress_and_on_the_completion_published_after(attendance):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    await attendance.publish(enrolled(employee, batch, name="Sunita Devi"))
    assert await attendance.wait_for(ENROLMENTS, 1) == 1
    # Married, promoted and posted to another district: only the name is attendance's to change.
    await attendance.publish(updated(employee, "Sunita Devi Malik", MARRIED, district="Jhajjar", designation="Tehsildar"))
    assert await attendance.wait_for(NAME, "Sunita Devi Malik", enrolment_id) == "Sunita Devi Malik"
    assert await attendance.sql(KEPT, TENANT, employee) == ("Sunita Devi Malik", MARRIED)

    await attendance.publish(*[attended(employee, batch, n) for n in range(1, 6)])
    assert await attendance.wait_for(COMPLETIONS, 1, enrolment_id) == 1

    [completion] = await completions(attendance, enrolment_id)
    assert (completion.data.employee.id, completion.data.employee.name) == (employee, "Sunita Devi Malik")
    [row] = (await attendance.http.get(attendance.path(f"batches/{batch.id}/progress"))).json()
    assert (row["employee_name"], row["status"]) == ("Sunita Devi Malik", "completed")
    districts = (await attendance.http.get(attendance.path("progress/districts"))).json()
    assert [(d["district"], d["completed"]) for d in districts] == [("Rohtak", 1)]  # the centre's district


async def test_a_completed_enrolment_shows_the_new_name_and_its_completion_is_not_sent_again(attendance):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    await attendance.publish(enrolled(employee, batch, name="Sunita Devi"),
                             *[attended(employee, batch, n) for n in range(1, 6)])
    assert await attendance.wait_for(COMPLETIONS, 1, enrolment_id) == 1

    await attendance.publish(updated(employee, "Sunita Devi Malik", MARRIED))

    assert await attendance.wait_for(NAME, "Sunita Devi Malik", enrolment_id) == "Sunita Devi Malik"
    progress = (await attendance.http.get(attendance.path(f"enrolments/{enrolment_id}/progress"))).json()
    assert (progress["employee_name"], progress["status"]) == ("Sunita Devi Malik", "completed")
    # The completion, and so the certificate issued from it, keeps the name it was issued with.
    [completion] = await completions(attendance, enrolment_id)
    assert completion.data.employee.name == "Sunita Devi"


async def test_a_change_older_than_the_enrolment_changes_nothing(attendance):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    await attendance.publish(enrolled(employee, batch, name="Sunita Devi Malik"))
    assert await attendance.wait_for(ENROLMENTS, 1) == 1
    version = await attendance.sql(ROW_VERSION, enrolment_id)

    stale = updated(employee, "Sunita Devi", ENROLLED_AT - timedelta(days=1))  # read late from its topic
    await attendance.publish(stale)
    await handled(attendance, stale)

    assert await attendance.sql(NAME, enrolment_id) == "Sunita Devi Malik"
    assert await attendance.sql(ROW_VERSION, enrolment_id) == version


async def test_an_enrolment_older_than_a_change_already_applied_takes_the_newer_name(attendance):
    first, late, employee = BatchPlan(), BatchPlan(), employee_id()
    await attendance.publish(enrolled(employee, first, name="Sunita Devi"))
    assert await attendance.wait_for(ENROLMENTS, 1) == 1
    await attendance.publish(updated(employee, "Sunita Devi Malik", MARRIED))
    assert await attendance.wait_for(NAME, "Sunita Devi Malik", ids.enrolment_id(TENANT, employee, first.id)) \
        == "Sunita Devi Malik"

    # Enrolled a month before the change, with the name of then; read from its topic after the change.
    await attendance.publish(enrolled(employee, late, name="Sunita Devi", enrolled_at=MARRIED - timedelta(days=30)))

    late_id = ids.enrolment_id(TENANT, employee, late.id)
    assert await attendance.wait_for(ENROLMENTS, 2) == 2
    assert await attendance.sql(NAME, late_id) == "Sunita Devi Malik"
    assert await attendance.sql(KEPT, TENANT, employee) == ("Sunita Devi Malik", MARRIED)


async def test_an_enrolment_newer_than_the_other_enrolments_names_gives_them_its_own(attendance):
    first, later, employee = BatchPlan(), BatchPlan(), employee_id()
    first_id = ids.enrolment_id(TENANT, employee, first.id)
    await attendance.publish(enrolled(employee, first, name="Sunita Devi"))
    assert await attendance.wait_for(ENROLMENTS, 1) == 1

    await attendance.publish(enrolled(employee, later, name="Sunita Devi Malik", enrolled_at=MARRIED))
    assert await attendance.wait_for(NAME, "Sunita Devi Malik", first_id) == "Sunita Devi Malik"

    # The change itself, read after the enrolment that already carried it, and an older one: nothing moves.
    versions = {await attendance.sql(ROW_VERSION, ids.enrolment_id(TENANT, employee, b.id)) for b in (first, later)}
    older = updated(employee, "Sunita Devi", MARRIED - timedelta(days=1))
    await attendance.publish(updated(employee, "Sunita Devi Malik", MARRIED), older)
    await handled(attendance, older)
    assert {await attendance.sql(NAME, ids.enrolment_id(TENANT, employee, b.id)) for b in (first, later)} \
        == {"Sunita Devi Malik"}
    assert {await attendance.sql(ROW_VERSION, ids.enrolment_id(TENANT, employee, b.id)) for b in (first, later)} \
        == versions


async def test_the_same_change_twice_is_applied_once(attendance):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    await attendance.publish(enrolled(employee, batch, name="Sunita Devi"))
    assert await attendance.wait_for(ENROLMENTS, 1) == 1
    change = updated(employee, "Sunita Devi Malik", MARRIED)
    await attendance.publish(change)
    assert await attendance.wait_for(NAME, "Sunita Devi Malik", enrolment_id) == "Sunita Devi Malik"
    version = await attendance.sql(ROW_VERSION, enrolment_id)

    # Redelivered as it was, and sent again under another event id; the last one read (one key, one
    # partition: in this order) says when both before it were handled.
    again = updated(employee, "Sunita Devi Malik", MARRIED)
    await attendance.publish(change, again)
    await handled(attendance, again)

    assert await attendance.sql(ROW_VERSION, enrolment_id) == version
    assert await attendance.sql(KEPT, TENANT, employee) == ("Sunita Devi Malik", MARRIED)


async def test_a_change_read_before_an_older_enrolment_gives_the_enrolment_and_its_completion_the_new_name(attendance):
    batch, employee = BatchPlan(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, employee, batch.id)
    # A bulk enrolment still queued on its topic when the employee's name is corrected: the correction is
    # read first, for an employee with no enrolment here yet.
    correction = updated(employee, "Sunita Devi Malik", MARRIED)
    await attendance.publish(correction)
    await handled(attendance, correction)
    assert await attendance.sql(ENROLMENTS) == 0

    await attendance.publish(enrolled(employee, batch, name="Sunita Devi", enrolled_at=MARRIED - timedelta(days=1)))

    assert await attendance.wait_for(ENROLMENTS, 1) == 1
    assert await attendance.sql(NAME, enrolment_id) == "Sunita Devi Malik"
    assert await attendance.sql(KEPT, TENANT, employee) == ("Sunita Devi Malik", MARRIED)
    await attendance.publish(*[attended(employee, batch, n) for n in range(1, 6)])
    assert await attendance.wait_for(COMPLETIONS, 1, enrolment_id) == 1
    [completion] = await completions(attendance, enrolment_id)
    assert completion.data.employee.name == "Sunita Devi Malik"


async def test_a_change_for_an_employee_not_enrolled_here_is_kept_and_waits_for_nothing(attendance):
    batch, enrolled_here, stranger = BatchPlan(), employee_id(), employee_id()
    enrolment_id = ids.enrolment_id(TENANT, enrolled_here, batch.id)
    await attendance.publish(enrolled(enrolled_here, batch, name="Sunita Devi"))
    assert await attendance.wait_for(ENROLMENTS, 1) == 1

    unknown = updated(stranger, "Rakesh Kumar", MARRIED)
    # The same employee id in another state is another employee.
    elsewhere = updated(enrolled_here, "Sunita Kumari", MARRIED, tenant="IN-BR")
    await attendance.publish(unknown, elsewhere)
    await handled(attendance, unknown)
    await handled(attendance, elsewhere)

    assert await attendance.sql(ENROLMENTS) == 1
    assert await attendance.sql(NAME, enrolment_id) == "Sunita Devi"
    assert await attendance.sql(KEPT, TENANT, stranger) == ("Rakesh Kumar", MARRIED)
    assert await attendance.sql("SELECT count(*) FROM parked") == 0
