"""A stopping service closes its PostgreSQL pool even when a connection was never given back."""

import asyncio

import asyncpg
import pytest
from karmayogi_runtime.database import close_pool, create_pool

from ledger.service import MIGRATIONS

pytestmark = pytest.mark.integration


async def test_a_connection_never_given_back_is_cut_when_the_pool_closes(database_factory):
    pool = await create_pool(await database_factory(MIGRATIONS), size=2)
    held = await pool.acquire()  # work that was never stopped
    assert await held.fetchval("SELECT 1") == 1

    async with asyncio.timeout(10):  # pool.close() alone waits for it for ever
        await close_pool(pool, within=0.5)

    assert pool.is_closing()
    with pytest.raises(asyncpg.InterfaceError):  # cut
        await held.fetchval("SELECT 1")
