"""`karmayogi-ops dead-letters` on the real Kafka: one dead letter named by its partition and offset, and a
dead letter whose value was too large to keep."""

import asyncio
from datetime import datetime, timezone

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from karmayogi_contracts import encode
from karmayogi_runtime import dead_letter, ops
from karmayogi_runtime.limits import MAX_RECORD_BYTES
from karmayogi_runtime.ops import read_records
from typer.testing import CliRunner

from ledger.events import attended, employee
from ledger.service import MIGRATIONS

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc)


async def _dead_letter_on(bootstrap: str, prefix: str, partition: int, *, value_omitted: bool = False) -> bytes:
    """A dead letter of a fresh attendance, on `partition` of session.attended.dlq; returns the original value."""
    original = encode(attended(employee()))
    origin = dead_letter.Origin("ledger.attendance", "session.attended", partition, 40 + partition, original.key,
                                original.headers, original.value)
    letter = dead_letter.dead_letter(origin, dead_letter.Failure("RuleViolation", "barred", 1, NOW, NOW),
                                     max_bytes=100 if value_omitted else MAX_RECORD_BYTES)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(prefix + letter.topic, letter.value, key=letter.key, partition=partition,
                                     headers=list(letter.headers))
    finally:
        await producer.stop()
    return original.value


async def _ops(*args: str):
    """The tool as an operator runs it (in a thread: it runs its own event loop)."""
    result = await asyncio.to_thread(CliRunner().invoke, ops.app, list(args))
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def operator_env(kafka_bootstrap, topic_prefix, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", topic_prefix)
    monkeypatch.setattr(ops.console, "width", 400)


async def test_replay_by_offset_takes_the_partition_too_and_replays_that_one_dead_letter(
    operator_env, kafka_bootstrap, topic_prefix
):
    values = [await _dead_letter_on(kafka_bootstrap, topic_prefix, partition) for partition in range(3)]

    assert (await _ops("dead-letters", "replay", "session.attended", "--offset", "0"))[0] == 2
    code, output = await _ops("dead-letters", "replay", "session.attended", "--partition", "1", "--offset", "0")

    assert code == 0, output
    assert "Replayed 1 dead letters" in output
    replayed = await read_records(kafka_bootstrap, [topic_prefix + "session.attended"])
    assert [letter.record.value for letter in replayed] == [values[1]]


async def test_list_names_the_dead_letters_place_as_show_takes_it_and_the_original_events_place(
    operator_env, kafka_bootstrap, topic_prefix
):
    value = await _dead_letter_on(kafka_bootstrap, topic_prefix, 2)

    code, output = await _ops("dead-letters", "list", "session.attended")

    assert code == 0, output
    assert "│ session.attended.dlq │ 2 │ 0 │ session.attended[2]@42" in output
    assert topic_prefix not in output  # the tool adds the prefix itself: a name with it would be prefixed twice
    shown = await _ops("dead-letters", "show", "session.attended.dlq", "2", "0")
    assert shown[0] == 0 and value.decode() in shown[1]


async def test_show_and_replay_of_a_dead_letter_that_is_not_there_say_so_and_fail(operator_env, kafka_bootstrap,
                                                                                   topic_prefix):
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 2)

    shown = await _ops("dead-letters", "show", "session.attended", "2", "5")
    replayed = await _ops("dead-letters", "replay", "session.attended.dlq", "--partition", "1", "--offset", "0")

    assert shown == (1, "There is no dead letter at session.attended.dlq[2]@5; `dead-letters list session.attended` "
                        "shows where they are.")
    assert replayed[0] == 1 and "There is no dead letter at session.attended.dlq[1]@0" in replayed[1]
    assert await read_records(kafka_bootstrap, [topic_prefix + "session.attended"]) == []


async def test_a_dead_letter_without_its_value_is_shown_and_refused_as_not_replayable(
    operator_env, kafka_bootstrap, topic_prefix
):
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 0, value_omitted=True)

    shown = await _ops("dead-letters", "show", "session.attended", "0", "0")
    replayed = await _ops("dead-letters", "replay", "session.attended", "--all")

    assert shown[0] == 0 and "cannot be replayed from the dead-letter topic" in shown[1]
    assert "session.attended[0]@40" in shown[1]
    assert replayed[0] == 1 and "cannot be replayed" in replayed[1] and "Replayed 0 dead letters" in replayed[1]
    assert await read_records(kafka_bootstrap, [topic_prefix + "session.attended"]) == []


async def test_parked_counts_every_parked_event_and_says_when_the_list_is_cut(database_factory):
    url = await database_factory(MIGRATIONS)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("""
            INSERT INTO parked (consumer, waiting_for, reason, topic, partition, "offset", header_names, header_values)
            SELECT 'ledger.attendance', 'employee:IN-HR:E' || n, 'employee not enrolled yet', 'session.attended', 0, n,
                   '{}', '{}'
            FROM generate_series(1, 1001) AS n""")
    finally:
        await connection.close()

    code, output = await _ops("parked", url)

    assert code == 0, output
    assert "1001 parked events (the oldest 1000 shown)" in output
