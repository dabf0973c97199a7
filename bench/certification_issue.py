"""Certificates issued per second, and the verification page's latency under load.

    source <(deploy/local/stack.sh env)
    .venv/bin/python bench/certification_issue.py [--completions 5000] [--requests 600]

A fresh database and topic prefix; N `course.completed` events published straight to Kafka; the service
running in-process; the clock runs from the first certificate to the last `certificate.issued`
acknowledged by Kafka (outbox drained). Then the public verification page is served over loopback by
uvicorn and requested by 8 concurrent clients: latency percentiles.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import uvicorn
from karmayogi_contracts import dead_letter_topic, encode, ids
from karmayogi_runtime import topics
from karmayogi_runtime.broker import create_producer
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.service import create_http_app, running

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "certification" / "tests"))
from certification_samples import ADMIN_TOKEN, completed  # noqa: E402

from certification.main import MIGRATIONS_DIR, definition  # noqa: E402
from certification.settings import CertificationSettings  # noqa: E402
from stack import addresses  # noqa: E402


async def main(count: int, requests: int) -> None:
    bootstrap, admin_url = addresses()
    prefix, database = f"bench{uuid.uuid4().hex[:6]}.", f"bench_{uuid.uuid4().hex[:8]}"
    names = [prefix + t for t in ("course.completed", "certificate.issued", "certificate.revoked")]
    await topics.create(bootstrap, names + [dead_letter_topic(n) for n in names], 6)
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    # The service keeps its private signing key there: removed with the rest when the run ends.
    data_dir = tempfile.TemporaryDirectory(prefix=f"{database}-")
    try:
        await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR)
        settings = CertificationSettings(database_url=url, kafka_bootstrap_servers=bootstrap,
                                         kafka_topic_prefix=prefix, admin_token=ADMIN_TOKEN,
                                         local_data_dir=data_dir.name, log_level="WARNING")
        service = definition(settings)
        events = [completed("क्षितिज द्विवेदी" if n % 2 else "Harjeet Singh") for n in range(count)]
        async with running(service) as runtime:
            producer = create_producer(settings, client_id="bench-publisher")
            await producer.start()
            records = [encode(e) for e in events]
            sends = [await producer.send(prefix + r.topic, r.value, key=r.key, headers=list(r.headers)) for r in records]
            await asyncio.gather(*sends)
            await producer.stop()
            while not await runtime.pool.fetchval("SELECT count(*) FROM certificates"):
                await asyncio.sleep(0.01)
            started, first = time.perf_counter(), await runtime.pool.fetchval("SELECT count(*) FROM certificates")
            while (await runtime.pool.fetchval("SELECT count(*) FROM certificates") < count
                   or await runtime.pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")):
                await asyncio.sleep(0.02)
            issuing = time.perf_counter() - started
            latencies = await _page_load(service, runtime, events[:50], requests)
    finally:
        data_dir.cleanup()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        await topics.delete(bootstrap, names + [dead_letter_topic(n) for n in names])
    if first > count // 2:
        raise SystemExit(f"{first:,} of the {count:,} certificates were issued before the clock could start: "
                         "too few to measure a rate; run with more --completions")
    rate = (count - first) / issuing
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"\n{count:,} course.completed -> certificate.issued: {rate:,.0f} certificates/s "
          f"({issuing:.1f}s from the first certificate to the last acknowledged event)")
    print(f"verification page, {len(latencies)} requests, 8 clients: p50 {quantiles[49] * 1000:.1f} ms, "
          f"p95 {quantiles[94] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms")


async def _page_load(service, runtime, sample, requests: int) -> list[float]:
    server = uvicorn.Server(uvicorn.Config(create_http_app(service, runtime), host="127.0.0.1", port=0,
                                           log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    paths = [f"/verify/{ids.certificate_id('IN-HR', e.data.enrolment_id)}" for e in sample]
    latencies: list[float] = []

    async def client(worker: int) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for n in range(worker, requests, 8):
                started = time.perf_counter()
                response = await http.get(paths[n % len(paths)])
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200

    await asyncio.gather(*(client(w) for w in range(8)))
    server.should_exit = True
    await serving
    return latencies


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Certificates per second and verification page latency.")
    parser.add_argument("--completions", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=600)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.completions, arguments.requests))
