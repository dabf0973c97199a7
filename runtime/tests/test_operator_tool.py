"""`karmayogi-ops dead-letters` on the real Kafka: one dead letter named by its partition and offset, and a
dead letter whose value was too large to keep; filters, and what the operator reads and saves."""

import asyncio
from datetime import datetime, timezone
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from karmayogi_contracts import KafkaRecord, encode, encode_structured
from karmayogi_runtime import dead_letter, ops
from karmayogi_runtime.dead_letter_topics import read_records
from karmayogi_runtime.limits import MAX_RECORD_BYTES
from typer.testing import CliRunner

from ledger.events import attended, employee
from ledger.service import MIGRATIONS

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc)


async def _dead_letter_on(bootstrap: str, prefix: str, partition: int, *, value_omitted: bool = False,
                          original: KafkaRecord | None = None, reason: str = "barred",
                          group: str = "ledger.attendance", original_offset: int | None = None) -> bytes:
    """A dead letter of `original` (default: a fresh attendance), on `partition` of session.attended.dlq;
    returns the original value."""
    original = original or encode(attended(employee()))
    at = 40 + partition if original_offset is None else original_offset
    origin = dead_letter.Origin(group, "session.attended", partition, at, original.key,
                                original.headers, original.value)
    letter = dead_letter.dead_letter(origin, dead_letter.Failure("RuleViolation", reason, 1, NOW, NOW),
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
    assert "Replayed 1 dead letter (replay id" in output
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

    assert shown == (1, "karmayogi-ops: There is no dead letter at session.attended.dlq[2]@5; "
                        "`dead-letters list session.attended` shows where they are.")
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
             "certificate.revoked.dlq, enrolment.withdrawn.dlq, employee.updated.dlq")
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


def _column(output: str, name: str) -> list[str]:
    """The cells of one column of a rich table as printed, each cell's wrapped lines joined by a space."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("┃") and f" {name} " in line)
    index = [cell.strip() for cell in lines[header].split("┃")].index(name)
    cells, current = [], []
    for line in lines[header + 2:]:
        if line.startswith(("├", "└")):
            cells.append(" ".join(current))
            current = []
        elif line.startswith("│"):
            piece = line.split("│")[index].strip()
            current += [piece] if piece else []
    return cells


async def test_show_prints_the_payload_exactly_as_it_is_however_long_and_whatever_it_contains(
    kafka_bootstrap, topic_prefix, monkeypatch
):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", topic_prefix)  # the console as narrow as when piped to a file
    record = encode(attended(employee()))
    payload = record.value[:-1] + b', "note": "[bold]' + "ग्राम पंचायत ".encode() * 60 + b'[/bold]"}'
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 1, original=KafkaRecord(record.topic, record.key,
                                                                                   record.headers, payload))

    result = await asyncio.to_thread(CliRunner().invoke, ops.app, ["dead-letters", "show", "session.attended", "1", "0"])
    alone = await asyncio.to_thread(CliRunner().invoke, ops.app,
                                    ["dead-letters", "show", "session.attended", "1", "0", "--payload"])

    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.endswith(b"\n" + payload + b"\n")
    assert (alone.exit_code, alone.stdout_bytes) == (0, payload + b"\n")  # `--payload > event.json`, to fix and send


async def test_list_shows_each_reason_in_full_and_each_events_key(operator_env, kafka_bootstrap, topic_prefix,
                                                                 monkeypatch):
    monkeypatch.setattr(ops.console, "width", 250)
    reason = ("the session of batch 7 at DTC Karnal starts at 2026-12-03T09:00:00+05:30, after the batch ended on "
              "2026-11-21; attendance cannot be marked for a session outside its batch, so correct the session "
              "date in the attendance system and publish the event again")
    record = encode(attended("HR-000123"))
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 0, original=record, reason=reason)

    code, output = await _table("dead-letters", "list")

    assert code == 0, output
    assert _column(output, "reason") == [reason]
    assert _column(output, "key") == ["IN-HR:HR-000123"]


async def _table(*args: str) -> tuple[int, str]:
    """The tool's exit status and output as printed, lines and all."""
    result = await asyncio.to_thread(CliRunner().invoke, ops.app, list(args))
    return result.exit_code, result.output


async def test_list_and_replay_take_only_the_dead_letters_of_a_tenant_or_a_key(operator_env, kafka_bootstrap,
                                                                               topic_prefix):
    bihar, haryana = encode(attended("BR-1", tenant="IN-BR")), encode(attended("HR-1"))
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 0, original=bihar)
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 1, original=haryana)

    listed = await _ops("dead-letters", "list", "session.attended", "--tenant", "IN-BR")
    by_tenant = await _ops("dead-letters", "replay", "session.attended", "--tenant", "IN-BR:")
    by_key = await _ops("dead-letters", "replay", "--key", "IN-HR:HR-1")
    other = await _refused("dead-letters", "list", "--tenant", "IN-UP")

    assert listed[0] == 0 and "1 dead-lettered events" in listed[1] and "IN-BR:BR-1" in listed[1]
    assert "IN-HR" not in listed[1]
    assert by_tenant[0] == 0 and by_key[0] == 0, (by_tenant, by_key)
    replayed = await read_records(kafka_bootstrap, [topic_prefix + "session.attended"])
    assert sorted(letter.record.value for letter in replayed) == sorted([bihar.value, haryana.value])  # once each
    assert other == (1, "", "karmayogi-ops: No dead letter matches --tenant IN-UP; there are consumer groups "
                            "ledger.attendance; error classes RuleViolation; tenants IN-BR, IN-HR.\n")


async def test_a_replay_filter_that_matches_nothing_names_what_is_there_and_replays_nothing(
    operator_env, kafka_bootstrap, topic_prefix
):
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 0)
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 1, group="attendance.marks")

    typo = await _refused("dead-letters", "replay", "--group", "attendance.mark")
    both = await _refused("dead-letters", "replay", "session.attended", "--error-class", "Nope", "--group",
                          "attendance.marks")

    assert typo == (1, "", "karmayogi-ops: No dead letter matches --group attendance.mark; there are consumer "
                           "groups attendance.marks, ledger.attendance; error classes RuleViolation; tenants IN-HR.\n")
    assert both[0] == 1 and "No dead letter matches --error-class Nope --group attendance.marks;" in both[2]
    assert await read_records(kafka_bootstrap, [topic_prefix + "session.attended"]) == []


async def test_one_dead_letter_that_does_not_match_the_filter_given_with_it_is_named_and_not_replayed(
    operator_env, kafka_bootstrap, topic_prefix
):
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 2, original=encode(attended("HR-7")))

    refused = await _refused("dead-letters", "replay", "session.attended", "--partition", "2", "--offset", "0",
                             "--error-class", "KeyError")

    assert refused == (1, "", "karmayogi-ops: The dead letter at session.attended.dlq[2]@0 is a RuleViolation of "
                              "consumer group ledger.attendance, key IN-HR:HR-7; it does not match --error-class "
                              "KeyError.\n")
    assert await read_records(kafka_bootstrap, [topic_prefix + "session.attended"]) == []


async def test_a_replay_that_fails_again_is_listed_as_a_replay_of_the_letter_it_came_from(
    operator_env, kafka_bootstrap, topic_prefix
):
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 2)
    assert (await _ops("dead-letters", "replay", "session.attended", "--partition", "2", "--offset", "0"))[0] == 0
    [replayed] = await read_records(kafka_bootstrap, [topic_prefix + "session.attended"])
    await _dead_letter_on(kafka_bootstrap, topic_prefix, 2, original=replayed.record,  # the consumer fails again
                          original_offset=70)

    code, output = await _table("dead-letters", "list")

    assert code == 0, output
    assert _column(output, "replay of") == ["", "2@0"]




async def test_parked_shows_the_event_id_of_a_binary_and_of_a_structured_event(ledger, monkeypatch):
    monkeypatch.setattr(ops.console, "width", 400)
    early = employee("EARLY")  # not enrolled: both attendances are parked
    events = [attended(early, session=1), attended(early, session=2)]
    await ledger.publish([encode(events[0]), encode_structured(events[1])])
    assert await ledger.wait_for_count("SELECT count(*) FROM parked", 2) == 2

    code, output = await _ops("parked", ledger.database_url)

    assert code == 0, output
    assert str(events[0].id) in output and str(events[1].id) in output
