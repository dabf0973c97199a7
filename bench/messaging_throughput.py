"""Throughput of the runtime's messaging path beside the raw floor measured in the same run.

    .venv/bin/python bench/messaging_throughput.py [--events 20000] [--rounds 5]   # 4,000 events at least

Needs KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (an administrative URL), as `make test` exports them
(`source <(deploy/local/stack.sh env)`). Every path is measured once in each of several rounds. Prints each
path's best round and every round, in events per second, and in this process's CPU time per event (where
the Python side of each path spends its time):

- raw floor: plain aiokafka produce; plain aiokafka consume; batched PostgreSQL insert (executemany,
  500 rows a transaction) of the same volume, with no business logic;
- the consumer runner (decoding, inbox claim, handler insert, offsets committed after the transaction),
  with a batch handler and with a per-event handler;
- the outbox relay (claim, publish with acks=all, await, mark sent);

then each path's ratio to its floor (consume + insert for the runner, produce for the relay), round by
round against the floor measured in the same round, and their median. A ratio is taken within a round
because the machine's speed moves between minutes (Kafka and PostgreSQL share its cores): the best consume
and the best insert, from two different rounds, make a floor the machine never reached at any one time, and
a latency-bound path such as the floor gains more from a quiet minute than a CPU-bound one. The runner's
best round against such a floor is printed as well ("best of each").

Each path's clock starts after its first batch, so a run needs four of the largest batch involved (the
relay's 1,000 rows, or BENCH_BATCH if larger); a smaller one is refused.
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from karmayogi_contracts import CloudEvent, KafkaRecord, SessionAttended, encode, ids, new_event
from karmayogi_runtime import outbox, topics
from karmayogi_runtime.broker import PRODUCER_DEFAULTS, create_producer
from karmayogi_runtime.consumer import ConsumerRunner, EventContext, Subscription
from karmayogi_runtime.database import create_pool
from karmayogi_runtime.outbox import OutboxRelay
from karmayogi_runtime.schema import MESSAGING_TABLES
from karmayogi_runtime.service import settle_garbage_collector
from karmayogi_runtime.settings import ServiceSettings

from processes import machine_load
from stack import addresses

BATCH = int(os.environ.get("BENCH_BATCH", "500"))
RELAY_BATCH = outbox.BATCH_SIZE  # the relay claims this many outbox rows at a time, as the services run it
# Each path's clock starts once its first batch is through (joining the group, starting a producer are not
# counted) and the measure is scaled up to the whole volume: with one or two batches there is nothing left to time.
FEWEST_BATCHES = 4
TABLE = "CREATE TABLE effects (event_id uuid NOT NULL, employee_id text NOT NULL, minutes integer NOT NULL)"
INSERT = "INSERT INTO effects (event_id, employee_id, minutes) VALUES ($1, $2, $3)"


@dataclass(frozen=True)
class Timing:
    """How long a path took for the whole volume: wall-clock seconds, and CPU seconds of this process."""

    wall: float
    cpu: float


class Stopwatch:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self, scale: float = 1.0) -> Timing:
        """The time since the start; `scale` extends a measure that missed the first records to all of them."""
        return Timing((time.perf_counter() - self.wall) * scale, (time.process_time() - self.cpu) * scale)


def fewest_events(*batch_sizes: int) -> int:
    """The smallest volume worth measuring through paths that move `batch_sizes` events at a time."""
    return FEWEST_BATCHES * max(batch_sizes)


def attendance(n: int) -> CloudEvent:
    employee, session = f"HR-{n // 6:07d}", uuid.UUID(int=n % 6 + 1)
    data = SessionAttended.model_validate({
        "tenant": "IN-HR", "attendance_id": str(ids.attendance_id("IN-HR", employee, session)),
        "employee_id": employee, "batch_id": str(uuid.UUID(int=n // 180)),
        "session": {"id": str(session), "starts_at": "2026-11-16T04:30:00Z", "duration_minutes": 90, "mode": "classroom"},
        "minutes_attended": 90, "marked_by": "biometric", "marked_at": "2026-11-16T06:05:00Z",
    })
    return new_event(data, id=data.attendance_id, source="urn:state:IN-HR:biometric")


async def produce(bootstrap: str, topic: str, records: Sequence[KafkaRecord]) -> Timing:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_DEFAULTS)
    await producer.start()
    watch = Stopwatch()
    sends = [await producer.send(topic, r.value, key=r.key, headers=list(r.headers)) for r in records]
    await asyncio.gather(*sends)
    timing = watch.stop()
    await producer.stop()
    return timing


async def consume(bootstrap: str, topic: str, count: int) -> Timing:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"floor-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen = 0
    while not seen:  # as for the runner, the clock starts at the first records, after the group join
        batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
        seen += sum(len(records) for records in batches.values())
    watch = Stopwatch()
    first = seen
    while seen < count:
        batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
        seen += sum(len(records) for records in batches.values())
        await consumer.commit()
    timing = watch.stop(count / (count - first))
    await consumer.stop()
    return timing


async def insert(pool: asyncpg.Pool, events: Sequence[CloudEvent]) -> Timing:
    watch = Stopwatch()
    async with pool.acquire() as connection:
        for i in range(0, len(events), BATCH):
            async with connection.transaction():
                await connection.executemany(INSERT, [_row(e) for e in events[i:i + BATCH]])
    timing = watch.stop()
    await pool.execute("TRUNCATE effects")
    return timing


def _row(event: CloudEvent) -> tuple:
    return event.id, event.data.employee_id, event.data.minutes_attended


async def through_runner(settings: ServiceSettings, pool: asyncpg.Pool, prefix: str, count: int, batched: bool) -> Timing:
    async def one(context: EventContext, event: CloudEvent) -> None:
        await context.connection.execute(INSERT, *_row(event))

    async def many(context: EventContext, events: Sequence[CloudEvent]) -> None:
        await context.connection.executemany(INSERT, [_row(e) for e in events])

    group = f"bench.{'batch' if batched else 'single'}.{uuid.uuid4().hex[:6]}"
    subscription = Subscription(group, ("session.attended",), one, handle_many=many if batched else None)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=None)
    runner = ConsumerRunner(pool, [subscription], batch_size=BATCH, topic_prefix=prefix)
    runner.register(broker)
    await broker.start()
    # The clock starts once the first batch is through, so joining the consumer group is not counted.
    # Progress is the runner's own count of events committed (effects in PostgreSQL, then offsets in
    # Kafka): polling count(*) instead would put a growing scan beside the path being measured.
    while not (first := runner.handled):
        await asyncio.sleep(0.01)
    watch = Stopwatch()
    while runner.handled < count:
        await asyncio.sleep(0.02)
    timing = watch.stop(count / (count - first))
    await broker.stop()
    effects = await pool.fetchval("SELECT count(*) FROM effects")
    if effects != count:
        raise SystemExit(f"the runner left {effects:,} effects for {count:,} events")
    await pool.execute("TRUNCATE effects")
    return timing


async def through_relay(settings: ServiceSettings, pool: asyncpg.Pool, prefix: str, events: Sequence[CloudEvent]) -> Timing:
    async with pool.acquire() as connection:
        for i in range(0, len(events), BATCH):
            async with connection.transaction():
                await outbox.add_many(connection, events[i:i + BATCH])
    relay = OutboxRelay(settings.database_url.get_secret_value(), pool,
                        lambda: create_producer(settings, client_id="bench-relay"), topic_prefix=prefix)
    task = asyncio.create_task(relay.run())
    # As for the runner, the clock starts once the first batch is through, so starting the relay's
    # producer (connecting, reading the topics' metadata) is not counted.
    while not (first := relay.published):
        await asyncio.sleep(0.01)
    watch = Stopwatch()
    while await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):
        await asyncio.sleep(0.05)
    timing = watch.stop(len(events) / (len(events) - first))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return timing


async def one_round(settings: ServiceSettings, pool: asyncpg.Pool, prefix: str, events: Sequence[CloudEvent],
                    records: Sequence[KafkaRecord]) -> dict[str, Timing]:
    """Every path once, each over the whole volume."""
    bootstrap, count = settings.kafka_bootstrap_servers, len(events)
    timings = {"produce": await produce(bootstrap, f"{prefix}raw", records)}
    timings["consume"] = await consume(bootstrap, f"{prefix}raw", count)
    timings["insert"] = await insert(pool, events)
    timings["batched"] = await through_runner(settings, pool, prefix, count, batched=True)
    timings["single"] = await through_runner(settings, pool, prefix, count, batched=False)
    timings["relay"] = await through_relay(settings, pool, f"{prefix}relayed.", events)
    await pool.execute("TRUNCATE inbox, outbox")  # each round starts from the same tables
    return timings


@contextlib.asynccontextmanager
async def scratch(
    bootstrap: str, admin_url: str, topic_names: Sequence[str]
) -> AsyncIterator[tuple[str, str, asyncpg.Pool]]:
    """Topics of a fresh prefix and a fresh database with the messaging tables and `effects`, removed
    afterwards; yields the prefix, the database's URL and a pool."""
    prefix, database = f"bench{uuid.uuid4().hex[:6]}.", f"bench_{uuid.uuid4().hex[:8]}"
    names = [prefix + name for name in topic_names]
    await topics.create(bootstrap, names, 6)
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    pool = await create_pool(url, size=4)
    try:
        for statement in (*MESSAGING_TABLES, TABLE):
            await pool.execute(statement)
        yield prefix, url, pool
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await admin.close()
        await topics.delete(bootstrap, names)


async def raw_floor(bootstrap: str, admin_url: str, count: int) -> Timing:
    """The raw floor of `count` events, for other benchmarks to print beside theirs: plain aiokafka produce,
    plain consume, and the batched insert, one after the other, on scratch topics and a scratch database."""
    async with scratch(bootstrap, admin_url, ["raw"]) as (prefix, _, pool):
        events = [attendance(n) for n in range(count)]
        timings = [await produce(bootstrap, f"{prefix}raw", [encode(e) for e in events]),
                   await consume(bootstrap, f"{prefix}raw", count), await insert(pool, events)]
    return Timing(sum(t.wall for t in timings), sum(t.cpu for t in timings))


async def main(count: int, rounds: int) -> None:
    bootstrap, admin_url = addresses()
    names = ["raw", "session.attended", "relayed.session.attended"]
    async with scratch(bootstrap, admin_url, names) as (prefix, url, pool):
        settings = ServiceSettings(database_url=url, kafka_bootstrap_servers=bootstrap)
        events = [attendance(n) for n in range(count)]
        records = [encode(e) for e in events]
        # The collector as a service has it once started; the prepared events are frozen with the rest,
        # so no path measured below pays for scanning them (hundreds of thousands of objects) at each
        # full collection. A service holds nothing like them.
        settle_garbage_collector()
        await produce(bootstrap, f"{prefix}session.attended", records)  # what each runner's new group reads
        measured = [await one_round(settings, pool, prefix, events, records) for _ in range(rounds)]
    report(count, measured)


def report(count: int, measured: list[dict[str, Timing]]) -> None:
    """Each path's best round and every round, then each path's ratio to its floor round by round (see the
    module docstring)."""
    rounds = [{**timings, "floor": _floor(timings)} for timings in measured]
    print(f"\n{count:,} session.attended events, batches of {BATCH}, 6 partitions, {len(rounds)} rounds\n")
    print(f"{'path':<46}{'events/s':>10}{'CPU µs/event':>14}   each round (events/s)")
    # CPU is this process's (Python) time per event; PostgreSQL and Kafka work in their own processes.
    for name, path in [
        ("raw floor: aiokafka produce (acks=all)", "produce"),
        ("raw floor: aiokafka consume", "consume"),
        ("raw floor: PostgreSQL batched insert", "insert"),
        ("raw floor: consume + insert", "floor"),
        ("consumer runner, batch handler", "batched"),
        ("consumer runner, per-event handler", "single"),
        ("outbox relay (claim, publish, await, mark)", "relay"),
    ]:
        best = min((timings[path] for timings in rounds), key=lambda timing: timing.wall)
        each = " ".join(f"{count / timings[path].wall / 1000:.0f}k" for timings in rounds)
        print(f"{name:<46}{count / best.wall:>10,.0f}{best.cpu * 1e6 / count:>14.1f}   {each}")
    print(f"\n{'vs its floor of the same round':<46}{'median':>10}{'':>14}   each round")
    for name, path, floor in [
        ("consumer runner, batch handler", "batched", "floor"),
        ("consumer runner, per-event handler", "single", "floor"),
        ("outbox relay, vs produce", "relay", "produce"),
    ]:
        ratios = [timings[floor].wall / timings[path].wall for timings in rounds]
        each = " ".join(f"{ratio:.0%}" for ratio in ratios)
        print(f"{name:<46}{statistics.median(ratios):>10.0%}{'':>14}   {each}")
    fastest = {path: min(timings[path].wall for timings in rounds) for path in ("consume", "insert", "batched")}
    print(f"\nbest of each: the runner's best round (batch handler) vs the best consume + the best insert, whichever "
          f"rounds they came from: {(fastest['consume'] + fastest['insert']) / fastest['batched']:.0%}")
    print(machine_load())


def _floor(timings: dict[str, Timing]) -> Timing:
    """A round's floor of the consumer path: its plain consume and its batched insert, one after the other."""
    return Timing(timings["consume"].wall + timings["insert"].wall, timings["consume"].cpu + timings["insert"].cpu)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="each path is measured this many times")
    arguments = parser.parse_args()
    if arguments.events < (fewest := fewest_events(BATCH, RELAY_BATCH)):
        parser.error(f"--events must be at least {fewest:,}: each path's clock starts after its first batch of up "
                     f"to {max(BATCH, RELAY_BATCH):,} events, and a measure needs {FEWEST_BATCHES} such batches")
    asyncio.run(main(arguments.events, arguments.rounds))
