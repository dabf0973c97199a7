"""Schema migrations with Alembic, run as their own step (`karmayogi-<service> migrate`) before a
service starts, never inside request handling.

Each service keeps its revisions in `<service>/migrations/versions/`; its `migrations/env.py` is the two
lines `from karmayogi_runtime.migrations import run_env; run_env()`. Revisions are plain SQL through
`op.execute`, so what runs in production is what a reviewer reads.
"""

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

# Taken for the whole run, so two `migrate` steps started at once (two pods of one Job) apply each
# revision once: the second waits, then finds nothing left to do.
_MIGRATION_LOCK = 0x6B61726D  # "karm"


def upgrade_to_head(database_url: str, migrations_dir: Path) -> None:
    """Apply every pending revision in `migrations_dir` to the database at `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", _asyncpg_url(database_url))
    command.upgrade(config, "head")


def run_env() -> None:
    """Body of every service's `migrations/env.py`: online migrations over asyncpg."""
    url = context.config.get_main_option("sqlalchemy.url")
    asyncio.run(_migrate_online(url))


async def _migrate_online(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


def _run_migrations(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
    try:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
        connection.commit()


def _asyncpg_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else database_url
