"""The PostgreSQL pool: one per service process, JSON codecs installed once.

TLS comes from the URL, which asyncpg reads as libpq does: `?sslmode=verify-full&sslrootcert=/path/ca.crt`.
"""

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import asyncpg
from aiokafka.errors import KafkaError

from karmayogi_runtime.settings import CannotStart

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """A connection comes back to the pool as it was lent: asyncpg has rolled back any transaction left
    open, and nothing of ours outlives one (locks are `pg_advisory_xact_lock`, settings `SET LOCAL`; LISTEN
    has a connection of its own). So no reset query costs a round trip each time a connection is
    released, which is once per batch consumed and per HTTP request."""


async def create_pool(database_url: str, *, size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode json/jsonb to Python values. Fails fast when PostgreSQL is down.

    Its connections hold no session state between uses: see `_nothing_to_reset`."""
    return await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=size,
        init=_init_connection,
        reset=_nothing_to_reset,
        command_timeout=60,
        # Connections idle for a minute are closed, so a PostgreSQL restart leaves few dead ones behind.
        max_inactive_connection_lifetime=60,
    )


async def close_pool(pool: asyncpg.Pool, within: float) -> None:
    """Close the pool, waiting at most `within` seconds for the connections still in use to be released, then
    cutting them: a connection never released (work that was not stopped) must not keep the service from
    stopping."""
    try:
        async with asyncio.timeout(within):
            await pool.close()
    except TimeoutError:
        log.warning("PostgreSQL connections still in use after %.0fs; closing them", within)
        pool.terminate()


async def check_connection(database_url: str) -> None:
    """Connect once and disconnect (see `connect`)."""
    connection = await connect(database_url)
    await connection.close()


async def connect(database_url: str) -> asyncpg.Connection:
    """One connection. A URL asyncpg cannot use, a refused login, a missing database or a certificate that
    cannot be verified raises `CannotStart` with one sentence; an unreachable server raises the error to
    retry on."""
    where = describe(database_url)
    try:
        return await asyncpg.connect(database_url, timeout=10)
    except asyncpg.ClientConfigurationError as error:  # e.g. an sslmode asyncpg does not know
        raise CannotStart(f"PostgreSQL at {where}: DATABASE_URL cannot be used ({error}).") from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        raise CannotStart(f"PostgreSQL at {where} refused the login: check the user and password in DATABASE_URL.") from None
    except asyncpg.InvalidCatalogNameError:
        raise CannotStart(f"PostgreSQL at {where}: that database does not exist; create it or correct DATABASE_URL.") from None
    except ssl.SSLCertVerificationError as error:
        raise CannotStart(f"PostgreSQL at {where} presented a TLS certificate that cannot be verified "
                          f"({error.verify_message}): check sslrootcert and the host in DATABASE_URL.") from None
    except FileNotFoundError as error:
        raise CannotStart(f"PostgreSQL at {where}: the file {error.filename} named in DATABASE_URL does not exist.") from None
    except ConnectionError as error:
        if "SSL" not in str(error):
            raise
        raise CannotStart(f"PostgreSQL at {where} does not offer TLS, but DATABASE_URL asks for it (sslmode).") from None


def describe(database_url: str) -> str:
    """`host:port/database as user`, never the password; for any text, so that a malformed URL is reported
    rather than raising anew."""
    try:
        url = urlsplit(database_url)
    except ValueError:  # an unclosed [IPv6 address]
        return "the server DATABASE_URL names"
    try:
        port = url.port or 5432
    except ValueError:  # not a number
        port = url.netloc.rpartition(":")[2]
    return f"{url.hostname}:{port}{url.path} as {url.username!r}"


async def while_running(statement: Awaitable[T], work: Callable[[], R]) -> tuple[T, R]:
    """Do `work` (Python only: it must not use the connection) while PostgreSQL runs `statement`, so the
    two proceed on two cores at once. Returns both results. The statement leaves for the server before
    the work begins, and is always awaited before this returns or raises, so the connection is free again
    for whatever the transaction does next (a rollback included)."""
    running = asyncio.ensure_future(statement)
    try:
        await asyncio.sleep(0)
        done = work()
    except BaseException:
        await asyncio.gather(running, return_exceptions=True)  # the error raised is the one that came first
        raise
    return await running, done


def is_transient(error: BaseException) -> bool:
    """True for failures that go away by themselves: the database or the broker unreachable, or a
    conflict PostgreSQL asks us to retry. Such an event is retried, never dead-lettered."""
    transient = (
        OSError,  # includes ConnectionError and asyncio.TimeoutError
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,  # but not ClientConfigurationError (below): a URL or option asyncpg cannot use
        asyncpg.CannotConnectNowError,
        asyncpg.TooManyConnectionsError,
        asyncpg.SerializationError,
        asyncpg.DeadlockDetectedError,
        asyncpg.AdminShutdownError,
        asyncpg.QueryCanceledError,
        # Every Kafka error a client meets while publishing or committing is about the broker, not
        # the event: the broker restarting, a leader moving, a request timing out.
        KafkaError,
    )
    return isinstance(error, transient) and not isinstance(error, asyncpg.ClientConfigurationError)
