"""State-scale replay: a cohort driven through the whole running backend, from the enrolment upload to the
certificate e-mail on disk, beside the raw floor measured in the same run (docs: DESIGN section 6).

    make up && source <(deploy/local/stack.sh env)            # API_KEY too: the services' key it sends
    .venv/bin/python bench/state_replay.py                      # 10,000 employees: 70,000 input events
    .venv/bin/python bench/state_replay.py --employees 50000

Needs the four services running (`make up`). Their peak memory is counted from when they started:
`make down && make up` first gives this run's alone. Not timed: the hubs train and certify twelve master
trainers (as `make demo` does), and the spokes' batches of 40 are set up. Timed: the cohort (Hindi and English
names) is enrolled with one CSV upload; once attendance has each batch's roster, its six sessions are
scheduled, and a biometric NDJSON export (in files of as many lines as one import takes) marks everyone
present at every session. The clock stops when every employee has a certificate and every certificate
e-mail is on disk. Prints:

- input events per second: the enrolments and attendance marks fed in, over the timed part;
- latency percentiles per employee, from the session.attended that completes the course (the fifth of six,
  under the 75% rule) to its certificate.issued, both on Kafka, and to the certificate e-mail on disk;
- each service's CPU time during the timed part, and its peak memory;
- the raw floor for the same number of events: plain aiokafka produce and consume, and a batched
  PostgreSQL insert, with no business logic (`messaging_throughput.raw_floor`).

Each employee gets three e-mails (enrolled, completed, certificate) and as many SMS, and the notifications
service sends them one after another per worker: with many employees, it sets the pace, and a certificate
e-mail waits behind the cohort's earlier ones.
"""

import argparse
import asyncio
import email.parser
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
from karmayogi_contracts import CertificateIssued, CloudEvent
from karmayogi_runtime import topics

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "demo"))
import scenario  # noqa: E402
from haryana import SESSIONS, Demo  # noqa: E402
from messaging_throughput import BATCH, fewest_events, raw_floor  # noqa: E402
from processes import cpu_seconds, machine_load, peak_rss_mib  # noqa: E402
from stack import addresses, api_key  # noqa: E402
from topic_records import read_since  # noqa: E402

SERVICES = {"enrolment": 8101, "attendance": 8102, "certification": 8103, "notifications": 8104}
COMPLETING_SESSION = 5  # of six, under the course's 75% rule


def service_pid(data_dir: Path, name: str) -> int:
    """The process of a service the local stack runs."""
    pid_file = data_dir / "run" / f"{name}.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else 0
    if not pid or not Path(f"/proc/{pid}").exists():
        raise SystemExit(f"the {name} service is not running; start the backend with `make up` first")
    return pid


def first_by_id(events: list[tuple[int, CloudEvent]]) -> dict[str, tuple[int, CloudEvent]]:
    """Each event once (a relay may publish one twice after a crash), at its first timestamp."""
    first: dict[str, tuple[int, CloudEvent]] = {}
    for timestamp, event in sorted(events, key=lambda pair: pair[0]):
        first.setdefault(str(event.id), (timestamp, event))
    return first


def completing_attendance(attended: list[tuple[int, CloudEvent]], prefix: str) -> dict[str, int]:
    """Employee -> when (ms) the attendance that completed their course reached Kafka, for the employees
    whose ids start with `prefix`."""
    times = defaultdict(list)
    for timestamp, event in first_by_id(attended).values():
        if event.data.employee_id.startswith(prefix):
            times[event.data.employee_id].append(timestamp)
    return {employee: sorted(at)[COMPLETING_SESSION - 1] for employee, at in times.items()
            if len(at) >= COMPLETING_SESSION}


def certificate_mails(mail_dir: Path, since: datetime, delivery_of: dict[str, str]) -> dict[str, int]:
    """Employee -> when (ms) their certificate e-mail was written to disk (its file name's UTC time)."""
    parser, written = email.parser.BytesHeaderParser(), {}
    for path in mail_dir.glob("*.eml"):
        stamp = datetime.strptime(path.name.split("-", 1)[0], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=timezone.utc)
        if stamp < since:
            continue
        with path.open("rb") as handle:
            employee = delivery_of.get(parser.parse(handle).get("X-Karmayogi-Delivery", ""))
        if employee is not None:
            written[employee] = min(written.get(employee, 2**63), int(stamp.timestamp() * 1000))
    return written


def percentiles(latencies: list[int]) -> str:
    if len(latencies) < 2:
        return "n/a (fewer than two)"
    q, worst = statistics.quantiles(latencies, n=100), max(latencies)
    return f"p50 {q[49]:,.0f}  p95 {q[94]:,.0f}  p99 {q[98]:,.0f}  max {worst:,} ms ({len(latencies):,} employees)"


CERTIFICATE_EMAILS = """
    FROM deliveries WHERE event_type = $1 AND channel = 'email' AND status = 'sent' AND starts_with(employee_id, $2)
"""


async def certificates_this_run(demo: Demo) -> int:
    """This run's certificates, the master trainers' included: read alone, as the demo's other figures (the
    state's progress, the mail folder) would be work beside the run being timed."""
    return await demo.certificates_issued() - demo.baseline["certificates"]


async def reach(count: Callable[[], Awaitable[int]], target: int, what: str, timeout: float) -> int:
    """Read `count()` twice a second until it reaches `target`, and return it; stop the run after `timeout`
    seconds, saying how far it got."""
    deadline = time.monotonic() + timeout
    while (reached := await count()) < target:
        if time.monotonic() > deadline:
            raise SystemExit(f"{reached:,} of {target:,} {what} after {timeout:.0f}s")
        await asyncio.sleep(0.5)
    return reached


async def sent_certificate_emails(notifications: asyncpg.Connection, prefix: str) -> int:
    return await notifications.fetchval(f"SELECT count(*) {CERTIFICATE_EMAILS}", CertificateIssued.event_type, prefix)


async def certificate_deliveries(notifications: asyncpg.Connection, prefix: str) -> dict[str, str]:
    """Delivery id -> employee, for the certificate e-mails sent to the employees whose ids start with `prefix`."""
    rows = await notifications.fetch(f"SELECT id::text, employee_id {CERTIFICATE_EMAILS}", CertificateIssued.event_type,
                                     prefix)
    return {row["id"]: row["employee_id"] for row in rows}


async def run(employees: int, timeout: float) -> None:
    bootstrap, admin_url = addresses()
    key = api_key()
    data_dir = Path(os.environ.get("LOCAL_DATA_DIR", ROOT / ".local"))
    pids = {name: service_pid(data_dir, name) for name in SERVICES}
    run_id = datetime.now(timezone.utc).strftime("%m%d%H%M%S")
    demo = Demo({name: f"http://127.0.0.1:{port}" for name, port in SERVICES.items()}, data_dir, employees, run_id,
                key, counts_messages=False)  # no mail folder read beside the timed run: the database counts the e-mails
    notifications = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + "/notifications")
    try:
        await demo.measure()  # the baseline: what earlier runs left
        spokes, course, masters = await demo.train_the_trainers(None)
        cohort = f"SR{run_id}"
        people = scenario.employees(employees, prefix=cohort)
        ids_start = f"{cohort}-"  # every id of this cohort, and no other
        batches = await demo.spoke_batches(course, spokes, masters, people)
        with_email = sum(1 for person in people if person.email)
        print(f"{employees:,} employees in {len(batches)} batches at {len(spokes)} spokes; "
              f"{len(masters)} master trainers certified at the hubs")

        start = {t: await topics.end_offsets(bootstrap, [t]) for t in ("session.attended", "certificate.issued")}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        since, started = datetime.now(timezone.utc), time.perf_counter()
        job = await demo.enrol(people, {person.id: batch["id"] for batch, group in batches for person in group})
        marks = await demo.marks(batches, {})  # waits for each batch's roster in attendance
        await demo.attend(marks)
        certified = await reach(lambda: certificates_this_run(demo), len(masters) + job["accepted"],
                                "certificates issued", timeout)
        await reach(lambda: sent_certificate_emails(notifications, ids_start), with_email,
                    "certificate e-mails sent", timeout)
        elapsed = time.perf_counter() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        peak = {name: peak_rss_mib(pid) for name, pid in pids.items()}

        attended = await read_since(bootstrap, "session.attended", start["session.attended"])
        completed_at = completing_attendance(attended, ids_start)
        issued = first_by_id(await read_since(bootstrap, "certificate.issued", start["certificate.issued"]))
        issued_at = {event.data.employee_id: timestamp for timestamp, event in issued.values()}
        delivery_of = await certificate_deliveries(notifications, ids_start)
        mailed_at = certificate_mails(data_dir / "mail", since, delivery_of)
    finally:
        await notifications.close()
        for client in demo.http.values():
            await client.aclose()

    inputs = job["accepted"] + len(marks)
    floor = await raw_floor(bootstrap, admin_url, inputs)
    print(f"\ninput: {job['accepted']:,} enrolments + {len(marks):,} attendance marks = {inputs:,} events; "
          f"{certified - len(masters):,} certificates, {len(delivery_of):,} certificate e-mails")
    print(f"end to end: {elapsed:.1f} s, {inputs / elapsed:,.0f} input events/s "
          f"(raw floor for {inputs:,} events: {inputs / floor.wall:,.0f} events/s, produce + consume + insert)")
    print(f"latency, completing attendance -> certificate.issued on Kafka: "
          f"{percentiles([issued_at[e] - t for e, t in completed_at.items() if e in issued_at])}")
    print(f"latency, completing attendance -> certificate e-mail on disk: "
          f"{percentiles([mailed_at[e] - t for e, t in completed_at.items() if e in mailed_at])}")
    print(f"\n{'service':<16}{'CPU in the run':>16}{'peak memory':>14}")
    for name in SERVICES:
        print(f"{name:<16}{cpu[name]:>14.1f} s{peak[name]:>10.0f} MiB")
    print(f"\n{machine_load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for each stage")
    arguments = parser.parse_args()
    # Each employee is an enrolment and an attendance mark per session: the input the raw floor is measured on.
    if arguments.employees * (1 + SESSIONS) < (fewest := fewest_events(BATCH)):
        parser.error(f"--employees must be at least {-(-fewest // (1 + SESSIONS)):,}: the raw floor printed beside "
                     f"the run needs {fewest:,} input events (an enrolment and {SESSIONS} attendance marks each)")
    asyncio.run(run(arguments.employees, arguments.timeout))
