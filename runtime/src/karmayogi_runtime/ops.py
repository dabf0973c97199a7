"""`karmayogi-ops`: the operator's tool for dead letters and parked events.

    karmayogi-ops dead-letters list [TOPIC...]       a table of dead letters and their reasons
    karmayogi-ops dead-letters show TOPIC PARTITION OFFSET
    karmayogi-ops dead-letters replay [TOPIC...] [--partition P --offset N] [--error-class C] [--group G] [--all]
    karmayogi-ops parked DATABASE_URL                  events waiting for a dependency, with their age

A dead letter is named by its place in the dead-letter topic (partition and offset, as `list` shows
them), not by the original event's place, which `list` shows beside it. Topics are named as the
contracts name them; the tool adds `KAFKA_TOPIC_PREFIX` itself, and `list` shows them without it. A topic
the cluster does not have is refused, naming the dead-letter topics it has.

A setting, a topic or a database the tool cannot use ends it with one sentence on stderr, never a stack
trace; `parked` wants a service's own database (`…/certification`), not the server's `postgres`.

Replaying is safe: every consumer is idempotent, and a replayed event runs at most once per replay in
the consumer group that dead-lettered it (see `inbox.py`). Kafka is named by the services' own settings:
`KAFKA_BOOTSTRAP_SERVERS`, and on a secured cluster `KAFKA_SECURITY_PROTOCOL`, `KAFKA_USERNAME`,
`KAFKA_PASSWORD`, `KAFKA_CA_FILE` (see `settings.py`); `KAFKA_TOPIC_PREFIX` when topics carry one.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NoReturn
from urllib.parse import urlsplit

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from karmayogi_contracts import TOPICS, KafkaRecord, dead_letter_topic
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from karmayogi_runtime import database, dead_letter, parking
from karmayogi_runtime import topics as topics_admin
from karmayogi_runtime.broker import PRODUCER_DEFAULTS, aiokafka_security, check_login
from karmayogi_runtime.settings import CannotStart, KafkaSettings, database_url_problem, setting_problems
from karmayogi_runtime.topics import Security

app = typer.Typer(help="Inspect and replay dead-lettered and parked events.", no_args_is_help=True, add_completion=False)
dead_letters_app = typer.Typer(help="Dead-letter topics: list, show, replay.", no_args_is_help=True)
app.add_typer(dead_letters_app, name="dead-letters")
console = Console()


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    record: KafkaRecord

    @property
    def why(self) -> dict[str, str]:
        return dead_letter.description(self.record.headers)


async def read_dead_letters(bootstrap_servers: str, topics: list[str], *, security: Security = None) -> list[DeadLetter]:
    """The dead letters on the given topics, one per failure (see `dead_letter.identity`), read from the
    beginning without a consumer group."""
    unique: dict[str, DeadLetter] = {}
    for letter in await read_records(bootstrap_servers, topics, security=security):
        unique.setdefault(letter.why.get("id", f"{letter.topic}/{letter.partition}/{letter.offset}"), letter)
    return list(unique.values())


async def read_records(bootstrap_servers: str, topics: list[str], *, security: Security = None) -> list[DeadLetter]:
    """Every record currently on `topics`, re-publications included."""
    partitions = await topics_admin.partitions(bootstrap_servers, topics, security=security)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **(security or {}))
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[DeadLetter] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                found += [
                    DeadLetter(tp.topic, tp.partition, r.offset,
                               KafkaRecord(tp.topic, r.key or b"", tuple(r.headers), r.value or b""))
                    for r in records if r.offset < end[tp]
                ]
        return sorted(found, key=lambda d: (d.topic, d.partition, d.offset))
    finally:
        await consumer.stop()


async def replay(bootstrap_servers: str, letters: list[DeadLetter], *, topic_prefix: str = "",
                 security: Security = None) -> str:
    """Publish each dead letter back to its original topic under one replay id; returns the id."""
    replay_id = str(uuid.uuid4())
    records = [dead_letter.replay(letter.record, replay_id) for letter in letters]  # all replayable, or none sent
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **PRODUCER_DEFAULTS, **(security or {}))
    await producer.start()
    try:
        sends = []
        for again in records:
            sends.append(await producer.send(topic_prefix + again.topic, again.value, key=again.key, headers=list(again.headers)))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return replay_id


@dataclass(frozen=True)
class _Kafka:
    """Where the tool reads and writes: the cluster, how to log in, and the topic prefix."""

    servers: str
    security: dict[str, object]
    prefix: str

    def dead_letter_topics(self, topics: list[str] | None) -> list[str]:
        return [self.prefix + (t if t.endswith(".dlq") else dead_letter_topic(t)) for t in (topics or TOPICS)]

    def name(self, topic: str) -> str:
        """A topic as the operator names it to `show` and `replay`: without the prefix, which they add."""
        return topic.removeprefix(self.prefix)

    def read(self, topics: list[str] | None) -> list[DeadLetter]:
        """The dead letters on `topics` (default: the project's); a topic the operator names that the cluster
        does not have is refused, rather than read as an empty one (a typing mistake would read as "none")."""
        named = self.dead_letter_topics(topics)
        if topics:
            existing = asyncio.run(topics_admin.names(self.servers, security=self.security))
            missing = [topic for topic in named if topic not in existing]
            if missing:
                _refuse(self._no_such_topics(missing, existing))
        return asyncio.run(read_dead_letters(self.servers, named, security=self.security))

    def _no_such_topics(self, missing: list[str], existing: set[str]) -> str:
        under = f" (with KAFKA_TOPIC_PREFIX '{self.prefix}')" if self.prefix else ""
        names = ", ".join(self.name(topic) for topic in missing)
        project = [self.name(topic) for topic in self.dead_letter_topics(None)]
        there = [topic for topic in project if self.prefix + topic in existing]
        known = (f"the dead-letter topics it has are {', '.join(there)}" if there else
                 f"it has none of the project's dead-letter topics ({', '.join(project)})")
        return f"Kafka at {self.servers} has no topic{'s' if len(missing) > 1 else ''} {names}{under}; {known}."


def _kafka() -> _Kafka:
    """The Kafka settings from the environment, as a service reads them, checked with one login so that a
    wrong password or certificate is one sentence, not a stack trace."""
    try:
        settings = KafkaSettings()  # type: ignore[call-arg]  # read from the environment
    except ValidationError as error:
        for sentence in setting_problems(error):
            typer.echo(f"karmayogi-ops: {sentence}", err=True)
        if any(problem["type"] == "missing" for problem in error.errors()):
            typer.echo("karmayogi-ops: for the local stack: `source <(deploy/local/stack.sh env)`.", err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(check_login(settings))
    except CannotStart as refused:
        _refuse(str(refused))
    except (OSError, KafkaError) as error:
        _refuse(f"Kafka at {settings.kafka_bootstrap_servers} is not reachable ({error}); check KAFKA_BOOTSTRAP_SERVERS.")
    return _Kafka(settings.kafka_bootstrap_servers, aiokafka_security(settings), settings.kafka_topic_prefix)


@dead_letters_app.command("list")
def list_dead_letters(topics: list[str] = typer.Argument(None, help="Topics (default: all)")) -> None:
    """A table of dead letters with their reasons."""
    kafka = _kafka()
    letters = kafka.read(topics)
    table = Table(title=f"{len(letters)} dead-lettered events",
                  caption="partition and offset are the dead letter's, in the dead-letter topic: give them to "
                          "`show` and `replay --partition --offset`")
    columns = ("dead-letter topic", "partition", "offset", "original event", "consumer group", "error", "reason",
               "attempts", "failed at")
    for column in columns:
        table.add_column(column)
    for letter in letters:
        why = letter.why
        original = f"{why.get('original_topic', '?')}[{why.get('original_partition', '?')}]@{why.get('original_offset', '?')}"
        table.add_row(kafka.name(letter.topic), str(letter.partition), str(letter.offset), original,
                      why.get("consumer_group", ""), why.get("error_class", ""), why.get("error_message", "")[:120],
                      why.get("attempts", ""), why.get("last_attempt_at", ""))
    console.print(table)


@dead_letters_app.command("show")
def show(topic: str, partition: int, offset: int) -> None:
    """One dead letter in full: headers and payload."""
    kafka = _kafka()
    match = [d for d in kafka.read([topic]) if d.partition == partition and d.offset == offset]
    if not match:
        _none_at(kafka, topic, partition, offset)
    record = match[0].record
    console.print(f"[bold]key[/] {record.key.decode('utf-8', 'replace')}")
    for name, value in record.headers:
        console.print(f"[bold]{name}[/] {value.decode('utf-8', 'replace')}")
    omitted = dead_letter.omitted_value_size(record.headers)
    if omitted is not None:
        console.print(_not_replayable(match[0], omitted))
        return
    console.print(record.value.decode("utf-8", "replace"))


def _refuse(sentence: str) -> NoReturn:
    """End the command on a problem the operator can fix: one sentence on stderr, exit status 1."""
    typer.echo(f"karmayogi-ops: {sentence}", err=True)
    raise typer.Exit(1)


def _none_at(kafka: _Kafka, topic: str, partition: int, offset: int) -> NoReturn:
    dead_letters = kafka.name(kafka.dead_letter_topics([topic])[0])
    console.print(f"[red]There is no dead letter at {dead_letters}[{partition}]@{offset}; "
                  f"`dead-letters list {topic}` shows where they are.")
    raise typer.Exit(1)


def _not_replayable(letter: DeadLetter, omitted: int) -> str:
    why = letter.why
    return (f"[yellow]The original value ({omitted} bytes) was too large to keep in the dead letter, so it cannot be "
            f"replayed from the dead-letter topic: it is at {why.get('original_topic')}[{why.get('original_partition')}]"
            f"@{why.get('original_offset')} while that topic retains it; have its producer send it again.")


@dead_letters_app.command("replay")
def replay_command(
    topics: list[str] = typer.Argument(None, help="Topics (default: all)"),
    partition: int | None = typer.Option(None, help="With --offset: the dead letter's partition in the dead-letter topic."),
    offset: int | None = typer.Option(None, help="With --partition: only the dead letter at this offset of that partition."),
    error_class: str | None = typer.Option(None, help="Only dead letters with this error class."),
    group: str | None = typer.Option(None, help="Only dead letters of this consumer group."),
    everything: bool = typer.Option(False, "--all", help="Replay every dead letter on the topics."),
) -> None:
    """Publish dead letters back to their original topics after a fix."""
    if offset is None and partition is None and error_class is None and group is None and not everything:
        console.print("[red]Say which dead letters to replay: --partition with --offset, --error-class, --group, or --all.")
        raise typer.Exit(2)
    if (offset is None) != (partition is None) or (offset is not None and len(topics or ()) != 1):
        console.print("[red]One dead letter is named by its topic, --partition and --offset together (as `list` shows "
                      "them), e.g. `replay session.attended --partition 2 --offset 17`.")
        raise typer.Exit(2)
    kafka = _kafka()
    chosen = [
        d for d in kafka.read(topics)
        if (offset is None or (d.partition, d.offset) == (partition, offset))
        and (error_class is None or d.why.get("error_class") == error_class)
        and (group is None or d.why.get("consumer_group") == group)
    ]
    if offset is not None and partition is not None and not chosen:
        _none_at(kafka, topics[0], partition, offset)
    omitted = {d: size for d in chosen if (size := dead_letter.omitted_value_size(d.record.headers)) is not None}
    for letter, size in omitted.items():
        console.print(f"{kafka.name(letter.topic)}[{letter.partition}]@{letter.offset}: {_not_replayable(letter, size)}")
    chosen = [d for d in chosen if d not in omitted]
    replay_id = asyncio.run(replay(kafka.servers, chosen, topic_prefix=kafka.prefix, security=kafka.security))
    console.print(f"Replayed {len(chosen)} dead letters (replay id {replay_id}).")
    if omitted:
        raise typer.Exit(1)


@app.command("parked")
def parked(database_url: str = typer.Argument(..., envvar="DATABASE_URL", help="The service's database.")) -> None:
    """Events waiting for a dependency, oldest first, with their age."""
    total, rows = _read_parked(database_url)
    now = datetime.now(timezone.utc)
    shown = f" (the oldest {len(rows)} shown)" if total > len(rows) else ""
    table = Table(title=f"{total} parked events{shown}")
    for column in ("consumer", "waiting for", "reason", "from", "event id", "age"):
        table.add_column(column)
    for row in rows:
        age = now - row["parked_at"]
        table.add_row(row["consumer"], row["waiting_for"], row["reason"][:100],
                      f"{row['topic']}[{row['partition']}]@{row['offset']}", row["event_id"] or "", str(age).split(".")[0])
    console.print(table)


def _read_parked(database_url: str) -> tuple[int, list[asyncpg.Record]]:
    """How many events are parked in the service database at `database_url`, and the oldest of them; a URL,
    a server or a database that cannot serve them ends the command with one sentence."""
    problem = database_url_problem(database_url)
    if problem:
        _refuse(f"DATABASE_URL is invalid: {problem}")

    async def fetch() -> tuple[int, list[asyncpg.Record]]:
        connection = await database.connect(database_url)
        try:
            return await parking.count_waiting(connection), await parking.waiting(connection)
        finally:
            await connection.close()

    where = database.describe(database_url)
    try:
        return asyncio.run(fetch())
    except CannotStart as refused:
        _refuse(str(refused))
    except asyncpg.UndefinedTableError:
        server = urlsplit(database_url).netloc.rpartition("@")[2]
        _refuse(f"PostgreSQL at {where} has no parked events table: that is not a service's database; name one, "
                f"e.g. postgresql://user:password@{server}/certification.")
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
        _refuse(f"PostgreSQL at {where} is not reachable ({error or type(error).__name__}); check DATABASE_URL.")
    except asyncpg.PostgresError as error:
        _refuse(f"PostgreSQL at {where} could not list the parked events ({error}).")
