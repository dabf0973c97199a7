"""A parked event whose handler fails when it is released: the failure is its own, not the arriving event's."""

import asyncio
import dataclasses
import time

import pytest
from karmayogi_runtime.consumer import DependencyMissing, EventContext, Subscription
from karmayogi_runtime.dead_letter_topics import read_dead_letters
from karmayogi_runtime.service import running

from ledger.events import attended, employee, enrolled
from ledger.service import MIGRATIONS, LedgerSettings, definition, on_enrolled
from ledger_harness import publish, wait_for_count

pytestmark = pytest.mark.integration


async def on_attended_with_a_bug(context: EventContext, event) -> None:
    """Parks an attendance until its employee is enrolled, then fails on it (a bug, not a rule)."""
    data = event.data
    known = await context.connection.fetchval(
        "SELECT 1 FROM roster WHERE tenant = $1 AND employee_id = $2", event.tenant, data.employee_id)
    if not known:
        raise DependencyMissing(f"employee:{event.tenant}:{data.employee_id}", "employee not enrolled yet")
    raise KeyError("a bug in the attendance handler")


async def test_a_released_parked_event_that_keeps_failing_is_dead_lettered_and_the_arrival_goes_through(
    kafka_bootstrap, database_factory, topic_prefix
):
    url = await database_factory(MIGRATIONS)
    settings = LedgerSettings(database_url=url, kafka_bootstrap_servers=kafka_bootstrap,
                              kafka_topic_prefix=topic_prefix, consumer_batch_size=100)
    buggy = dataclasses.replace(definition(settings), subscriptions=(
        Subscription("ledger.roster", ("employee.enrolled",), on_enrolled),
        Subscription("ledger.attendance", ("session.attended",), on_attended_with_a_bug),
    ))
    early = employee("EARLY")
    async with running(buggy):
        await publish(kafka_bootstrap, topic_prefix, [attended(early)])
        assert await wait_for_count(url, "SELECT count(*) FROM parked", 1, timeout=30) == 1

        await publish(kafka_bootstrap, topic_prefix, [enrolled(early)])

        # Five attempts with backoff 0.25 + 0.5 + 1 + 2 s, then the parked event is dead-lettered.
        assert await wait_for_count(url, "SELECT count(*) FROM roster", 1, timeout=45) == 1
        assert await wait_for_count(url, "SELECT count(*) FROM parked", 0, timeout=5) == 0
        letters = await _dead_letters(kafka_bootstrap, topic_prefix + "session.attended.dlq")
    assert len(letters) == 1
    why = letters[0].why
    assert (why["consumer_group"], why["original_topic"], why["error_class"]) == (
        "ledger.attendance", "session.attended", "KeyError")
    assert why["attempts"] == "5"
    assert await read_dead_letters(kafka_bootstrap, [topic_prefix + "employee.enrolled.dlq"]) == []


async def _dead_letters(bootstrap: str, topic: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        letters = await read_dead_letters(bootstrap, [topic])
        if letters or time.monotonic() > deadline:
            return letters
        await asyncio.sleep(0.3)
