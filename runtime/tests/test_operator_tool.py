"""`karmayogi-ops dead-letters` on the real Kafka: one dead letter named by its partition and offset, and a
dead letter whose value was too large to keep."""

import asyncio
from datetime import datetime, timezone
from urllib.parse import urlsplit

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


async def _refused(*args: str) -> tuple[int, str, str]:
    """The tool's exit status, stdout and stderr (one sentence expected) when it refuses."""
    result = await asyncio.to_thread(CliRunner().invoke, ops.app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def test_a_dead_letter_topic_the_cluster_does_not_have_is_refused_naming_the_ones_it_has(
    operator_env, kafka_bootstrap, topic_prefix
):
    known = ("employee.enrolled.dlq, session.attended.dlq, course.completed.dlq, certificate.issued.dlq, "
             "certificate.revoked.dlq, enrolment.withdrawn.dlq")
    sentence = (f"karmayogi-ops: Kafka at {kafka_bootstrap} has no topic session.atended.dlq (with KAFKA_TOPIC_PREFIX "
                f"'{topic_prefix}'); the dead-letter topics it has are {known}.\n")

    for command in (["list", "session.atended"], ["show", "session.atended.dlq", "0", "0"],
                    ["replay", "session.atended.dlq", "--all"]):
        assert await _refused("dead-letters", *command) == (1, "", sentence), command
    # The prefixed name, as another tool shows it, is prefixed again: refused too, naming the names to use.
    assert (await _refused("dead-letters", "list", topic_prefix + "session.attended"))[0] == 1


def test_kafka_bootstrap_servers_that_are_not_host_and_port_are_refused_naming_the_entry(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:29092,127.0.0.1:abc")

    result = CliRunner().invoke(ops.app, ["dead-letters", "list"])

    assert (result.exit_code, result.stderr) == (
        2, "karmayogi-ops: KAFKA_BOOTSTRAP_SERVERS is invalid: '127.0.0.1:abc' is not a host:port pair such as kafka:9092.\n")


def _with(url: str, **parts: str) -> str:
    return urlsplit(url)._replace(**parts).geturl()


async def test_parked_on_a_database_it_cannot_read_says_why_in_one_sentence(postgres_url):
    server = urlsplit(postgres_url)
    where = f"{server.hostname}:{server.port or 5432}"
    user = server.username
    cases = {
        postgres_url: f"PostgreSQL at {where}{server.path} as '{user}' has no parked events table: that is not a "
                      f"service's database; name one, e.g. postgresql://user:password@{server.netloc.rpartition('@')[2]}"
                      "/certification.",
        _with(postgres_url, netloc=f"{user}:wrong-password@{server.netloc.rpartition('@')[2]}"):
            f"PostgreSQL at {where}{server.path} as '{user}' refused the login: check the user and password in DATABASE_URL.",
        _with(postgres_url, path="/no_such_database"):
            f"PostgreSQL at {where}/no_such_database as '{user}': that database does not exist; create it or correct "
            "DATABASE_URL.",
        "postgresql://ledger:pw@127.0.0.1:1/ledger":
            "PostgreSQL at 127.0.0.1:1/ledger as 'ledger' is not reachable ([Errno 111] Connect call failed "
            "('127.0.0.1', 1)); check DATABASE_URL.",
        "not-a-url": "DATABASE_URL is invalid: it must start with postgresql:// (as in "
                     "postgresql://user:password@host:5432/database).",
    }
    for url, sentence in cases.items():
        assert await _refused("parked", url) == (1, "", f"karmayogi-ops: {sentence}\n"), url
