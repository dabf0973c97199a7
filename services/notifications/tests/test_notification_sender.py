"""The sender loop on real PostgreSQL and the local SMS gateway: a claim that outlives its lease sends
nothing twice, an attempt is a send that really started, and a claim reads only its own channel's backlog."""

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import timedelta

import asyncpg
import pytest

from notifications import repository
from notifications import sender as sender_module
from notifications.domain import claim_size
from notifications.main import MIGRATIONS_DIR
from notifications.sender import ChannelSender
from notifications.settings import NotificationsSettings
from notifications.transports import SmsGatewayTransport, SmtpTransport


@pytest.mark.unit
def test_a_worker_claims_no_more_than_its_share_of_the_rate_can_send_within_the_lease():
    assert claim_size(100, per_second=5, lease_seconds=2, workers=2) == 5
    assert claim_size(100, per_second=50, lease_seconds=120, workers=2) == 100  # the defaults: the batch size
    assert claim_size(100, per_second=0.1, lease_seconds=2, workers=2) == 1  # always at least one


@pytest.mark.integration
async def test_every_replica_takes_its_send_slots_from_one_sequence_per_channel(database):
    """Two replicas (two connections) sending SMS at once get slots one interval apart between them, so the
    gateway sees the configured rate, not the rate times the pods; the e-mail slots are a sequence of their own."""
    url, connection = database
    replicas = [await asyncpg.connect(url) for _ in range(2)]

    async def ten_sends(replica):
        return [await repository.reserve_slot(replica, "sms", 0.1) for _ in range(10)]

    try:
        taken = [slot for slots in await asyncio.gather(*map(ten_sends, replicas)) for slot in slots]
        [(email_slot, email_wait)] = [await repository.reserve_slot(connection, "email", 0.02)]
    finally:
        for replica in replicas:
            await replica.close()

    slots = sorted(slot for slot, _ in taken)
    assert {later - earlier for earlier, later in zip(slots, slots[1:])} == {timedelta(seconds=0.1)}
    assert max(wait for _, wait in taken) >= 1.8  # the twentieth slot is 19 intervals after the first
    assert email_wait == 0 and email_slot < slots[-1]  # not queued behind the SMS


ADD_DUE = """
    INSERT INTO deliveries (id, tenant, employee_id, event_id, event_type, channel, recipient, address, language,
                            subject, body_text, body_html, status)
    SELECT gen_random_uuid(), 'IN-HR', 'E' || g, gen_random_uuid(), 'karmayogi.employee.enrolled.v1', $1,
           'IN-HR:E' || g, $2, 'en', 'Enrolled', 'You are enrolled.', '<p>You are enrolled.</p>', 'pending'
    FROM generate_series(1, $3) g
"""


@pytest.fixture
async def database(database_factory):
    """A private, migrated database: (url, an open connection)."""
    url = await database_factory(MIGRATIONS_DIR)
    connection = await asyncpg.connect(url)
    yield url, connection
    await connection.close()


def sender_settings(url: str, **overrides) -> NotificationsSettings:
    return NotificationsSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:9", sender_idle_seconds=0.1,
                                 **overrides)


@pytest.mark.integration
async def test_a_batch_slower_than_its_lease_is_not_sent_twice_by_the_other_worker(database, local_mail, monkeypatch):
    # 30 SMS, two workers sharing 5 SMS/s, a 3 s lease. claim_size would keep each claim to what the worker's
    # share of the rate sends within the lease (7 rows); a claim of every row stands for a worker slowed
    # beyond that (a slow gateway, a paused pod): the first worker claims all 30, sends about 15 within its
    # lease, and the other worker claims the rest again. The first worker must then skip them.
    url, connection = database
    await connection.execute(ADD_DUE, "sms", "+919812345678", 30)
    settings = sender_settings(url, sms_gateway_url=f"http://127.0.0.1:{local_mail.sms_port}", sms_per_second=5,
                               sending_lease_seconds=3, sms_timeout_seconds=0.5, smtp_timeout_seconds=0.25)
    claims: dict[uuid.UUID, set[uuid.UUID]] = {}
    claim_due = repository.claim_due

    async def recorded_claim(*args, **kwargs):
        rows = await claim_due(*args, **kwargs)
        for row in rows:
            claims.setdefault(row["id"], set()).add(row["claim"])
        return rows

    monkeypatch.setattr(repository, "claim_due", recorded_claim)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    senders = [ChannelSender(pool, "sms", settings, SmsGatewayTransport(settings)) for _ in range(2)]
    for sender in senders:
        sender.claim_size = 100
    tasks = [asyncio.create_task(sender.run()) for sender in senders]
    try:
        sent = "SELECT count(*) FROM deliveries WHERE status = 'sent'"
        for _ in range(200):
            if await connection.fetchval(sent) == 30:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(3.5)  # a lease longer: time for a late worker to send a row again
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(sender.transport.close() for sender in senders))
        await pool.close()

    assert any(len(tokens) > 1 for tokens in claims.values()), "no row outlived its lease: the test tested nothing"
    references = Counter(sms["reference"] for sms in local_mail.sms())
    assert len(references) == 30 and set(references.values()) == {1}, references
    assert await connection.fetchval("SELECT array_agg(DISTINCT attempts) FROM deliveries") == [1]


@pytest.mark.integration
async def test_a_worker_whose_claim_was_taken_over_neither_marks_the_row_sending_nor_records_its_outcome(database):
    url, connection = database
    await connection.execute(ADD_DUE, "email", "a@hry.gov.in", 1)
    [late] = await repository.claim_due(connection, "email", 10, lease_seconds=0.05)
    await asyncio.sleep(0.1)  # its lease runs out before the late worker reaches the row
    [taken] = await repository.claim_due(connection, "email", 10, lease_seconds=60)
    assert taken["id"] == late["id"] and taken["claim"] != late["claim"]

    assert await repository.mark_sending(connection, late["id"], late["claim"], 60) is None
    await repository.record_outcome(connection, late["id"], late["claim"], "failed", "from the late worker")
    assert await connection.fetchval("SELECT status FROM deliveries") == "pending"

    assert await repository.mark_sending(connection, taken["id"], taken["claim"], 60) == 1
    await repository.record_outcome(connection, taken["id"], taken["claim"], "sent", None)
    assert await connection.fetchval("SELECT status FROM deliveries") == "sent"


class NeverCalled:
    async def send(self, row) -> None:
        raise AssertionError(f"sent {row['id']}, a row another worker holds")

    async def close(self) -> None:
        pass


@pytest.mark.integration
async def test_a_worker_that_lost_its_rows_spends_none_of_the_channels_rate_on_them(database, monkeypatch):
    url, connection = database
    await connection.execute(ADD_DUE, "email", "a@hry.gov.in", 5)
    claim_due = repository.claim_due

    async def claimed_then_taken_over(connection, channel, limit, lease_seconds):
        rows = await claim_due(connection, channel, limit, lease_seconds=0)  # our lease runs out at once
        await claim_due(connection, channel, limit, lease_seconds=60)  # and another worker claims them
        return rows

    monkeypatch.setattr(repository, "claim_due", claimed_then_taken_over)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    # One e-mail a second: a slot spent per lost row would take 4 s and hold back the others.
    sender = ChannelSender(pool, "email", sender_settings(url, email_per_second=1), NeverCalled())
    try:
        started = time.monotonic()
        assert await sender.run_once() == 5
    finally:
        await pool.close()
    assert time.monotonic() - started < 1
    assert await connection.fetchval("SELECT count(*) FROM send_slots") == 0  # no slot taken from the others
    untouched = "SELECT array_agg(DISTINCT status || ':' || attempts) FROM deliveries"
    assert await connection.fetchval(untouched) == ["pending:0"]  # held by the other worker, not marked by us


@pytest.mark.integration
async def test_a_row_whose_lease_ran_out_while_it_waited_for_its_slot_is_left_to_the_worker_that_took_it(
    database, monkeypatch
):
    url, connection = database
    await connection.execute(ADD_DUE, "email", "a@hry.gov.in", 1)

    async def a_long_wait(self, sender_connection) -> float:
        # Far more senders than slots: the lease marking gave ran out, and another worker claimed the row.
        await connection.execute("UPDATE deliveries SET next_attempt_at = now()")
        assert len(await repository.claim_due(connection, "email", 10, lease_seconds=60)) == 1
        return sender_module.SLOT_WAIT_COVERED_SECONDS + 1

    monkeypatch.setattr(sender_module.SendSlots, "wait", a_long_wait)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        assert await ChannelSender(pool, "email", sender_settings(url), NeverCalled()).run_once() == 1
    finally:
        await pool.close()
    assert await connection.fetchval("SELECT status FROM deliveries") == "sending"  # the other worker's to send


@pytest.mark.integration
async def test_attempts_count_sends_not_claims(database, helpers):
    # The relay is away (nothing listens on the port): the first row of the batch is tried, the rest wait.
    url, connection = database
    await connection.execute(ADD_DUE, "email", "a@hry.gov.in", 3)
    for _ in range(2):  # claimed twice and never sent (a lease that ran out): no attempt yet
        await repository.claim_due(connection, "email", 10, lease_seconds=0)
    assert await connection.fetchval("SELECT sum(attempts) FROM deliveries") == 0

    settings = sender_settings(url, smtp_port=helpers.free_port(), retry_base_seconds=30)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    sender = ChannelSender(pool, "email", settings, SmtpTransport(settings))
    try:
        assert await sender.run_once() == 3
    finally:
        await sender.transport.close()
        await pool.close()

    rows = await connection.fetch("SELECT status, attempts, reason, next_attempt_at - now() AS wait FROM deliveries "
                                  "ORDER BY attempts DESC")
    assert [r["attempts"] for r in rows] == [1, 0, 0]
    assert {r["status"] for r in rows} == {"pending"}
    assert all(r["reason"].startswith("SMTP relay unavailable") for r in rows)
    assert all(25 < r["wait"].total_seconds() <= 30 for r in rows)  # the batch waits as long as the row tried


@pytest.mark.integration
async def test_a_claim_reads_only_its_own_channels_due_rows(database):
    # A large due SMS backlog, older than the e-mails: the e-mail claim must not walk through it.
    url, connection = database
    await connection.execute(ADD_DUE, "sms", "+919812345678", 20000)
    await connection.execute("UPDATE deliveries SET next_attempt_at = now() - interval '1 hour'")
    await connection.execute(ADD_DUE, "email", "a@hry.gov.in", 50)
    await connection.execute("ANALYZE deliveries")
    claiming = connection.transaction()
    await claiming.start()
    try:  # EXPLAIN ANALYZE runs the claim: rolled back
        [plan] = json.loads(await connection.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + repository.CLAIM_DUE, "email", 10, 60.0, uuid.uuid4()))
    finally:
        await claiming.rollback()

    def scans(node):
        if node.get("Index Name") == "deliveries_due_by_channel":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    [due] = list(scans(plan["Plan"]))
    assert "channel" in due["Index Cond"]
    assert due.get("Rows Removed by Filter", 0) == 0
