"""A batch of events applied at once (`Notifier.handle_many`) does exactly what its events do applied one at
a time, in order (`Notifier.handle`): each case runs both ways, on two private PostgreSQL databases, and the
contacts, certificates, deliveries and arrivals must come out the same. The last test runs the service on
Kafka: an event waiting for its employee's enrolment is parked alone and applied when the enrolment arrives."""

import dataclasses
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from karmayogi_contracts import CloudEvent
from karmayogi_runtime.consumer import DependencyMissing, EventContext

from notifications import repository
from notifications.handlers import Notifier
from notifications.main import MIGRATIONS_DIR

pytestmark = pytest.mark.integration

GROUP = "notifications.messages"
TABLES = {
    "contacts": "SELECT tenant, employee_id, name, email, mobile, language, enrolled_at FROM contacts "
                "ORDER BY tenant, employee_id",
    "certificates": "SELECT * FROM certificates ORDER BY tenant, certificate_id",
    "deliveries": "SELECT id, tenant, employee_id, event_id, event_type, channel, recipient, address, language, "
                  "subject, body_text, body_html, status, reason, attempts FROM deliveries ORDER BY id",
}


@dataclass
class Outcome:
    tables: dict[str, list[dict[str, Any]]]
    arrivals: list[str]

    def deliveries(self, event: CloudEvent) -> dict[str, dict[str, Any]]:
        return {d["channel"]: d for d in self.tables["deliveries"] if d["event_id"] == event.id}

    def contact(self, who) -> dict[str, Any]:
        [row] = [c for c in self.tables["contacts"] if (c["tenant"], c["employee_id"]) == (who.tenant, who.id)]
        return row


async def apply(url: str, batches: list[list[CloudEvent]], *, together: bool, opt_outs=()) -> Outcome:
    """Each batch in its own transaction, as the runner applies it: all at once, or event by event."""
    notifier, arrivals = Notifier(), []
    connection = await asyncpg.connect(url)
    try:
        for who, channel in opt_outs:
            await repository.set_opt_out(connection, who.tenant, who.id, channel, True)
        for batch in batches:
            context = EventContext(connection, GROUP)
            async with connection.transaction():
                if together:
                    await notifier.handle_many(context, batch)
                else:
                    for event in batch:
                        await notifier.handle(context, event)
            arrivals += context.arrivals
        tables = {name: [dict(row) for row in await connection.fetch(sql)] for name, sql in TABLES.items()}
        return Outcome(tables, arrivals)
    finally:
        await connection.close()


@pytest.fixture
def both_ways(database_factory):
    """`await both_ways(batches, opt_outs=...)` -> (applied together, applied one by one), each on a new database."""
    async def run(batches: list[list[CloudEvent]], opt_outs=()) -> tuple[Outcome, Outcome]:
        together = await apply(await database_factory(MIGRATIONS_DIR), batches, together=True, opt_outs=opt_outs)
        one_by_one = await apply(await database_factory(MIGRATIONS_DIR), batches, together=False, opt_outs=opt_outs)
        return together, one_by_one
    return run


def addresses(outcome: Outcome, event: CloudEvent) -> dict[str, str | None]:
    return {channel: d["address"] for channel, d in outcome.deliveries(event).items()}


async def test_an_enrolment_gives_its_contact_to_a_completion_later_in_the_same_batch(both_ways, events):
    who = events.employee("hi")
    batch = [events.enrolled(who), events.completed(who)]

    together, one_by_one = await both_ways([batch])

    assert together == one_by_one
    assert addresses(together, batch[1]) == {"email": who.email, "sms": who.mobile}
    assert {d["status"] for d in together.deliveries(batch[1]).values()} == {"pending"}
    assert together.arrivals == [f"contact:{who.key}"]


async def test_the_newest_enrolment_of_an_employee_wins_within_a_batch_and_a_late_older_one_changes_nothing(
        both_ways, events):
    who = events.employee("en")
    older = dataclasses.replace(who, email="older@hry.gov.in")
    moved = dataclasses.replace(who, email="moved@hry.gov.in", language="hi")
    same_moment = dataclasses.replace(who, email="same-moment@hry.gov.in")
    batch = [
        events.enrolled(who, "2025-03-01T09:30:00Z"), events.completed(who),
        events.enrolled(older, "2025-02-01T09:30:00Z"),  # consumed late: the directory keeps the March details
        events.enrolled(moved, "2025-04-01T09:30:00Z"), events.completed(who),
        events.enrolled(same_moment, "2025-04-01T09:30:00Z"), events.completed(who),  # a tie: the later one wins
    ]

    together, one_by_one = await both_ways([batch])

    assert together == one_by_one
    assert [addresses(together, batch[i])["email"] for i in (1, 2, 4, 6)] == [
        who.email, who.email, moved.email, same_moment.email]
    assert together.deliveries(batch[4])["email"]["language"] == "hi"
    assert together.contact(who)["email"] == same_moment.email
    assert together.arrivals == [f"contact:{who.key}"] * 4


async def test_an_update_gives_its_contact_to_the_events_after_it_in_the_batch_unless_it_is_older_and_sends_nothing(
        both_ways, events):
    who, stranger = events.employee("en"), events.employee("hi")
    moved = dataclasses.replace(who, email="moved@hry.gov.in", mobile="+919700000001", language="hi")
    stale = dataclasses.replace(who, email="stale@hry.gov.in")
    change, late = events.updated(moved, "2025-04-01T09:30:00Z"), events.updated(stale, "2025-02-01T09:30:00Z")
    batch = [
        events.enrolled(who, "2025-03-01T09:30:00Z"), events.completed(who),
        change, events.completed(who),
        late, events.completed(who),  # a change made before the enrolment, consumed late: changes nothing
        events.updated(stranger), events.completed(stranger),  # an update is a contact of its own
    ]

    together, one_by_one = await both_ways([batch])

    assert together == one_by_one
    assert [addresses(together, batch[i])["email"] for i in (1, 3, 5, 7)] == [
        who.email, moved.email, moved.email, stranger.email]
    assert together.deliveries(batch[3])["sms"]["address"] == moved.mobile
    assert together.deliveries(batch[3])["email"]["language"] == "hi"
    assert together.deliveries(change) == together.deliveries(late) == together.deliveries(batch[6]) == {}
    assert together.contact(who)["email"] == moved.email
    assert together.arrivals == [f"contact:{who.key}"] * 3 + [f"contact:{stranger.key}"]


async def test_a_revocation_names_the_course_of_a_certificate_issued_earlier_in_the_batch_only(both_ways, events):
    who = events.employee("en")
    # Two certificates (a second revocation of one certificate is a repeat: it would tell nothing).
    first, second = events.issued(who), events.issued(who)
    early, late = events.revoked(who, first), events.revoked(who, second)
    batch = [events.enrolled(who), early, first, second, late]

    together, one_by_one = await both_ways([batch])

    assert together == one_by_one
    title = first.data.course_title
    assert title not in together.deliveries(early)["email"]["body_text"]  # not known yet when it was applied
    assert title in together.deliveries(late)["email"]["body_text"]
    assert [c["course_title"] for c in together.tables["certificates"]] == [title, title]


async def test_events_delivered_twice_in_a_batch_and_again_in_the_next_give_one_message_per_channel(both_ways, events):
    who, other = events.employee("hi"), events.employee("en")
    batch = [events.enrolled(who), events.completed(who), events.enrolled(other)]
    twice = batch + batch

    together, one_by_one = await both_ways([twice, batch])

    assert together == one_by_one
    assert len(together.tables["deliveries"]) == 6
    assert all(len(together.deliveries(event)) == 2 for event in batch)
    assert len(together.tables["contacts"]) == 2


@pytest.mark.parametrize("kind", ["enrolled", "completed", "issued", "revoked"])
async def test_a_fact_reported_again_under_another_event_id_is_notified_once_in_its_batch_or_a_later_one(
        both_ways, events, kind):
    who = events.employee("hi")
    fact = {"enrolled": events.enrolled, "completed": events.completed, "issued": events.issued,
            "revoked": lambda w: events.revoked(w, events.issued(w))}[kind](who)
    again, later = events.repeated(fact), events.repeated(fact)

    together, one_by_one = await both_ways([[events.enrolled(who), fact, again], [later]])

    assert together == one_by_one
    assert set(together.deliveries(fact)) == {"email", "sms"}  # the first event's deliveries stand
    assert together.deliveries(again) == together.deliveries(later) == {}
    assert len(together.tables["deliveries"]) == 4  # the enrolment's two, the fact's two


async def test_an_opted_out_channel_and_a_missing_address_are_recorded_not_sent_in_a_batch_too(both_ways, events):
    quiet, no_mobile = events.employee("hi"), events.employee("en", mobile=False)
    batch = [events.enrolled(quiet), events.completed(quiet), events.enrolled(no_mobile), events.completed(no_mobile)]

    together, one_by_one = await both_ways([batch], opt_outs=[(quiet, "email")])

    assert together == one_by_one
    statuses = [{c: d["status"] for c, d in together.deliveries(event).items()} for event in batch]
    assert statuses == [{"email": "opted_out", "sms": "pending"}] * 2 + [{"email": "pending", "sms": "undeliverable"}] * 2
    assert together.deliveries(batch[1])["email"]["reason"] == "The employee opted out of e-mail notifications."


async def test_a_batch_with_an_event_whose_employee_is_unknown_raises_what_that_event_raises_alone(
        database_factory, events):
    known, stranger = events.employee("en"), events.employee("hi")
    waiting = events.completed(stranger)
    connection = await asyncpg.connect(await database_factory(MIGRATIONS_DIR))
    try:
        context = EventContext(connection, GROUP)
        with pytest.raises(DependencyMissing) as alone:
            async with connection.transaction():
                await Notifier().handle(context, waiting)
        # The enrolment after it in the batch does not count: applied alone, the completion came first.
        for batch in ([events.enrolled(known), waiting], [waiting, events.enrolled(stranger)]):
            with pytest.raises(DependencyMissing) as together:
                async with connection.transaction():
                    await Notifier().handle_many(EventContext(connection, GROUP), batch)
            assert together.value.waiting_for == alone.value.waiting_for == f"contact:{stranger.key}"
            assert together.value.reason == alone.value.reason
    finally:
        await connection.close()


PARKED = "SELECT count(*) FROM parked"
DELIVERIES = "SELECT count(*) FROM deliveries"


async def test_an_event_waiting_for_its_enrolment_is_parked_alone_and_applied_when_the_enrolment_arrives(
        notifications, events):
    known, stranger = events.employee("en"), events.employee("hi")
    waiting = events.completed(stranger)
    # Published before the service starts, so its first polls take them together, in one batch or few.
    await notifications.publish([events.enrolled(known), events.completed(known), waiting, events.issued(known)])
    async with notifications.running():
        assert await notifications.wait_for(DELIVERIES, 6) == 6
        assert await notifications.wait_for(PARKED, 1) == 1
        assert await notifications.fetchval("SELECT count(*) FROM deliveries WHERE event_id = $1", waiting.id) == 0

        await notifications.publish([events.enrolled(stranger), events.completed(known)])
        assert await notifications.wait_for(DELIVERIES, 12) == 12
        assert await notifications.fetchval(PARKED) == 0
        sql = "SELECT array_agg(address ORDER BY channel) FROM deliveries WHERE event_id = $1"
        assert await notifications.fetchval(sql, waiting.id) == [stranger.email, stranger.mobile]
