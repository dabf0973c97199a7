"""The runtime's delivery guarantees, against the real Kafka and PostgreSQL, through the ledger service."""

import asyncpg
import pytest
from karmayogi_contracts import encode, encode_structured
from karmayogi_runtime import outbox
from karmayogi_runtime.database import create_pool
from karmayogi_runtime.dead_letter_topics import read_dead_letters, replay

from ledger.events import attended, employee, enrolled

pytestmark = pytest.mark.integration

EFFECTS = "SELECT count(*) FROM effects WHERE employee_id = $1"
AUDITED = "SELECT count(*) FROM audit"


async def test_an_event_delivered_twice_has_its_effect_once(ledger):
    someone = employee()
    attendance = attended(someone)
    await ledger.publish([enrolled(someone), attendance, attendance])
    await ledger.publish([attendance])

    assert await ledger.wait_for_count(EFFECTS, 1, someone) == 1
    assert await ledger.wait_for_count(AUDITED, 1) == 1
    # Give a wrongly repeated effect time to show up before concluding there is none.
    await ledger.publish([enrolled(someone)])
    assert await ledger.wait_for_count("SELECT count(*) FROM roster", 1) == 1
    assert await ledger.count(EFFECTS, someone) == 1


async def test_a_batch_holding_an_event_seen_before_applies_the_new_ones_once(ledger):
    someone, another = employee(), employee()
    attendance = attended(someone)
    await ledger.publish([enrolled(someone), enrolled(another), attendance])
    assert await ledger.wait_for_count(EFFECTS, 1, someone) == 1

    await ledger.publish([attendance, attended(another)])  # delivered again, beside one not seen yet

    assert await ledger.wait_for_count(EFFECTS, 1, another) == 1
    assert await ledger.count(EFFECTS, someone) == 1


async def test_an_attendance_before_its_enrolment_is_parked_and_applied_when_the_enrolment_arrives(ledger):
    early = employee("EARLY")
    await ledger.publish([attended(early, session=1), attended(early, session=2)])
    assert await ledger.wait_for_count("SELECT count(*) FROM parked", 2) == 2
    assert await ledger.count(EFFECTS, early) == 0

    await ledger.publish([enrolled(early)])

    assert await ledger.wait_for_count(EFFECTS, 2, early) == 2
    assert await ledger.count("SELECT count(*) FROM parked") == 0


async def test_bad_events_are_dead_lettered_with_reasons_while_the_good_ones_flow(ledger):
    good, barred = employee("GOOD"), employee("BARRED")
    async with ledger.runtime.pool.acquire() as connection:
        await connection.execute("INSERT INTO barred VALUES ($1)", barred)
    garbage = encode(attended(good, session=9))
    garbage = type(garbage)(garbage.topic, garbage.key, garbage.headers, b"\x00\xffnot json")
    binary_header = encode(attended(good, session=8))
    binary_header = type(binary_header)(binary_header.topic, binary_header.key,
                                        (*binary_header.headers, ("x-scanner", b"\xff\xfe")), binary_header.value)
    misplaced = encode(enrolled(employee("MISPLACED")))  # a valid event, on a topic whose handlers expect another type
    misplaced = type(misplaced)("session.attended", misplaced.key, misplaced.headers, misplaced.value)
    await ledger.publish([enrolled(good), enrolled(barred), garbage, binary_header, misplaced, attended(barred),
                          attended(good)])

    assert await ledger.wait_for_count(EFFECTS, 1, good) == 1
    letters = await _dead_letters(ledger, 4)
    reasons = {letter.why["error_class"]: letter.why for letter in letters}
    assert set(reasons) == {"DecodeError.not_json", "DecodeError.invalid_header", "DecodeError.wrong_topic", "RuleViolation"}
    wrong_topic = reasons["DecodeError.wrong_topic"]
    assert wrong_topic["error_message"] == ("ce_type: a karmayogi.employee.enrolled.v1 event belongs on the "
                                            "employee.enrolled topic, not session.attended")
    assert wrong_topic["attempts"] == "1"  # refused at once, not retried as a handler's bug
    rule = reasons["RuleViolation"]
    assert rule["consumer_group"] == "ledger.attendance"
    assert rule["original_topic"] == "session.attended"
    assert f"employee {barred} is barred" in rule["error_message"]
    assert {"original_partition", "original_offset", "attempts", "first_attempt_at", "last_attempt_at"} <= set(rule)
    assert await ledger.count(EFFECTS, barred) == 0


async def test_a_record_that_does_not_decode_leaves_the_id_in_its_header_free_for_the_real_event(ledger):
    someone = employee("MANGLED")
    attendance = attended(someone)
    mangled = encode(attendance)
    mangled = type(mangled)(mangled.topic, mangled.key, mangled.headers, b"{not json")
    await ledger.publish([enrolled(someone), mangled])
    assert len(await _dead_letters(ledger, 1)) == 1

    await ledger.publish([attendance])

    assert await ledger.wait_for_count(EFFECTS, 1, someone) == 1


async def test_structured_mode_events_take_effect_once_like_binary_ones(ledger):
    someone = employee("STRUCTURED")
    attendance = attended(someone)
    await ledger.publish([encode_structured(enrolled(someone)), encode_structured(attendance), encode(attendance)])
    await ledger.publish([encode_structured(attendance)])

    assert await ledger.wait_for_count(EFFECTS, 1, someone) == 1
    await ledger.publish([enrolled(employee())])  # something after, to give a wrong repeat time to show
    assert await ledger.wait_for_count(AUDITED, 1) == 1
    assert await ledger.count(EFFECTS, someone) == 1


async def test_a_replayed_dead_letter_takes_effect_once_after_the_fix(ledger):
    barred = employee("BARRED")
    async with ledger.runtime.pool.acquire() as connection:
        await connection.execute("INSERT INTO barred VALUES ($1)", barred)
    await ledger.publish([enrolled(barred), attended(barred)])
    letters = await _dead_letters(ledger, 1)

    async with ledger.runtime.pool.acquire() as connection:  # the fix: the bar is lifted
        await connection.execute("DELETE FROM barred WHERE employee_id = $1", barred)
    await replay(ledger.bootstrap, letters, topic_prefix=ledger.prefix)
    await replay(ledger.bootstrap, letters, topic_prefix=ledger.prefix)  # an operator's second click

    assert await ledger.wait_for_count(EFFECTS, 1, barred) == 1
    assert await ledger.wait_for_count(AUDITED, 1) == 1
    assert len(await _dead_letters(ledger, 1)) == 1


async def test_the_outbox_drains_and_reports_its_backlog(ledger):
    people = [employee() for _ in range(50)]
    await ledger.publish([enrolled(p) for p in people] + [attended(p) for p in people])

    assert await ledger.wait_for_count(AUDITED, 50) == 50
    async with ledger.runtime.pool.acquire() as connection:
        backlog = await outbox.status(connection)
        sent = await connection.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")
    assert backlog.pending == 0 and backlog.oldest_pending_age_seconds == 0
    assert sent == 50


async def _dead_letters(ledger, expected: int, timeout: float = 30):
    import asyncio
    import time

    topics = [f"{ledger.prefix}session.attended.dlq"]
    deadline = time.monotonic() + timeout
    while True:
        letters = await read_dead_letters(ledger.bootstrap, topics)
        if len(letters) >= expected or time.monotonic() > deadline:
            return letters
        await asyncio.sleep(0.3)


async def test_a_connection_goes_back_to_the_pool_without_the_transaction_its_borrower_left_open(ledger):
    # A pool of its own, with one connection: the service's pool may lend that connection to its relay or
    # consumers as soon as it is back, and their own transactions would show instead.
    pool = await create_pool(ledger.database_url, size=1)
    try:
        async with pool.acquire() as connection:
            await connection.execute("BEGIN")
            backend = await connection.fetchval("SELECT pg_backend_pid()")

        observer = await asyncpg.connect(ledger.database_url)  # not from the pool: it could lend that connection
        try:
            state = await observer.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", backend)
        finally:
            await observer.close()
    finally:
        await pool.close()
    assert state == "idle"
