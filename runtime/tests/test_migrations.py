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
