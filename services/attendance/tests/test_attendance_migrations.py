"""Migrations on a database that already has enrolments: 0003 keeps each employee's newest name from the
enrolments recorded before it, also when an earlier run stopped part-way (a concurrent index build failed);
after 0004, the attendance recorded before it still dates a completion."""

import asyncio
import uuid
from datetime import datetime, timezone

import asyncpg
import pytest
from karmayogi_runtime.migrations import upgrade_to_head
from karmayogi_runtime.testing import database_migrated_to

from attendance import repository as sql
from attendance.main import MIGRATIONS_DIR

pytestmark = pytest.mark.integration

# Sunita enrolled twice, married between the two (the older enrolment recorded last); Rakesh once; and an
# employee of the same id in another state.
ADD_ENROLMENTS = """
    INSERT INTO enrolments (tenant, enrolment_id, employee_id, employee_name, batch_id, course, centre, centre_id,
                            district, sessions_planned, minimum_attendance_percent, mandatory_session_ids,
                            enrolled_at)
    SELECT tenant, gen_random_uuid(), employee_id, name, gen_random_uuid(), '{}', '{}', gen_random_uuid(),
           'Rohtak', 6, 75, '{}', enrolled_at::timestamptz
    FROM (VALUES ('IN-HR', 'HR001', 'Sunita Devi Malik', '2025-04-01T10:00:00Z'),
                 ('IN-HR', 'HR001', 'Sunita Devi', '2025-01-01T10:00:00Z'),
                 ('IN-HR', 'HR002', 'Rakesh Kumar', '2025-02-01T10:00:00Z'),
                 ('IN-BR', 'HR001', 'Sunita Kumari', '2025-03-01T10:00:00Z')) AS e (tenant, employee_id, name,
                                                                                    enrolled_at)
"""
KEPT = "SELECT tenant, employee_id, name, as_of::text FROM employee_names ORDER BY tenant, employee_id"
INDEX = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('enrolments_by_employee')"


@pytest.fixture
async def database_at_0002(postgres_url, tmp_path):
    """A new database migrated to 0002, holding four enrolments: (url, an open connection)."""
    revisions = ["0001_initial.py", "0002_mandatory_sessions.py"]
    async with database_migrated_to(postgres_url, MIGRATIONS_DIR, revisions, tmp_path) as (url, connection):
        await connection.execute("SET TIME ZONE 'UTC'")
        await connection.execute(ADD_ENROLMENTS)
        yield url, connection


@pytest.mark.parametrize("stopped_part_way", [False, True], ids=["from 0002", "after a run stopped part-way"])
async def test_0003_keeps_each_employees_newest_name_from_the_enrolments_recorded(database_at_0002,
                                                                                 stopped_part_way):
    url, connection = database_at_0002
    if stopped_part_way:  # a concurrent build of the index failed and left it INVALID
        with pytest.raises(asyncpg.UniqueViolationError):  # any failed build: here, on duplicate employees
            await connection.execute(
                "CREATE UNIQUE INDEX CONCURRENTLY enrolments_by_employee ON enrolments (tenant, employee_id)")

    await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR, wait_seconds=0)

    assert [tuple(row) for row in await connection.fetch(KEPT)] == [
        ("IN-BR", "HR001", "Sunita Kumari", "2025-03-01 10:00:00+00"),
        ("IN-HR", "HR001", "Sunita Devi Malik", "2025-04-01 10:00:00+00"),
        ("IN-HR", "HR002", "Rakesh Kumar", "2025-02-01 10:00:00+00"),
    ]
    assert await connection.fetchval(INDEX) is True


ADD_ATTENDANCE = """
    INSERT INTO attendance (tenant, enrolment_id, session_id, employee_id, minutes, duration_minutes, starts_at,
                            marked_at, sources)
    VALUES ('IN-HR', $1, $2, 'HR001', 90, 90, '2025-03-03T04:30:00Z', '2025-03-03T06:30:00Z', '{biometric}')
"""


async def test_after_0004_the_attendance_recorded_before_it_is_a_report_beside_those_kept_since(postgres_url,
                                                                                              tmp_path):
    enrolment, session = uuid.uuid4(), uuid.uuid4()
    revisions = ["0001_initial.py", "0002_mandatory_sessions.py", "0003_current_names.py"]
    async with database_migrated_to(postgres_url, MIGRATIONS_DIR, revisions, tmp_path) as (url, connection):
        await connection.execute("SET TIME ZONE 'UTC'")
        await connection.execute(ADD_ATTENDANCE, enrolment, session)  # by a release older than 0004

        await asyncio.to_thread(upgrade_to_head, url, MIGRATIONS_DIR, wait_seconds=0)
        earlier = datetime(2025, 3, 3, 5, 0, tzinfo=timezone.utc)  # a smaller report, kept by a new pod
        for _ in range(2):  # the same report again is kept once
            await connection.execute(sql.RECORD_REPORT, "IN-HR", enrolment, session, 30, 90, earlier)

        reports = sorted(tuple(r) for r in await connection.fetch(sql.REPORTS, [enrolment]))
        assert [(minutes, marked_at) for *_, minutes, _, marked_at in reports] == [
            (30, earlier), (90, datetime(2025, 3, 3, 6, 30, tzinfo=timezone.utc))]
