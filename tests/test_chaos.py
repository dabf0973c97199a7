"""Chaos: while a cohort flows through the four services, every service is SIGKILLed at random moments
(at least twice each) and restarted, Kafka is restarted once and PostgreSQL once, through the stack
scripts. Afterwards nothing is lost and nothing is doubled."""

import asyncio
import csv
import io
import random
from collections import Counter

import asyncpg
import httpx
import pytest
from karmayogi_contracts import TOPICS, KafkaRecord, dead_letter_topic
from karmayogi_runtime.dead_letter_topics import read_dead_letters, read_records

from system_harness import SERVICES, STATE, TENANT, consumer_groups, consumer_lag, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BATCHES, PER_BATCH, POISON = 3, 40, 5


async def test_nothing_is_lost_or_doubled_while_services_are_killed_and_kafka_and_postgresql_restart(
    system, training, local_stack, capsys
):
    rng = random.Random(11)
    hub = await training.centre("hub", district="Gurugram")
    course = await training.course()
    batches = [(await training.batch(course, hub)).json() for _ in range(BATCHES)]
    people = {b["id"]: [f"HR-{training.run}-{b['id'][:4]}-{n:03d}" for n in range(PER_BATCH)] for b in batches}
    await training.call("enrolment", "POST", f"{STATE}/bulk-enrolments", content=_csv(people),
                        headers={"content-type": "text/csv"})
    poison = [KafkaRecord(topic, f"{TENANT}:poison-{n}".encode(), (("content-type", b"application/json"),), b"{oops")
              for topic in ("session.attended", "course.completed") for n in range(POISON)]
    await publish(system.kafka_bootstrap, system.prefix, poison)
    groups = consumer_groups(system)
    # One dead letter per group that reads the poison's topic (course.completed: certification and
    # notifications), and nothing else on any dead-letter topic.
    poison_due = Counter((group, r.topic, r.key.decode()) for r in poison for group, topics in groups.items()
                         if r.topic in topics)
    assert {(topic, key) for _, topic, key in poison_due} == {(r.topic, r.key.decode()) for r in poison}

    restarts_before = local_stack.restarts.copy()
    chaos = asyncio.create_task(_chaos(system, local_stack, rng))
    for batch in batches:
        sessions = await _retry(lambda b=batch: training.sessions(b["id"], roster=PER_BATCH, timeout=300))
        for session in sessions[:5]:
            await _retry(lambda s=session, b=batch: training.attend(s, people[b["id"]]))
    await chaos
    await system.ready()

    total = BATCHES * PER_BATCH
    figures = await _settle(system, training, total, groups)
    restarts = local_stack.restarts - restarts_before
    with capsys.disabled():  # shown in the run's output even when the test passes
        print("\nchaos:", {"kills": dict(system.kills), "restarts": dict(restarts), **figures})
    assert figures["attendance roster"] == total and figures["notification contacts"] == total
    assert figures["certificates"] == figures["completions"] == total
    assert figures["certificate.issued distinct"] == total
    assert figures["deliveries sent"] == figures["deliveries expected"]
    assert figures["mails distinct"] == 3 * total  # welcome, completion, certificate
    assert figures["mail duplicates"] <= system.kills.get("notifications", 0)  # only a message cut mid-send
    # The same for SMS (every employee has a mobile), counted at the gateway by the delivery's idempotency
    # key: each message once, a second copy only of one cut mid-send by a kill (notifications README).
    assert figures["sms distinct"] == figures["sms deliveries"] == 3 * total
    assert figures["sms not of a delivery"] == 0 and figures["sms copies that differ"] == 0
    assert figures["sms duplicates"] <= system.kills.get("notifications", 0)
    assert figures["dead letters"] == poison_due
    assert figures["outbox pending"] == 0
    assert figures["groups that never committed"] == []
    assert figures["consumer lag"] == 0
    assert all(system.kills.get(s, 0) >= 2 for s in SERVICES)
    assert restarts["kafka"] >= 1 and restarts["postgres"] >= 1


async def _chaos(system, local_stack, rng) -> None:
    """Two SIGKILLs of every service, in random order at random moments, and one restart each of Kafka
    and PostgreSQL through the project's stack script."""
    plan = [s for s in SERVICES for _ in range(2)] + ["kafka", "postgres"]
    rng.shuffle(plan)
    for victim in plan:
        await asyncio.sleep(rng.uniform(1, 4))
        if victim in ("kafka", "postgres"):
            await asyncio.to_thread(local_stack.restart, victim)
        else:
            system.kill(victim)
            await asyncio.sleep(rng.uniform(0, 2))
            system.start(victim)


async def _retry(action, attempts: int = 60):
    """As a state system does: an API that is down for a moment is called again."""
    for attempt in range(attempts):
        try:
            return await action()
        except (httpx.HTTPError, AssertionError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(2)


async def _settle(system, training, total: int, groups: dict[str, tuple[str, ...]], timeout: float = 300) -> dict:
    async def settled():
        figures = await _figures(system, groups)
        done = (figures["certificates"] >= total and figures["mails distinct"] >= 3 * total
                and figures["sms distinct"] >= 3 * total
                and figures["outbox pending"] == 0 and figures["consumer lag"] == 0
                and not figures["groups that never committed"]
                and figures["deliveries sent"] == figures["deliveries expected"])
        return figures if done else None

    try:
        return await training.eventually(settled, timeout)
    except AssertionError:
        return await _figures(system, groups)  # the assertions then say what is missing


async def _figures(system, groups: dict[str, tuple[str, ...]]) -> dict:
    async def rows(service: str, sql: str) -> list:
        connection = await asyncpg.connect(system.databases[service])
        try:
            return await connection.fetch(sql)
        finally:
            await connection.close()

    async def value(service: str, sql: str) -> int:
        return (await rows(service, sql))[0][0]

    pending = sum([await value(s, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") for s in SERVICES])
    mails = Counter(p.name.rsplit("-", 1)[-1] for p in system.mail_dir.glob("*.eml"))
    sms = system.sms_received()
    sms_copies = Counter(m["idempotency_key"] for m in sms)
    sms_deliveries = {str(r["id"]) for r in await rows(
        "notifications", "SELECT id FROM deliveries WHERE channel = 'sms' AND address IS NOT NULL")}
    issued = await read_records(system.kafka_bootstrap, [f"{system.prefix}certificate.issued"])
    letters = await read_dead_letters(system.kafka_bootstrap, [system.prefix + dead_letter_topic(t) for t in TOPICS])
    lag, never_committed = await consumer_lag(system, groups)
    async with system.client("certification") as client:
        certificates = (await client.get(f"/v1/states/{TENANT}/certificates/count")).json()
    return {
        "attendance roster": await value("attendance", "SELECT count(*) FROM enrolments"),
        "completions": await value("attendance", "SELECT count(*) FROM completions"),
        "certificates": certificates["issued"],
        "certificate.issued distinct": len({dict(r.record.headers)["ce_id"] for r in issued}),
        "notification contacts": await value("notifications", "SELECT count(*) FROM contacts"),
        "deliveries expected": await value("notifications", "SELECT count(*) FROM deliveries WHERE address IS NOT NULL"),
        "deliveries sent": await value("notifications", "SELECT count(*) FROM deliveries WHERE status = 'sent'"),
        "mails distinct": len(mails),
        "mail duplicates": sum(n - 1 for n in mails.values()),
        "sms deliveries": len(sms_deliveries),
        "sms distinct": len(sms_copies),
        "sms duplicates": sum(n - 1 for n in sms_copies.values()),
        "sms not of a delivery": sum(m["idempotency_key"] not in sms_deliveries or m["reference"] != m["idempotency_key"]
                                     for m in sms),
        # A resend carries the same reference, recipient and text as the first copy (same delivery row).
        "sms copies that differ": len({(m["idempotency_key"], m["reference"], m["to"], m["text"]) for m in sms})
                                  - len(sms_copies),
        "dead letters": Counter((d.why["consumer_group"], d.why["original_topic"], d.record.key.decode())
                                for d in letters),
        "outbox pending": pending,
        "consumer lag": lag,
        "groups that never committed": never_committed,
    }


def _csv(people: dict[str, list[str]]) -> bytes:
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["employee_id", "name", "email", "mobile", "preferred_language", "department", "designation",
                     "district", "batch_id"])
    for batch_id, ids in people.items():
        for n, employee_id in enumerate(ids):
            name, language = ("क्षितिज द्विवेदी", "hi") if n % 2 else ("Harjeet Singh", "en")
            writer.writerow([employee_id, name, f"{employee_id.lower()}@hry.example.in", "+919812345678", language,
                             "Revenue", "Patwari", "Gurugram", batch_id])
    return rows.getvalue().encode()
