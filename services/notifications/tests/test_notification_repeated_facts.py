"""A fact (an enrolment, a completion, a certificate issued or revoked) reported again under another event id,
as a retried iGOT export or the same completion sent in binary and then structured mode does, is notified
once: the first event's deliveries stand, held by the database even when two consumers record it at once."""

import asyncio

import asyncpg
import pytest
from karmayogi_runtime.consumer import EventContext

from notifications.handlers import Notifier
from notifications.main import MIGRATIONS_DIR

pytestmark = pytest.mark.integration

GROUP = "notifications.messages"
DELIVERIES = "SELECT count(*) FROM deliveries"
SENT = "SELECT count(*) FROM deliveries WHERE status = 'sent'"
HANDLED = "SELECT count(*) FROM inbox WHERE message_id = $1"
WAITING_FOR_A_LOCK = "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted"


async def handle(connection: asyncpg.Connection, event) -> None:
    async with connection.transaction():
        await Notifier().handle(EventContext(connection, GROUP), event)


async def test_two_consumers_recording_one_fact_at_once_record_its_deliveries_once(database_factory, events, helpers):
    who = events.employee("hi")
    completion = events.completed(who)
    url = await database_factory(MIGRATIONS_DIR)
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        await handle(first, events.enrolled(who))
        recording = first.transaction()
        await recording.start()
        await Notifier().handle(EventContext(first, GROUP), completion)  # not committed yet
        # Another partition's consumer records the repeat meanwhile: it waits for the first one's rows ...
        repeat = asyncio.create_task(handle(second, events.repeated(completion)))
        assert await helpers.eventually(
            lambda: first.fetchval(WAITING_FOR_A_LOCK, second.get_server_pid()), timeout=10)
        assert not repeat.done()
        await recording.commit()
        await asyncio.wait_for(repeat, 10)  # ... and then adds none of its own

        rows = await first.fetch("SELECT event_id FROM deliveries WHERE event_type = $1", completion.type)
        assert [row["event_id"] for row in rows] == [completion.id, completion.id]
    finally:
        await first.close()
        await second.close()


async def test_a_completion_sent_again_in_structured_mode_under_another_id_gives_one_mail_and_one_sms(
        notifications, api, local_mail, events, helpers):
    who = events.employee("en")
    completion = events.completed(who)
    again = events.repeated(completion)
    await notifications.publish([events.enrolled(who), completion])
    await notifications.publish([again], structured=True)

    assert await notifications.wait_for(HANDLED, 1, str(again.id)) == 1  # the repeat was consumed
    assert await notifications.wait_for(SENT, 4) == 4
    assert await notifications.fetchval(DELIVERIES) == 4
    subjects = sorted(str(mail["Subject"]).split(" ")[0] for mail in local_mail.mails())
    assert subjects == ["Congratulations", "Enrolled:"]
    assert len(local_mail.sms()) == 2

    assert [d["channel"] for d in (await api.get(f"/v1/events/{completion.id}/deliveries")).json()] == ["email", "sms"]
    answer = await api.get(f"/v1/events/{again.id}/deliveries")
    assert answer.status_code == 404 and "repeated a fact already notified" in answer.json()["detail"][0]
