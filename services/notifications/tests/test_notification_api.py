"""The HTTP API as the support desk and employees use it: an employee's deliveries a page at a time, and what
a delivery says about its next attempt; against the real PostgreSQL (and the service running on Kafka)."""

import json
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from karmayogi_runtime.testing import ALL_STATES_KEY, STATE_KEYS, send_with_key

from notifications import repository
from notifications.main import MIGRATIONS_DIR

pytestmark = pytest.mark.integration

NOON = datetime(2026, 3, 2, 6, 30, tzinfo=timezone.utc)
ADD_DELIVERY = """
    INSERT INTO deliveries (id, tenant, employee_id, event_id, event_type, channel, recipient, address, language,
                            subject, body_text, status, next_attempt_at, created_at, sent_at)
    VALUES (gen_random_uuid(), $1, $2, gen_random_uuid(), 'karmayogi.employee.enrolled.v1', $3,
            $1::text || ':' || $2::text, 'a@hry.gov.in', 'en', 'Enrolled', 'You are enrolled.', $4, $5,
            $6::timestamptz, CASE WHEN $4::text = 'sent' THEN $6::timestamptz END)
    RETURNING id
"""


async def add_delivery(notifications, employee, created_at: datetime, *, channel: str = "email",
                       status: str = "sent", next_attempt_at: datetime | None = None) -> str:
    delivery = await notifications.fetchval(ADD_DELIVERY, employee.tenant, employee.id, channel, status,
                                            next_attempt_at or created_at + timedelta(minutes=2), created_at)
    return str(delivery)


async def test_an_employees_deliveries_come_newest_first_a_page_at_a_time_without_repeats_or_gaps_among_equal_times(
        notifications, api, events):
    employee, other = events.employee("hi"), events.employee("hi")
    # An event's deliveries share their transaction's time: here three and two deliveries at one time each.
    times = [NOON] * 3 + [NOON - timedelta(hours=1)] * 2 + [NOON - timedelta(days=1), NOON - timedelta(days=2)]
    added = [(created_at, await add_delivery(notifications, employee, created_at)) for created_at in times]
    await add_delivery(notifications, other, NOON)

    seen, offsets = [], []
    offset = 0
    while offset is not None:
        answer = await api.get(f"/v1/employees/{employee.tenant}/{employee.id}/deliveries",
                               params={"limit": 2, "offset": offset})
        assert answer.status_code == 200
        page = answer.json()
        assert len(page["items"]) <= 2
        seen += [d["id"] for d in page["items"]]
        offset = page["next"]
        offsets.append(offset)

    assert offsets == ["2", "4", "6", None]
    newest_first = [delivery for _, delivery in sorted(added, key=lambda a: (a[0], uuid.UUID(a[1])), reverse=True)]
    assert seen == newest_first  # each once, in one order however the pages are cut


async def test_the_last_full_page_says_no_page_follows(notifications, api, events):
    employee = events.employee("en")
    for hour in range(4):
        await add_delivery(notifications, employee, NOON - timedelta(hours=hour))
    path = f"/v1/employees/{employee.tenant}/{employee.id}/deliveries"

    assert (await api.get(path, params={"limit": 2, "offset": 2})).json()["next"] is None
    assert (await api.get(path, params={"limit": 4})).json()["next"] is None
    assert (await api.get(path, params={"limit": 3})).json()["next"] == "3"


async def test_an_offset_past_a_million_is_a_422_sentence(api, events):
    employee = events.employee("en")
    path = f"/v1/employees/{employee.tenant}/{employee.id}/deliveries"
    for offset in ("1000001", "9223372036854775808", "99999999999999999999"):
        refused = await api.get(path, params={"offset": offset})
        assert refused.status_code == 422
        assert refused.json()["detail"] == ["query.offset: Input should be less than or equal to 1000000"]
    refused = await api.get(path, params={"offset": -1})
    assert refused.json()["detail"] == ["query.offset: Input should be greater than or equal to 0"]
    assert (await api.get(path, params={"offset": 1_000_000})).json() == {"items": [], "next": None}


async def test_only_a_delivery_still_to_be_tried_names_its_next_attempt(notifications, api, events):
    employee = events.employee("en")
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)  # not due, so the running sender leaves it
    waiting = await add_delivery(notifications, employee, NOON, channel="email", status="pending",
                                 next_attempt_at=tomorrow)
    # A sent row keeps the lease its send renewed: a time after the send, which is no attempt to come.
    sent = await add_delivery(notifications, employee, NOON, channel="sms", status="sent")

    page = (await api.get(f"/v1/employees/{employee.tenant}/{employee.id}/deliveries")).json()
    by_id = {d["id"]: d for d in page["items"]}
    assert datetime.fromisoformat(by_id[waiting]["next_attempt_at"]) == tomorrow
    assert by_id[sent]["next_attempt_at"] is None
    [event_id] = {d["event_id"] for d in page["items"] if d["id"] == sent}
    [by_event] = (await api.get(f"/v1/events/{event_id}/deliveries")).json()
    assert by_event["next_attempt_at"] is None


async def test_an_event_with_no_deliveries_is_a_404_sentence(api):
    event_id = uuid.uuid4()
    answer = await api.get(f"/v1/events/{event_id}/deliveries")
    assert answer.status_code == 404
    assert answer.json()["detail"] == [f"No deliveries for event {event_id} exist (yet) that this key may read: the event may not have been "
                                       "consumed, it may have repeated a fact already notified under another event id (see the "
                                       "employee's deliveries), or it may be another state's."]


async def _haryanas_delivery(notifications, events) -> tuple[str, str, uuid.UUID]:
    """An employee of Haryana with one delivery: the employee's path, the delivery and its event."""
    employee = events.employee("en", tenant="IN-HR")
    delivery = await add_delivery(notifications, employee, NOON)
    event_id = await notifications.fetchval("SELECT event_id FROM deliveries WHERE id = $1", uuid.UUID(delivery))
    return f"/v1/employees/{employee.tenant}/{employee.id}", delivery, event_id


async def test_bihars_key_is_refused_a_haryana_employees_deliveries_and_opt_outs_and_changes_nothing(
        notifications, api, events, helpers):
    employee, _, _ = await _haryanas_delivery(notifications, events)
    for method, path in (("GET", f"{employee}/deliveries"), ("GET", f"{employee}/opt-outs"),
                         ("PUT", f"{employee}/opt-outs/email"), ("DELETE", f"{employee}/opt-outs/sms")):
        refused = await send_with_key(api, method, path, STATE_KEYS["IN-BR"])
        assert refused.status_code == 403, (method, path)
        assert refused.json() == {"detail": ["The key sent is a key of IN-BR; it cannot read or change the records "
                                             "of IN-HR."]}, (method, path)
    assert (await api.get(f"{employee}/opt-outs")).json()["opted_out"] == []  # the refused opt-out changed nothing


async def test_bihars_key_sees_a_haryana_events_deliveries_as_none_at_all(notifications, api, events, helpers):
    _, _, event_id = await _haryanas_delivery(notifications, events)

    answer = await send_with_key(api, "GET", f"/v1/events/{event_id}/deliveries", STATE_KEYS["IN-BR"])
    assert answer.status_code == 404  # as for an event never consumed: nothing says it is Haryana's
    assert answer.json()["detail"] == [f"No deliveries for event {event_id} exist (yet) that this key may read: the event may not have been "
                                       "consumed, it may have repeated a fact already notified under another event id (see the "
                                       "employee's deliveries), or it may be another state's."]
    assert "hry.gov.in" not in answer.text


@pytest.mark.parametrize("key", [STATE_KEYS["IN-HR"], ALL_STATES_KEY], ids=["haryanas-key", "all-states-key"])
async def test_haryanas_key_and_the_all_states_key_read_a_haryana_employees_deliveries(notifications, api, events,
                                                                                       helpers, key):
    employee, delivery, event_id = await _haryanas_delivery(notifications, events)

    page = await send_with_key(api, "GET", f"{employee}/deliveries", key)
    assert [d["id"] for d in page.json()["items"]] == [delivery]
    [by_event] = (await send_with_key(api, "GET", f"/v1/events/{event_id}/deliveries", key)).json()
    assert (by_event["id"], by_event["address"]) == (delivery, "a@hry.gov.in")
    opted = await send_with_key(api, "PUT", f"{employee}/opt-outs/sms", key)
    assert opted.status_code == 200 and opted.json()["opted_out"] == ["sms"]


async def test_without_a_key_every_route_is_a_401_with_its_challenge(notifications, api, events, helpers):
    employee, _, event_id = await _haryanas_delivery(notifications, events)
    for method, path in (("GET", f"{employee}/deliveries"), ("GET", f"/v1/events/{event_id}/deliveries"),
                         ("GET", f"{employee}/opt-outs"), ("PUT", f"{employee}/opt-outs/email")):
        refused = await send_with_key(api, method, path, None)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", (method, path)
        assert "hry.gov.in" not in refused.text


async def test_deliveries_at_one_time_keep_one_order_across_pages_even_when_read_without_the_index(database_factory):
    connection = await asyncpg.connect(await database_factory(MIGRATIONS_DIR))
    try:
        added = [str(await connection.fetchval(ADD_DELIVERY, "IN-HR", "HR0412345", channel, "sent", NOON, NOON))
                 for channel in ("email", "sms") * 5]
        # Sorted rather than read in the index's order, as PostgreSQL may choose to: ties then come out in
        # whatever order the sort leaves them, unless the statement itself breaks them.
        await connection.execute("SET enable_indexscan = off; SET enable_bitmapscan = off")
        pages = [await repository.by_employee(connection, "IN-HR", "HR0412345", 3, offset) for offset in (0, 3, 6, 9)]
    finally:
        await connection.close()

    assert [str(row["id"]) for page in pages for row in page] == sorted(added, key=uuid.UUID, reverse=True)


async def test_a_page_of_deliveries_is_read_from_the_index_in_its_order_without_sorting(database_factory):
    connection = await asyncpg.connect(await database_factory(MIGRATIONS_DIR))
    try:
        await connection.execute("SET enable_seqscan = off")  # a few rows: the planner would read them all
        [plan] = json.loads(await connection.fetchval(
            f"EXPLAIN (FORMAT JSON) {repository.BY_EMPLOYEE}", "IN-HR", "HR0412345", 201, 400))
    finally:
        await connection.close()

    nodes, found = [plan["Plan"]], []
    while nodes:
        node = nodes.pop()
        found.append((node["Node Type"], node.get("Index Name")))
        nodes += node.get("Plans", [])
    assert ("Index Scan", "deliveries_by_employee_newest") in found
    assert not any("Sort" in node_type for node_type, _ in found), found
