"""A change of an employee's directory entry (`employee.updated`) keeps their contact: the messages after it
go to the new addresses, in the new language, by SMS only once the e-mail address is removed. Newest wins by
time, whichever topic the details come from and in whatever order; an update is applied once and tells the
employee nothing. Messages still waiting to be sent go to the addresses of a change made meanwhile."""

import asyncio
import dataclasses

import asyncpg
import pytest
from karmayogi_runtime.consumer import EventContext

from notifications.handlers import Notifier
from notifications.main import MIGRATIONS_DIR

pytestmark = pytest.mark.integration

GROUP = "notifications.messages"
APPLIED = "SELECT count(*) FROM inbox WHERE message_id = $1 AND NOT dead_lettered"
CONTACT = "SELECT email FROM contacts WHERE tenant = $1 AND employee_id = $2"
SENT = "SELECT count(*) FROM deliveries WHERE status = 'sent'"
SETTLED = "SELECT count(*) FROM deliveries WHERE status NOT IN ('pending', 'sending')"
DELIVERIES = "SELECT count(*) FROM deliveries"
PARKED = "SELECT count(*) FROM parked"
WAITING_FOR_A_LOCK = "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted"


async def apply(notifications, *events) -> None:
    """Publish `events` and wait until the service has applied each (not dead-lettered it), in this order."""
    for event in events:
        await notifications.publish([event])
        assert await notifications.wait_for(APPLIED, 1, str(event.id)) == 1


def moved(who, to: str = "new", **changes):
    """`who` with another e-mail address (`to` names it) and mobile number, and whatever else `changes` says."""
    return dataclasses.replace(who, email=f"{to}.{who.email}", mobile="+9197" + who.mobile[5:], **changes)


async def test_after_an_update_the_certificate_goes_to_the_new_addresses_in_the_new_language(
        notifications, local_mail, events):
    who = events.employee("hi")
    now = moved(who, name="Sunita Devi", language="en")
    certificate = events.issued(who)
    async with notifications.running():
        await apply(notifications, events.enrolled(who, "2025-03-01T09:30:00Z"))
        assert await notifications.wait_for(SENT, 2) == 2  # sent before the update (one waiting would follow it)
        await apply(notifications, events.updated(now, "2025-04-02T06:45:12Z"), certificate)
        assert await notifications.wait_for(SENT, 4) == 4

    assert await notifications.fetchval(DELIVERIES) == 4  # the enrolment's two and the certificate's two
    [enrolment_mail] = [m for m in local_mail.mails() if str(m["To"]) == who.email]
    [certificate_mail] = [m for m in local_mail.mails() if str(m["To"]) == now.email]
    assert str(enrolment_mail["Content-Language"]) == "hi"
    assert str(certificate_mail["Content-Language"]) == "en"
    assert certificate_mail.get_body(("plain",)).get_content().startswith("Dear Sunita Devi,")
    assert sorted(s["to"] for s in local_mail.sms()) == sorted([who.mobile, now.mobile])


async def test_an_update_as_of_a_time_before_the_enrolment_changes_nothing(notifications, local_mail, events):
    who = events.employee("en")
    stale = events.updated(moved(who), "2025-02-01T09:30:00Z")  # a change made before the enrolment, consumed late
    async with notifications.running():
        await apply(notifications, events.enrolled(who, "2025-03-01T09:30:00Z"), stale)
        assert await notifications.fetchval(CONTACT, who.tenant, who.id) == who.email
        await apply(notifications, events.issued(who))
        assert await notifications.wait_for(SENT, 4) == 4

    assert [str(m["To"]) for m in local_mail.mails()] == [who.email, who.email]
    assert [s["to"] for s in local_mail.sms()] == [who.mobile, who.mobile]


async def test_an_update_delivered_twice_is_applied_once_even_after_a_later_one(notifications, local_mail, events):
    who = events.employee("en")
    first, last = moved(who, "first"), moved(who, "last", name="Rakesh Singh")
    change = events.updated(first, "2025-04-02T06:45:12Z")
    latest = events.updated(last, "2025-04-03T06:45:12Z")
    # The latest change sent again under its own new id: the same topic and key, so the same partition,
    # after the redelivery; once it is applied, so is the redelivery before it.
    after_redelivery = events.repeated(latest)
    async with notifications.running():
        await apply(notifications, events.enrolled(who))
        assert await notifications.wait_for(SENT, 2) == 2  # sent before the updates (one waiting would follow them)
        await apply(notifications, change, latest)
        await notifications.publish([change])  # redelivered
        await apply(notifications, after_redelivery)
        assert await notifications.fetchval(CONTACT, who.tenant, who.id) == last.email
        await apply(notifications, events.issued(who))
        assert await notifications.wait_for(SENT, 4) == 4

    assert await notifications.fetchval(DELIVERIES) == 4
    assert sorted(str(m["To"]) for m in local_mail.mails()) == sorted([who.email, last.email])


async def test_an_update_sends_nothing_and_releases_an_event_waiting_for_the_employees_contact(
        notifications, local_mail, events):
    who = events.employee("en")
    waiting = events.issued(who)  # consumed before the service had the employee's contact
    update = events.updated(who)
    async with notifications.running():
        await notifications.publish([waiting])
        assert await notifications.wait_for(PARKED, 1) == 1
        await apply(notifications, update)
        assert await notifications.wait_for(SENT, 2) == 2

    assert await notifications.fetchval(PARKED) == 0
    assert await notifications.fetchval("SELECT count(*) FROM deliveries WHERE event_id = $1", update.id) == 0
    assert await notifications.fetchval("SELECT count(*) FROM deliveries WHERE event_id = $1", waiting.id) == 2
    assert [str(m["To"]) for m in local_mail.mails()] == [who.email]
    assert [s["to"] for s in local_mail.sms()] == [who.mobile]


async def test_once_an_update_removes_the_email_address_later_messages_go_by_sms_only(
        notifications, local_mail, events):
    who = events.employee("hi")
    certificate = events.issued(who)
    async with notifications.running():
        await apply(notifications, events.enrolled(who))
        assert await notifications.wait_for(SENT, 2) == 2  # sent before the update (one waiting would follow it)
        await apply(notifications, events.updated(dataclasses.replace(who, email=None)))
        assert await notifications.fetchval(CONTACT, who.tenant, who.id) is None
        await apply(notifications, certificate)
        assert await notifications.wait_for(SETTLED, 4) == 4

    status = "SELECT status || ': ' || reason FROM deliveries WHERE event_id = $1 AND channel = 'email'"
    assert await notifications.fetchval(status, certificate.id) == (
        "undeliverable: The employee has no e-mail address on record.")
    assert [str(m["To"]) for m in local_mail.mails()] == [who.email]  # the enrolment's, before the update
    assert [s["to"] for s in local_mail.sms()] == [who.mobile, who.mobile]
    sms = "SELECT body_text FROM deliveries WHERE event_id = $1 AND channel = 'sms' AND status = 'sent'"
    assert certificate.data.verify_url in await notifications.fetchval(sms, certificate.id)  # the SMS without e-mail


async def test_messages_waiting_for_the_relay_go_to_the_addresses_of_a_change_made_meanwhile(
        notifications, local_mail, events):
    who, other = events.employee("en"), events.employee("en")
    now, without_email = moved(who), dataclasses.replace(other, email=None)
    local_mail.kill()  # the mail relay and the SMS gateway are away: the enrolments' messages wait, retried
    async with notifications.running():
        await apply(notifications, events.enrolled(who), events.enrolled(other))
        await apply(notifications, events.updated(now), events.updated(without_email))
        await local_mail.start()
        assert await notifications.wait_for(SETTLED, 4) == 4

    assert [str(m["To"]) for m in local_mail.mails()] == [now.email]
    assert sorted(s["to"] for s in local_mail.sms()) == sorted([now.mobile, other.mobile])
    recorded = "SELECT address FROM deliveries WHERE employee_id = $1 AND channel = 'email'"
    assert await notifications.fetchval(recorded, who.id) == now.email  # what the deliveries API shows
    status = "SELECT status || ': ' || reason FROM deliveries WHERE employee_id = $1 AND channel = 'email'"
    assert await notifications.fetchval(status, other.id) == (
        "undeliverable: The employee has no e-mail address on record.")


# ---------------------------------------------------------------- two consumers writing one contact at once

async def handle(connection: asyncpg.Connection, event) -> None:
    async with connection.transaction():
        await Notifier().handle(EventContext(connection, GROUP), event)


async def at_once(url: str, first_event, second_event, helpers) -> None:
    """`first_event` applied in a transaction left open while `second_event` is applied on another
    connection, as two consumers (a partition of each topic) may: the second waits for the first's
    contact row, and goes on when the first commits."""
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        recording = first.transaction()
        await recording.start()
        await Notifier().handle(EventContext(first, GROUP), first_event)
        other = asyncio.create_task(handle(second, second_event))
        assert await helpers.eventually(
            lambda: first.fetchval(WAITING_FOR_A_LOCK, second.get_server_pid()), timeout=10)
        await recording.commit()
        await asyncio.wait_for(other, 10)
    finally:
        await first.close()
        await second.close()


async def test_an_older_enrolment_recorded_at_once_with_a_newer_update_leaves_the_updated_contact(
        database_factory, events, helpers):
    who = events.employee("en")
    now = moved(who)
    url = await database_factory(MIGRATIONS_DIR)
    connection = await asyncpg.connect(url)
    try:
        # Neither consumer has seen a contact: both insert the row, the enrolment after the update commits.
        await at_once(url, events.updated(now, "2025-04-02T06:45:12Z"),
                      events.enrolled(who, "2025-03-01T09:30:00Z"), helpers)
        assert await connection.fetchval(CONTACT, who.tenant, who.id) == now.email
    finally:
        await connection.close()


async def test_of_two_updates_recorded_at_once_the_newer_stays_though_the_older_one_writes_last(
        database_factory, events, helpers):
    who = events.employee("en")
    april, may = moved(who, "april"), moved(who, "may", name="Rakesh Singh")
    url = await database_factory(MIGRATIONS_DIR)
    connection = await asyncpg.connect(url)
    try:
        await handle(connection, events.enrolled(who, "2025-03-01T09:30:00Z"))
        # Both read the March contact, so both write; the April one waits for May's row and then keeps it.
        await at_once(url, events.updated(may, "2025-05-02T06:45:12Z"),
                      events.updated(april, "2025-04-02T06:45:12Z"), helpers)
        assert await connection.fetchval(CONTACT, who.tenant, who.id) == may.email
    finally:
        await connection.close()
