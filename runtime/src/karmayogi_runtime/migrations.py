"""Schema migrations with Alembic, run as their own step (`karmayogi-<service> migrate`) before a
service starts, never inside request handling.

Each service keeps its revisions in `<service>/migrations/versions/`; its `migrations/env.py` is the two
lines `from karmayogi_runtime.migrations import run_env; run_env()`. Revisions are plain SQL through
`op.execute`, so what runs in production is what a reviewer reads.
"""

import asyncio
import logging
import time
from pathlib import Path

import asyncpg
from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

log = logging.getLogger(__name__)

# Taken for the whole run, so two `migrate` steps started at once (two pods of one Job) apply each
# revision once: the second waits, then finds nothing left to do.
_MIGRATION_LOCK = 0x6B61726D  # "karm"
# How long a revision's statement may wait for a lock that a service's transaction holds. Migrations run
# while the old pods still serve: an ALTER TABLE queued behind a long transaction would hold up every
# read and write of its table that arrives after it, for as long as it waits. Past this, the revision
# gives up (its transaction rolls back, letting the queue through) and the run tries again.
LOCK_TIMEOUT_SECONDS = 5


def upgrade_to_head(database_url: str, migrations_dir: Path, *, wait_seconds: float = 120.0) -> None:
    """Apply every pending revision in `migrations_dir` to the database at `database_url`, trying again for
    up to `wait_seconds` while the database is starting or restarting, or a revision gave way to the
    transactions that hold its table (`LOCK_TIMEOUT_SECONDS`)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", _asyncpg_url(database_url).replace("%", "%%"))
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            command.upgrade(config, "head")
            return
        except (OSError, DBAPIError) as error:
            gave_way = _lock_not_available(error)
            if time.monotonic() > deadline or not (gave_way or _unavailable(error)):
                raise
            if gave_way:
                log.warning("a revision waited %d s for a lock that another transaction holds; it gave way "
                            "and is tried again", LOCK_TIMEOUT_SECONDS)
            else:
                log.warning("database not available for migrations yet (%s); trying again", str(error).splitlines()[0])
            time.sleep(2)


def run_env() -> None:
    """Body of every service's `migrations/env.py`: online migrations over asyncpg."""
    url = context.config.get_main_option("sqlalchemy.url")
    asyncio.run(_migrate_online(url))


async def _migrate_online(url: str) -> None:
    # asyncpg reads TLS options (sslmode, sslrootcert) from the URL as libpq does; SQLAlchemy would pass
    # them on as unknown keyword arguments, so asyncpg makes the connection from the URL itself.
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    engine = create_async_engine("postgresql+asyncpg://", async_creator=lambda: asyncpg.connect(dsn))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


def _run_migrations(connection: Connection) -> None:
    """Each revision in its own transaction, under a session-level lock held for the whole run.

    Taking the lock opens a transaction; it is committed before Alembic is configured. Left open, Alembic
    would take it for the caller's own and run every revision in it, ignoring `transaction_per_migration`,
    and a failing revision would leave it aborted, so the unlock would raise `InFailedSQLTransaction` over
    the revision's own error."""
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
    connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'"))  # for the revisions, not the lock above
    connection.commit()
    try:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    except BaseException:
        connection.rollback()  # no aborted transaction left to raise over the error that ended the run
        raise
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
        connection.commit()


def _unavailable(error: BaseException) -> bool:
    """The database is starting, restarting or unreachable (as opposed to a broken migration)."""
    from karmayogi_runtime.database import is_transient

    cause = _driver_error(error)
    return isinstance(error, OSError) or is_transient(cause) or "shutting down" in str(error) or "starting up" in str(error)


def _lock_not_available(error: BaseException) -> bool:
    """A revision's statement gave up waiting for a lock (`LOCK_TIMEOUT_SECONDS`)."""
    return isinstance(_driver_error(error), asyncpg.LockNotAvailableError)


def _driver_error(error: BaseException) -> BaseException:
    """asyncpg's own exception under SQLAlchemy's wrappers."""
    cause = getattr(error, "orig", None) or error
    return getattr(cause, "__cause__", None) or cause


def _asyncpg_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else database_url
