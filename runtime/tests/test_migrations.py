"""Migrations: each revision in its own transaction, and a broken revision's own error is the one raised."""

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from karmayogi_runtime.migrations import upgrade_to_head
from sqlalchemy.exc import DBAPIError

pytestmark = pytest.mark.integration

REVISION = '''
from alembic import op

revision = "{revision}"
down_revision = {down}


def upgrade() -> None:
    op.execute("{sql}")
'''


def _migrations(directory: Path) -> Path:
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text("from karmayogi_runtime.migrations import run_env\n\nrun_env()\n")
    revisions = [("0001", None, "CREATE TABLE courses (id text PRIMARY KEY)"),
                 ("0002", "0001", "ALTER TABLE courses ADD COLUMN title text NOT NULL DEFAULT 1/0")]
    for revision, down, sql in revisions:
        text = REVISION.format(revision=revision, down=repr(down), sql=sql)
        (directory / "versions" / f"{revision}.py").write_text(text)
    return directory


async def test_a_failing_revision_raises_its_own_error_and_the_revisions_before_it_stay_applied(postgres_url, tmp_path):
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        with pytest.raises(DBAPIError, match="division by zero"):
            await asyncio.to_thread(upgrade_to_head, url, _migrations(tmp_path / "migrations"), wait_seconds=0)

        connection = await asyncpg.connect(url)
        try:
            assert await connection.fetchval("SELECT version_num FROM alembic_version") == "0001"
            assert await connection.fetchval("SELECT to_regclass('courses')::text") == "courses"
        finally:
            await connection.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_revision_waiting_for_a_lock_gives_way_to_the_traffic_queued_behind_it_and_is_tried_again(
    postgres_url, tmp_path
):
    """An ALTER TABLE queued behind a service's open transaction would hold up every later read of the
    table for as long as it waits. It gives up after `LOCK_TIMEOUT_SECONDS`, the reads go through while the
    transaction is still open, and the revision is applied once the transaction ends."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    directory = tmp_path / "migrations"
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text("from karmayogi_runtime.migrations import run_env\n\nrun_env()\n")

    def revision(number: str, down: str | None, sql: str) -> None:
        (directory / "versions" / f"{number}.py").write_text(REVISION.format(revision=number, down=repr(down), sql=sql))

    revision("0001", None, "CREATE TABLE courses (id text PRIMARY KEY)")
    await asyncio.to_thread(upgrade_to_head, url, directory, wait_seconds=0)
    revision("0002", "0001", "ALTER TABLE courses ADD COLUMN title text")
    service, reader = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        service_transaction = service.transaction()
        await service_transaction.start()
        await service.fetch("SELECT * FROM courses")  # holds the table until the transaction ends
        migrating = asyncio.create_task(asyncio.to_thread(upgrade_to_head, url, directory, wait_seconds=120))
        while not await admin.fetchval(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'"
        ):
            await asyncio.sleep(0.05)

        # Queued behind the waiting ALTER TABLE; without the lock timeout it would wait for the service's
        # transaction, which ends only after this read.
        assert await asyncio.wait_for(reader.fetchval("SELECT count(*) FROM courses"), timeout=60) == 0
        assert not migrating.done()

        await service_transaction.rollback()
        await asyncio.wait_for(migrating, timeout=60)
        assert await reader.fetchval("SELECT version_num FROM alembic_version") == "0002"
        assert await reader.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'courses' AND column_name = 'title'"
        ) == 1
    finally:
        await service.close()
        await reader.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
