"""The inbox, against the real PostgreSQL: a batch's ids are claimed at the cost of a plain insert while they are
new, and one seen before stops that claim, so the full one tells it apart from the new ones."""

import pytest
from karmayogi_runtime import inbox
from karmayogi_runtime.database import create_pool

from ledger.service import MIGRATIONS

pytestmark = pytest.mark.integration


async def test_an_id_seen_before_stops_the_cheap_claim_and_the_full_one_tells_it_apart(database_factory):
    pool = await create_pool(await database_factory(MIGRATIONS), size=1)
    async with pool.acquire() as connection:
        async with connection.transaction():
            await inbox.claim_new(connection, "certificates", ["first", "second"])
            await inbox.claim_new(connection, "notifications", ["second"])  # another consumer's inbox

        with pytest.raises(inbox.SeenBefore):
            async with connection.transaction():
                await inbox.claim_new(connection, "certificates", ["third", "second"])
        async with connection.transaction():
            assert await inbox.claim(connection, "certificates", ["third", "second"]) == {"third"}

        claimed = await connection.fetch("SELECT consumer, message_id FROM inbox ORDER BY 1, 2")
    await pool.close()
    assert [tuple(row) for row in claimed] == [
        ("certificates", "first"), ("certificates", "second"), ("certificates", "third"), ("notifications", "second"),
    ]
