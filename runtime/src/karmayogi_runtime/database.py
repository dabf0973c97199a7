"""The PostgreSQL pool: one per service process, JSON codecs installed once."""

import json

import asyncpg
from aiokafka.errors import KafkaError


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(database_url: str, *, size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode json/jsonb to Python values. Fails fast when PostgreSQL is down."""
    return await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=size,
        init=_init_connection,
        command_timeout=60,
        # Connections idle for a minute are closed, so a PostgreSQL restart leaves few dead ones behind.
        max_inactive_connection_lifetime=60,
    )


def is_transient(error: BaseException) -> bool:
    """True for failures that go away by themselves: the database or the broker unreachable, or a
    conflict PostgreSQL asks us to retry. Such an event is retried, never dead-lettered."""
    transient = (
        OSError,  # includes ConnectionError and asyncio.TimeoutError
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
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
    return isinstance(error, transient)
