"""`karmayogi-ops`: the operator's tool for dead letters and parked events.

    karmayogi-ops dead-letters list [TOPIC...] [FILTERS]   a table of dead letters and their reasons
    karmayogi-ops dead-letters show TOPIC PARTITION OFFSET [--payload]  its headers, then its payload as it is
    karmayogi-ops dead-letters replay [TOPIC...] [--partition P --offset N] [FILTERS] [--all]
    karmayogi-ops parked DATABASE_URL                  events waiting for a dependency, with their age

A dead letter is named by its place in the dead-letter topic (partition and offset, as `list` shows
them), not by the original event's place, which `list` shows beside it. FILTERS are --error-class C,
--group G, --tenant T (keys `T:...`) and --key K (`<tenant>:<employee id>`); a letter must match every
one given, and filters that match none of the letters there end the command naming what is there. A
replay that failed again is listed as a replay of the letter it came from. Topics are named as the
contracts name them; the tool adds `KAFKA_TOPIC_PREFIX` itself, and `list` shows them without it. A topic
the cluster does not have is refused, naming the dead-letter topics it has.

A setting, a topic or a database the tool cannot use ends it with one sentence on stderr, never a stack
trace (a Kafka user that may not read the dead letters, typically a service's own, is told which user to
use: the dead-letter-replay user of deploy/k8s/operations/dead-letter-replay/kafka-user.yaml); `parked`
wants a service's own database (`…/certification`), not the server's `postgres`.

Replaying is safe: every consumer is idempotent, and a replayed event runs at most once per replay in
the consumer group that dead-lettered it (see `inbox.py`). Kafka is named by the services' own settings:
`KAFKA_BOOTSTRAP_SERVERS`, and on a secured cluster `KAFKA_SECURITY_PROTOCOL`, `KAFKA_USERNAME`,
`KAFKA_PASSWORD`, `KAFKA_CA_FILE` (see `settings.py`); `KAFKA_TOPIC_PREFIX` when topics carry one.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, NoReturn
from urllib.parse import urlsplit

import asyncpg
import typer
from aiokafka.errors import ClusterAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError
from karmayogi_contracts import TOPICS, dead_letter_topic
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from karmayogi_runtime import database, dead_letter, parking
from karmayogi_runtime import topics as topics_admin
from karmayogi_runtime.broker import aiokafka_security, check_login
from karmayogi_runtime.dead_letter_topics import DeadLetter, Filters, read_dead_letters, replay, what_is_there
from karmayogi_runtime.settings import CannotStart, KafkaSettings, database_url_problem, setting_problems

app = typer.Typer(help="Inspect and replay dead-lettered and parked events.", no_args_is_help=True, add_completion=False)
dead_letters_app = typer.Typer(help="Dead-letter topics: list, show, replay.", no_args_is_help=True)
app.add_typer(dead_letters_app, name="dead-letters")
console = Console()
REPLAY_USER = "deploy/k8s/operations/dead-letter-replay/kafka-user.yaml"


@dataclass(frozen=True)
class _Kafka:
    """Where the tool reads and writes: the cluster, how to log in, and the topic prefix."""

    servers: str
    security: dict[str, object]
    prefix: str
    user: str | None

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
        try:
            return asyncio.run(read_dead_letters(self.servers, named, security=self.security))
        except TopicAuthorizationFailedError as refused:
            _refuse(self._not_allowed("read", self._topics(refused)))

    def replay(self, letters: list[DeadLetter]) -> str:
        """Publish `letters` back to their original topics; returns the replay id."""
        try:
            return asyncio.run(replay(self.servers, letters, topic_prefix=self.prefix, security=self.security))
        except TopicAuthorizationFailedError as refused:
            _refuse(self._not_allowed("write", self._topics(refused)))
        except ClusterAuthorizationFailedError:  # an idempotent producer needs the right to write some topic
            _refuse(self._not_allowed("write", "any topic"))

    def _topics(self, refused: TopicAuthorizationFailedError) -> str:
        # aiokafka names one topic when reading (a str) and every topic refused when writing (a set).
        named = refused.args[0] if refused.args else "?"
        return ", ".join(sorted(self.name(t) for t in ([named] if isinstance(named, str) else named)))

    def _not_allowed(self, verb: str, topics: str) -> str:
        who = f"user '{self.user}'" if self.user else "this client"
        return (f"Kafka at {self.servers} does not allow {who} to {verb} {topics}: dead letters are read and replayed "
                f"as the dead-letter-replay user ({REPLAY_USER}), not a service's own; set KAFKA_USERNAME and "
                "KAFKA_PASSWORD to it.")

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
    # aiokafka logs each refused fetch before raising; without logging configured Python would print them
    # all on stderr, before the one sentence that says what to do.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    return _Kafka(settings.kafka_bootstrap_servers, aiokafka_security(settings), settings.kafka_topic_prefix,
                  settings.kafka_username)


ErrorClass = Annotated[str | None, typer.Option(help="Only dead letters with this error class.")]
Group = Annotated[str | None, typer.Option(help="Only dead letters of this consumer group.")]
Tenant = Annotated[str | None, typer.Option(help="Only dead letters of this tenant's events (keys 'IN-BR:...').")]
Key = Annotated[str | None, typer.Option(help="Only dead letters of events with this key ('<tenant>:<employee id>').")]


def _chosen(kafka: _Kafka, topics: list[str] | None, filters: Filters) -> list[DeadLetter]:
    """The dead letters on `topics` that match `filters`; when filters match none of those there, the
    command ends naming what is there (a typing mistake would otherwise read as "nothing to do")."""
    letters = kafka.read(topics)
    chosen = [d for d in letters if filters.match(d)]
    if letters and not chosen:
        _refuse(f"No dead letter matches {filters}; there are {what_is_there(letters)}.")
    return chosen


@dead_letters_app.command("list")
def list_dead_letters(
    topics: list[str] = typer.Argument(None, help="Topics (default: all)"),
    error_class: ErrorClass = None, group: Group = None, tenant: Tenant = None, key: Key = None,
) -> None:
    """A table of dead letters with their reasons."""
    kafka = _kafka()
    letters = _chosen(kafka, topics, Filters(error_class, group, tenant, key))
    table = Table(title=f"{len(letters)} dead-lettered events", show_lines=True,
                  caption="partition and offset are the dead letter's, in the dead-letter topic: give them to "
                          "`show` and `replay --partition --offset`; 'replay of' names the letter a failed "
                          "replay came from, in the same topic")
    columns = ("dead-letter topic", "partition", "offset", "original event", "key", "consumer group", "error",
               "reason", "attempts", "failed at", "replay of")
    for column in columns:
        table.add_column(column, overflow="fold")  # a reason is read in full, never cut short
    for letter in letters:
        why = letter.why
        original = f"{why.get('original_topic', '?')}[{why.get('original_partition', '?')}]@{why.get('original_offset', '?')}"
        cells = (kafka.name(letter.topic), str(letter.partition), str(letter.offset), original, letter.key,
                 why.get("consumer_group", ""), why.get("error_class", ""), why.get("error_message", ""),
                 why.get("attempts", ""), why.get("last_attempt_at", ""), why.get("replay_of", ""))
        table.add_row(*(Text(cell) for cell in cells))  # as text: a reason's "[...]" is not rich markup
    console.print(table)


@dead_letters_app.command("show")
def show(topic: str, partition: int, offset: int, payload: bool = typer.Option(
        False, "--payload", help="Only the payload, exactly as it is: `show ... --payload > event.json`.")) -> None:
    """One dead letter in full: its key and headers, one a line, then its payload exactly as it is (the last
    line(s); not wrapped, whether or not the output is a terminal), to save, fix and publish again."""
    kafka = _kafka()
    letter = _letter_at(kafka, topic, partition, offset)
    omitted = dead_letter.omitted_value_size(letter.record.headers)
    if payload and omitted is not None:
        _refuse(_not_replayable(letter, omitted))
    if not payload:
        typer.echo(f"key {letter.key}")
        for name, value in letter.record.headers:
            typer.echo(f"{name} {value.decode('utf-8', 'replace')}")
        if omitted is not None:
            typer.echo(_not_replayable(letter, omitted))
            return
    typer.echo(letter.record.value)  # bytes: written to stdout as they are


def _refuse(sentence: str, status: int = 1) -> NoReturn:
    """End the command on a problem the operator can fix: one sentence on stderr, exit status 1 (2 for a
    command line that does not say what to do)."""
    typer.echo(f"karmayogi-ops: {sentence}", err=True)
    raise typer.Exit(status)


def _letter_at(kafka: _Kafka, topic: str, partition: int, offset: int) -> DeadLetter:
    """The dead letter at `partition` and `offset` of `topic`'s dead-letter topic; the command ends if none is."""
    for letter in kafka.read([topic]):
        if (letter.partition, letter.offset) == (partition, offset):
            return letter
    dead_letters = kafka.name(kafka.dead_letter_topics([topic])[0])
    _refuse(f"There is no dead letter at {dead_letters}[{partition}]@{offset}; `dead-letters list {topic}` shows "
            "where they are.")


def _not_replayable(letter: DeadLetter, omitted: int) -> str:
    why = letter.why
    return (f"The original value ({omitted} bytes) was too large to keep in the dead letter, so it cannot be "
            f"replayed from the dead-letter topic: it is at {why.get('original_topic')}[{why.get('original_partition')}]"
            f"@{why.get('original_offset')} while that topic retains it; have its producer send it again.")


@dead_letters_app.command("replay")
def replay_command(
    topics: list[str] = typer.Argument(None, help="Topics (default: all)"),
    partition: int | None = typer.Option(None, help="With --offset: the dead letter's partition in the dead-letter topic."),
    offset: int | None = typer.Option(None, help="With --partition: only the dead letter at this offset of that partition."),
    error_class: ErrorClass = None, group: Group = None, tenant: Tenant = None, key: Key = None,
    everything: bool = typer.Option(False, "--all", help="Replay every dead letter on the topics."),
) -> None:
    """Publish dead letters back to their original topics after a fix."""
    filters = Filters(error_class, group, tenant, key)
    if offset is None and partition is None and not filters.given() and not everything:
        _refuse("Say which dead letters to replay: --partition with --offset, --error-class, --group, --tenant, "
                "--key, or --all.", status=2)
    if (offset is None) != (partition is None) or (offset is not None and len(topics or ()) != 1):
        _refuse("One dead letter is named by its topic, --partition and --offset together (as `list` shows them), "
                "e.g. `replay session.attended --partition 2 --offset 17`.", status=2)
    kafka = _kafka()
    if partition is not None and offset is not None:
        chosen = [_one_letter(kafka, topics[0], partition, offset, filters)]
    else:
        chosen = _chosen(kafka, topics, filters)
    omitted = {d: size for d in chosen if (size := dead_letter.omitted_value_size(d.record.headers)) is not None}
    for letter, size in omitted.items():
        typer.echo(f"{kafka.name(letter.topic)}[{letter.partition}]@{letter.offset}: {_not_replayable(letter, size)}")
    chosen = [d for d in chosen if d not in omitted]
    if not chosen and not omitted:
        typer.echo("There are no dead letters to replay on those topics.")
        return
    replay_id = kafka.replay(chosen)
    typer.echo(f"Replayed {len(chosen)} dead letter{'' if len(chosen) == 1 else 's'} (replay id {replay_id}).")
    if omitted:
        raise typer.Exit(1)


def _one_letter(kafka: _Kafka, topic: str, partition: int, offset: int, filters: Filters) -> DeadLetter:
    """The dead letter the operator named by its place, when it also matches the filters given with it."""
    letter = _letter_at(kafka, topic, partition, offset)
    if not filters.match(letter):
        why = letter.why
        _refuse(f"The dead letter at {kafka.name(letter.topic)}[{partition}]@{offset} is a "
                f"{why.get('error_class', '?')} of consumer group {why.get('consumer_group', '?')}, key {letter.key}; "
                f"it does not match {filters}.")
    return letter


@app.command("parked")
def parked(database_url: str = typer.Argument(..., envvar="DATABASE_URL", help="The service's database.")) -> None:
    """Events waiting for a dependency, oldest first, with their age."""
    total, rows = _read_parked(database_url)
    now = datetime.now(timezone.utc)
    shown = f" (the oldest {len(rows)} shown)" if total > len(rows) else ""
    table = Table(title=f"{total} parked events{shown}")
    for column in ("consumer", "waiting for", "reason", "from", "event id", "age"):
        table.add_column(column, overflow="fold")
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
