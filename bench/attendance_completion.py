"""Attendance to completion: N enrolments x 6 sessions published straight to Kafka, the attendance service
running in-process, until the last `course.completed` is on Kafka.

    source <(deploy/local/stack.sh env)
    .venv/bin/python bench/attendance_completion.py               # 2,000 enrolments, 12,000 attendances
    .venv/bin/python bench/attendance_completion.py --enrolments 10000 --batch-size 500

Creates a fresh database and topic prefix, and removes both afterwards. The roster (employee.enrolled) is
loaded first and timed apart; then the clock starts and the attendances are published session by session
(everyone's session 1, then session 2, ...), as biometric systems would report a day at a time. With a 75%
rule, each enrolment completes on its fifth session. Prints attendance events per second until the last
course.completed is published, and the latency from the fifth attendance on Kafka to its course.completed
on Kafka (record timestamps), as percentiles.
"""

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
import uuid

from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from karmayogi_contracts import TOPICS, dead_letter_topic, encode, ids
from karmayogi_runtime import topics
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.service import running

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "services" / "attendance" / "tests"))
from attendance_samples import BatchPlan, attended, enrolled  # noqa: E402

from attendance.main import MIGRATIONS_DIR, definition  # noqa: E402
from attendance.settings import AttendanceSettings  # noqa: E402
from stack import addresses  # noqa: E402
from topic_records import read_since  # noqa: E402

TENANT = "IN-HR"
SEATS = 40  # employees per batch
NAMES = ["सुनीता देवी", "राजेश कुमार", "Pooja Sharma", "Manoj Yadav", "अंजलि सैनी", "Sandeep Malik", "Rekha D'Souza"]


async def publish(bootstrap: str, prefix: str, events, label: str) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=10,
                                max_batch_size=512 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        sends = []
        for event in events:
            record = encode(event)
            sends.append(await producer.send(prefix + record.topic, record.value, key=record.key,
                                             headers=list(record.headers)))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    seconds = time.perf_counter() - started
    print(f"  published {len(sends):,} {label} in {seconds:.1f}s")
    return seconds


async def read_timestamps(bootstrap: str, topic: str) -> dict[str, int]:
    """Subject -> Kafka record timestamp (ms) of every record on `topic`."""
    events = await read_since(bootstrap, topic)
    return {str(event.data.enrolment_id if hasattr(event.data, "completion_id") else event.data.attendance_id): timestamp
            for timestamp, event in events}


async def wait_for(pool: asyncpg.Pool, sql: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        value = await pool.fetchval(sql)
        if value >= expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def main(enrolments: int, batch_size: int, timeout: float) -> None:
    bootstrap, admin_url = addresses()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    name = f"bench_attendance_{uuid.uuid4().hex[:8]}"
    names = [prefix + t for t in TOPICS] + [prefix + dead_letter_topic(t) for t in TOPICS]
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR)
    await topics.create(bootstrap, names, 3)
    try:
        batches = [BatchPlan(centre_name=f"DTC {n}", district=f"District {n % 22}") for n in range(-(-enrolments // SEATS))]
        roster = [(f"HR{n:07d}", batches[n // SEATS]) for n in range(enrolments)]
        settings = AttendanceSettings(database_url=url, kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix,
                                      consumer_batch_size=batch_size, log_level="WARNING")
        print(f"attendance completion: {enrolments:,} enrolments x 6 sessions, consumer batch {batch_size}")
        async with running(definition(settings)) as runtime:
            pool = runtime.pool
            started = time.perf_counter()
            await publish(bootstrap, prefix, [enrolled(e, b, name=NAMES[i % len(NAMES)])
                                              for i, (e, b) in enumerate(roster)], "employee.enrolled")
            loaded = await wait_for(pool, "SELECT count(*) FROM enrolments", enrolments, timeout)
            print(f"  roster of {loaded:,} recorded in {time.perf_counter() - started:.1f}s")

            marks = [attended(e, b, s)
                     for s in range(1, 7) for e, b in roster]
            started = time.perf_counter()
            await publish(bootstrap, prefix, marks, "session.attended")
            done = await wait_for(pool, "SELECT count(*) FROM completions", enrolments, timeout)
            recorded = await wait_for(pool, "SELECT count(*) FROM attendance", len(marks), timeout)
            while await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") and time.perf_counter() - started < timeout:
                await asyncio.sleep(0.05)
            seconds = time.perf_counter() - started
        print(f"  {recorded:,} attendances recorded, {done:,} completions; last course.completed out after {seconds:.1f}s")
        print(f"  => {len(marks) / seconds:,.0f} attendance events/s end to end (publish included)")

        fifth = {str(ids.attendance_id(TENANT, e, b.session_ids()[4])): str(ids.enrolment_id(TENANT, e, b.id))
                 for e, b in roster}
        attended_at = await read_timestamps(bootstrap, prefix + "session.attended")
        completed_at = await read_timestamps(bootstrap, prefix + "course.completed")
        latencies = sorted(completed_at[enrolment] - attended_at[attendance]
                           for attendance, enrolment in fifth.items() if enrolment in completed_at)
        if latencies:
            q = statistics.quantiles(latencies, n=100)
            print(f"  completions on Kafka: {len(completed_at):,}; latency fifth attendance -> course.completed (ms): "
                  f"p50 {q[49]:.0f}, p95 {q[94]:.0f}, p99 {q[98]:.0f}, max {latencies[-1]}")
    finally:
        await topics.delete(bootstrap, names)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrolments", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=int(os.environ.get("BENCH_BATCH_SIZE", 500)))
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.enrolments, args.batch_size, args.timeout))
