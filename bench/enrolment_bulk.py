"""Bulk enrolment at state scale: a CSV of N employees uploaded through the enrolment service's HTTP API.

    .venv/bin/python bench/enrolment_bulk.py                 # a quick run (20,000 rows)
    .venv/bin/python bench/enrolment_bulk.py --rows 300000   # Haryana's whole workforce
    .venv/bin/python bench/enrolment_bulk.py --url http://127.0.0.1:8101   # against a running service

Needs KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (an administrative URL), as `source <(deploy/local/stack.sh env)`
exports them. Unless --url is given, it creates a fresh database and topic prefix, starts
`karmayogi-enrolment run` as a child process with an all-states API key of its own (API_KEYS), and removes
both afterwards. With --url, it sends the key in API_KEY (a key of IN-HR or of every state, `*`, among the
service's API_KEYS), which `deploy/local/stack.sh env` exports for the local stack.

It writes the CSV (Hindi and English names, Haryana districts and departments) to a temporary file, streams
it to POST /v1/states/IN-HR/bulk-enrolments, then waits until the outbox is drained and counts the records
on the employee.enrolled topic. Prints: rows per second of the upload, time until the last employee.enrolled
is on Kafka, rows per second end to end, and the service's peak memory and CPU time.
"""

import argparse
import asyncio
import csv
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from karmayogi_runtime import topics
from karmayogi_contracts import TOPICS, dead_letter_topic

from processes import cpu_seconds, machine_load, peak_rss_mib
from stack import addresses, api_key

TENANT = "IN-HR"
COLUMNS = ["employee_id", "name", "email", "mobile", "preferred_language", "department", "designation", "district",
           "batch_id"]
HINDI_FIRST = ["सुनीता", "राजेश", "अमित", "पूजा", "मनोज", "अंजलि", "सुरेश", "कविता", "विकास", "नेहा", "संदीप", "ममता",
               "रमेश", "प्रियंका", "दीपक", "सरोज", "अनिल", "रेखा", "जगदीश", "सीमा"]
HINDI_LAST = ["देवी", "कुमार", "शर्मा", "यादव", "सैनी", "मलिक", "गुप्ता", "चौधरी", "जांगड़ा", "राठी", "दहिया", "हुड्डा"]
LATIN_FIRST = ["Sunita", "Rajesh", "Amit", "Pooja", "Manoj", "Anjali", "Suresh", "Kavita", "Vikas", "Neha", "Sandeep",
               "Mamta", "Ramesh", "Priyanka", "Deepak", "Saroj", "Anil", "Rekha", "Jagdish", "Seema"]
LATIN_LAST = ["Devi", "Kumar", "Sharma", "Yadav", "Saini", "Malik", "Gupta", "Chaudhary", "Jangra", "Rathee", "Dahiya",
              "Hooda", "D'Souza"]
DISTRICTS = ["Ambala", "Bhiwani", "Faridabad", "Fatehabad", "Gurugram", "Hisar", "Jhajjar", "Jind", "Kaithal",
             "Karnal", "Kurukshetra", "Mahendragarh", "Nuh", "Palwal", "Panchkula", "Panipat", "Rewari", "Rohtak",
             "Sirsa", "Sonipat", "Yamunanagar", "Charkhi Dadri"]
DEPARTMENTS = [("Revenue and Disaster Management", ["Patwari", "Naib Tehsildar", "Kanungo"]),
               ("School Education", ["PGT Mathematics", "TGT Hindi", "Headmaster"]),
               ("Health and Family Welfare", ["Staff Nurse", "Medical Officer", "ANM"]),
               ("Home", ["Sub Inspector", "Head Constable", "ASI"]),
               ("Development and Panchayats", ["Gram Sachiv", "Block Development Officer"])]
BATCH_SIZE = 1000  # seats per batch


def write_csv(path: Path, rows: int, batch_ids: list[str], seed: int = 7) -> None:
    """Stream the rows to `path` (never all in memory)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(rows):
            hindi = rng.random() < 0.5
            first, last = (HINDI_FIRST, HINDI_LAST) if hindi else (LATIN_FIRST, LATIN_LAST)
            i, j = rng.randrange(len(first)), rng.randrange(len(last))
            name = f"{first[i]} {last[j]}"
            email_name = f"{LATIN_FIRST[i % len(LATIN_FIRST)]}.{LATIN_LAST[j % len(LATIN_LAST)]}".lower().replace("'", "")
            department, designations = rng.choice(DEPARTMENTS)
            writer.writerow([f"HR{n:07d}", name, f"{email_name}{n}@hry.gov.in" if rng.random() < 0.8 else "",
                             f"+9198{rng.randrange(10**8):08d}", "hi" if hindi else "en", department,
                             rng.choice(designations), rng.choice(DISTRICTS), batch_ids[n // BATCH_SIZE]])


async def set_up_batches(client: httpx.AsyncClient, count: int) -> list[str]:
    base = f"/v1/states/{TENANT}"

    async def post(path: str, body: dict) -> dict:
        response = await client.post(base + path, json=body)
        response.raise_for_status()
        return response.json()

    hub = await post("/centres", {"name": "HIPA Gurugram", "tier": "hub", "district": "Gurugram"})
    spokes = [await post("/centres", {"name": f"DTC {d}", "tier": "spoke", "district": d, "hub_id": hub["id"]})
              for d in DISTRICTS]
    course = await post("/courses", {
        "title": "Karmayogi Induction: Citizen-Centric Governance", "family": "citizen-centric-governance",
        "competencies": [{"name": "Citizen centricity", "kind": "behavioural"}, {"name": "Office procedure", "kind": "functional"}],
        "completion_rule": {"minimum_attendance_percent": 75}})
    start = date.today() + timedelta(days=14)
    batches = []
    for n in range(count):
        centre = spokes[n % len(spokes)]
        batch = await post("/batches", {
            "course_id": course["id"], "centre_id": centre["id"], "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=5)).isoformat(), "capacity": BATCH_SIZE, "mode": "blended",
            "sessions_planned": 6})
        batches.append(batch["id"])
    return batches


async def stream_file(path: Path):
    with path.open("rb") as handle:
        while piece := handle.read(256 * 1024):
            yield piece


async def outbox_pending(client: httpx.AsyncClient) -> int:
    return (await client.get("/health/ready")).json().get("outbox", {}).get("pending", -1)


async def count_topic(bootstrap: str, topic: str) -> int:
    partitions = await topics.partitions(bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        begin, end = await consumer.beginning_offsets(partitions), await consumer.end_offsets(partitions)
        return sum(end[p] - begin[p] for p in partitions)
    finally:
        await consumer.stop()


def cpu_time(pid: int | None) -> str:
    """User and system CPU time the service has used so far (start-up and batch set-up included)."""
    return "n/a" if pid is None else f"{cpu_seconds(pid):.1f} s"


def peak_memory(pid: int | None) -> str:
    return "n/a (service not started by the benchmark)" if pid is None else f"{peak_rss_mib(pid):.0f} MiB"


async def run(args: argparse.Namespace) -> None:
    bootstrap, admin_url = addresses()
    prefix, database, child = "", None, None
    url = args.url
    if url is not None:
        key = api_key()
    else:
        key = secrets.token_hex(32)  # the service started here gives this key alone, for every state
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        database = f"bench_enrolment_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.close()
        await topics.create(bootstrap, [prefix + t for t in TOPICS] + [prefix + dead_letter_topic(t) for t in TOPICS], 3)
        port = args.port
        env = {**os.environ, "DATABASE_URL": admin_url.rsplit("/", 1)[0] + "/" + database, "HTTP_PORT": str(port),
               "KAFKA_TOPIC_PREFIX": prefix, "LOG_LEVEL": "WARNING", "API_KEYS": f"*:{key}"}
        child = subprocess.Popen([str(Path(sys.executable).parent / "karmayogi-enrolment"), "run"], env=env)
        url = f"http://127.0.0.1:{port}"
    topic = prefix + "employee.enrolled"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=None, headers={"Authorization": f"Bearer {key}"}) as client:
            for _ in range(300):
                try:
                    if (await client.get("/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            batch_ids = await set_up_batches(client, -(-args.rows // BATCH_SIZE))
            already = await count_topic(bootstrap, topic)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "employees.csv"
                write_csv(path, args.rows, batch_ids)
                size = path.stat().st_size
                print(f"file: {args.rows:,} rows, {size / 2**20:.1f} MiB, {len(batch_ids)} batches at {len(DISTRICTS)} spokes")
                started = time.perf_counter()
                response = await client.post(f"/v1/states/{TENANT}/bulk-enrolments", content=stream_file(path),
                                             headers={"content-type": "text/csv"})
                uploaded = time.perf_counter() - started
            job = response.json()
            print(f"job {job.get('id')}: {job.get('status')}, accepted {job.get('accepted')}, duplicate "
                  f"{job.get('duplicate')}, rejected {job.get('rejected')}")
            while await outbox_pending(client) != 0:
                await asyncio.sleep(0.05)
            drained = time.perf_counter() - started
        on_kafka = await count_topic(bootstrap, topic) - already
        print(f"upload and import: {uploaded:.1f} s, {args.rows / uploaded:,.0f} rows/s")
        print(f"last employee.enrolled on Kafka: {drained:.1f} s after the upload began, "
              f"{args.rows / drained:,.0f} rows/s end to end ({on_kafka:,} records on {topic})")
        print(f"service peak memory (RSS): {peak_memory(child.pid if child else None)}, CPU time: "
              f"{cpu_time(child.pid if child else None)}")
        print(machine_load())
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=30)
            await topics.delete(bootstrap, [prefix + t for t in TOPICS] + [prefix + dead_letter_topic(t) for t in TOPICS])
            admin = await asyncpg.connect(admin_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="employees in the file (default 20,000)")
    parser.add_argument("--url", help="a running enrolment service (default: start one on a fresh database)")
    parser.add_argument("--port", type=int, default=8191, help="port of the service the benchmark starts")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
