"""Notifications: events in -> messages delivered per second to the local SMTP server (and SMS gateway).

    source <(deploy/local/stack.sh env)
    .venv/bin/python bench/notifications_delivery.py [--events 2000] [--workers 2]

Needs KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (administrative URL). Creates a private database and topic
prefix, starts `notifications.local_servers` as its own process on free ports with a temporary data
directory, runs the service in-process with rate limits out of the way, publishes N employee.enrolled
events (half Hindi, half English, all with e-mail and mobile) and prints:

- consumed: events turned into delivery rows per second (render, plan, insert; inbox and offsets), the
  new events of each polled batch applied together (`Notifier.handle_many`, a few statements per batch);
- e-mail: messages accepted by the SMTP server per second (from the first publish to the last .eml);
- SMS: messages accepted by the gateway per second (each channel from the first publish to its own last message);
and checks that every message arrived exactly once (by Message-ID / reference): exits non-zero, saying which
channel, when one did not.
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from karmayogi_contracts import TOPICS, EmployeeEnrolled, dead_letter_topic, encode, new_event
from karmayogi_runtime import topics
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.service import running

from notifications.main import MIGRATIONS_DIR, definition
from notifications.settings import NotificationsSettings
from stack import addresses

VECTOR = Path(__file__).resolve().parents[1] / "contracts/examples/employee.enrolled/valid/haryana-hub-master-trainer-hindi-name.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def enrolment(n: int):
    data = json.loads(VECTOR.read_text("utf-8"))["data"]
    hindi = n % 2 == 0
    data.update(enrolment_id=str(uuid.uuid4()))
    data["employee"].update(id=f"HR{n:07d}", name="सुनीता देवी" if hindi else "Rakesh Kumar Singh",
                            email=f"employee{n}@hry.gov.in", mobile=f"+9198{n:08d}",
                            preferred_language="hi" if hindi else "en")
    return new_event(EmployeeEnrolled.model_validate(data), source="/bench/notifications")


# Read in one statement, so each figure is stamped when it reaches its target, whatever the others do.
PROGRESS = """
    SELECT count(*) AS consumed,
           count(*) FILTER (WHERE channel = 'email' AND status = 'sent') AS mailed,
           count(*) FILTER (WHERE channel = 'sms' AND status = 'sent') AS texted
    FROM deliveries
"""


async def finish_times(url: str, targets: dict[str, int], timeout: float) -> dict[str, float]:
    """When (perf_counter) each figure of PROGRESS first reached its target: the channels are watched together,
    so one that finishes first is stamped then, not once the other has finished."""
    connection = await asyncpg.connect(url)
    finished: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    try:
        while True:
            figures, now = await connection.fetchrow(PROGRESS), time.perf_counter()
            finished |= {name: now for name, target in targets.items()
                         if name not in finished and figures[name] >= target}
            if len(finished) == len(targets):
                return finished
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out after {timeout:.0f}s: {dict(figures)}, expected {targets}")
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


def check_exactly_once(expected: int, received: dict[str, Counter]) -> None:
    """Stop with a non-zero exit when a channel's messages, or their distinct references, are not one per
    event: a message lost, sent twice, or not ours."""
    for channel, references in received.items():
        messages, distinct = sum(references.values()), len(references)
        if messages != expected or distinct != expected:
            raise SystemExit(f"{channel}: {messages:,} messages with {distinct:,} distinct references arrived for "
                             f"{expected:,} events, where every message should arrive exactly once")


async def main(n: int, workers: int) -> None:
    bootstrap, admin_url = addresses()
    name, prefix = f"bench_notifications_{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}."
    base, _, _ = admin_url.rpartition("/")
    url = f"{base}/{name}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    names = [prefix + t for t in TOPICS] + [prefix + dead_letter_topic(t) for t in TOPICS]
    await topics.create(bootstrap, names, 3)
    mail_and_sms = tempfile.TemporaryDirectory(prefix="bench-mail-")  # removed at the end, messages and all
    data_dir = Path(mail_and_sms.name)
    smtp_port, sms_port = free_port(), free_port()
    servers = subprocess.Popen([sys.executable, "-m", "notifications.local_servers"], stderr=subprocess.DEVNULL,
                               env={**os.environ, "SMTP_PORT": str(smtp_port), "SMS_HTTP_PORT": str(sms_port),
                                    "LOCAL_DATA_DIR": str(data_dir)})
    try:
        await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR)
        await asyncio.sleep(1.0)  # the servers' process starts meanwhile
        settings = NotificationsSettings(
            database_url=url, kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix, smtp_port=smtp_port,
            sms_gateway_url=f"http://127.0.0.1:{sms_port}", email_per_second=1e6, sms_per_second=1e6,
            sender_workers=workers, sender_idle_seconds=0.05, database_pool_size=4 * workers + 4,
        )
        events = [enrolment(i) for i in range(n)]
        async with running(definition(settings)):
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
            await producer.start()
            started = time.perf_counter()
            for event in events:
                record = encode(event)
                await producer.send(prefix + record.topic, record.value, key=record.key, headers=list(record.headers))
            await producer.flush()
            await producer.stop()
            published = time.perf_counter()
            finished = await finish_times(url, {"consumed": 2 * n, "mailed": n, "texted": n}, 600)
        consumed, mailed, texted = finished["consumed"], finished["mailed"], finished["texted"]
        ids = Counter(path.stem.rsplit("-", 1)[1] for path in (data_dir / "mail").glob("*.eml"))
        sms = [json.loads(line) for line in (data_dir / "sms" / "messages.ndjson").read_text().splitlines()]
        references = Counter(s["reference"] for s in sms)
        print(f"notifications delivery benchmark: {n} employee.enrolled events, {workers} sender workers per channel")
        print(f"  published      {n / (published - started):8.0f} events/s")
        print(f"  consumed       {n / (consumed - started):8.0f} events/s (delivery rows written, {2 * n} rows)")
        print(f"  e-mail sent    {n / (mailed - started):8.0f} messages/s to the local SMTP server (end to end)")
        print(f"  SMS sent       {n / (texted - started):8.0f} messages/s to the local gateway (end to end)")
        print(f"  .eml files {sum(ids.values())}, distinct Message-IDs {len(ids)}; SMS {len(sms)}, "
              f"distinct references {len(references)}")
        check_exactly_once(n, {"e-mail": ids, "SMS": references})
    finally:
        servers.terminate()
        servers.wait(10)
        mail_and_sms.cleanup()
        await topics.delete(bootstrap, names)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.workers))
