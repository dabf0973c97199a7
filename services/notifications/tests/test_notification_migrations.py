"""Migrations on a database that already has deliveries: 0002, 0004 and 0005 upgrade one made by 0001, also when
an earlier run stopped part-way (a column added; a concurrent index build failed, left INVALID)."""

import asyncio

import asyncpg
import pytest
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.testing import database_migrated_to

from notifications.main import MIGRATIONS_DIR

pytestmark = pytest.mark.integration

ADD_DELIVERIES = """
    INSERT INTO deliveries (id, tenant, employee_id, event_id, event_type, channel, recipient, address, language,
                            subject, body_text, body_html, status)
    SELECT gen_random_uuid(), 'IN-HR', 'E' || g, gen_random_uuid(), 'karmayogi.employee.enrolled.v1',
           CASE WHEN g % 2 = 0 THEN 'email' ELSE 'sms' END, 'IN-HR:E' || g, 'a@hry.gov.in', 'en', 'Enrolled',
           'You are enrolled.', '<p>You are enrolled.</p>', 'pending'
    FROM generate_series(1, 50) g
"""
INDEXES = """
    SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'deliveries'::regclass AND c.relname LIKE $1
    ORDER BY c.relname
"""
DUE, BY_EMPLOYEE, ONCE_PER_FACT = "deliveries_due%", "deliveries_by_employee%", "deliveries_once_per_fact"


@pytest.fixture
async def database_at_0001(postgres_url, tmp_path):
    """A new database migrated to 0001 only, holding 50 deliveries: (url, an open connection)."""
    async with database_migrated_to(postgres_url, MIGRATIONS_DIR, ["0001_initial.py"], tmp_path) as (url, connection):
        await connection.execute(ADD_DELIVERIES)
        yield url, connection


@pytest.mark.parametrize("stopped_part_way", [False, True], ids=["from 0001", "after a run stopped part-way"])
async def test_0002_upgrades_a_database_with_deliveries(database_at_0001, stopped_part_way):
    url, connection = database_at_0001
    if stopped_part_way:  # its column committed, then a concurrent build failed and left an INVALID index
        await connection.execute("ALTER TABLE deliveries ADD COLUMN claim uuid")
        with pytest.raises(asyncpg.UniqueViolationError):  # any failed build: here, on duplicate channels
            await connection.execute(
                "CREATE UNIQUE INDEX CONCURRENTLY deliveries_due_by_channel ON deliveries (channel)")
        assert [r["indisvalid"] for r in await connection.fetch(INDEXES, DUE)] == [True, False]

    await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR, wait_seconds=0)

    assert await connection.fetchval("SELECT version_num FROM alembic_version") == "0005"
    assert await connection.fetchval("SELECT count(*) FROM deliveries WHERE claim IS NULL") == 50
    [index] = await connection.fetch(INDEXES, DUE)  # the old index is gone
    assert index["relname"] == "deliveries_due_by_channel" and index["indisvalid"]
    assert "(channel, next_attempt_at) WHERE (status = ANY" in index["definition"]


@pytest.mark.parametrize("stopped_part_way", [False, True], ids=["from 0001", "after a run stopped part-way"])
async def test_0004_indexes_an_employees_deliveries_newest_first_in_place_of_oldest_first(database_at_0001,
                                                                                          stopped_part_way):
    url, connection = database_at_0001
    if stopped_part_way:  # a concurrent build of the new index failed and left it INVALID
        with pytest.raises(asyncpg.UniqueViolationError):  # any failed build: here, on duplicate tenants
            await connection.execute(
                "CREATE UNIQUE INDEX CONCURRENTLY deliveries_by_employee_newest ON deliveries (tenant)")

    await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR, wait_seconds=0)

    [index] = await connection.fetch(INDEXES, BY_EMPLOYEE)  # the oldest-first index is gone
    assert index["relname"] == "deliveries_by_employee_newest" and index["indisvalid"]
    assert "(tenant, employee_id, created_at DESC, id DESC)" in index["definition"]


# One completion notified twice under two event ids, as before 0005: both its e-mails are kept.
ADD_REPEATED_COMPLETION = """
    INSERT INTO deliveries (id, tenant, employee_id, event_id, event_type, channel, recipient, address, language,
                            subject, body_text, status)
    SELECT gen_random_uuid(), 'IN-HR', 'HR0412345', gen_random_uuid(), 'karmayogi.course.completed.v1', 'email',
           'IN-HR:HR0412345', 'a@hry.gov.in', 'en', 'Congratulations', 'You completed the course.', 'sent'
    FROM generate_series(1, 2)
"""
ADD_FACT_DELIVERY = """
    INSERT INTO deliveries (id, tenant, employee_id, event_id, event_type, fact, channel, recipient, address,
                            language, subject, body_text, status)
    VALUES (gen_random_uuid(), 'IN-HR', 'HR0412345', gen_random_uuid(), 'karmayogi.course.completed.v1',
            'c0a8e0d2-3b1f-5c4e-9a7d-1e2f3a4b5c6d', 'email', 'IN-HR:HR0412345', 'a@hry.gov.in', 'en',
            'Congratulations', 'You completed the course.', 'pending')
    ON CONFLICT DO NOTHING
"""


@pytest.mark.parametrize("stopped_part_way", [False, True], ids=["from 0001", "after a run stopped part-way"])
async def test_0005_keeps_the_duplicates_recorded_before_it_and_refuses_a_fact_s_second_delivery_after_it(
        database_at_0001, stopped_part_way):
    url, connection = database_at_0001
    await connection.execute(ADD_REPEATED_COMPLETION)
    if stopped_part_way:  # its column committed, then a concurrent build failed and left an INVALID index
        await connection.execute("ALTER TABLE deliveries ADD COLUMN fact text")
        with pytest.raises(asyncpg.UniqueViolationError):  # any failed build: here, on duplicate tenants
            await connection.execute("CREATE UNIQUE INDEX CONCURRENTLY deliveries_once_per_fact ON deliveries (tenant)")

    await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR, wait_seconds=0)

    assert await connection.fetchval("SELECT count(*) FROM deliveries WHERE fact IS NULL") == 52  # all kept
    [index] = await connection.fetch(INDEXES, ONCE_PER_FACT)
    assert index["indisvalid"] and "UNIQUE INDEX" in index["definition"]
    assert "(event_type, fact, channel, recipient) WHERE (fact IS NOT NULL)" in index["definition"]
    assert [await connection.execute(ADD_FACT_DELIVERY) for _ in range(2)] == ["INSERT 0 1", "INSERT 0 0"]
