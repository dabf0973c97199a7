"""The inbox, against the real PostgreSQL: a batch's event ids are claimed at the cost of a plain insert while
they are new, and one seen before stops that claim, so the full one tells it apart from the new ones."""

from uuid import uuid4

import pytest
from karmayogi_runtime import inbox
from karmayogi_runtime.database import create_pool

from ledger.service import MIGRATIONS

pytestmark = pytest.mark.integration


async def test_an_id_seen_before_stops_the_cheap_claim_and_the_full_one_tells_it_apart(database_factory):
    first, second, third = uuid4(), uuid4(), uuid4()
    pool = await create_pool(await database_factory(MIGRATIONS), size=1)
    async with pool.acquire() as connection:
        async with connection.transaction():
            await inbox.claim_new(connection, "certificates", [first, second])
            await inbox.claim_new(connection, "notifications", [second])  # another consumer's inbox

        with pytest.raises(inbox.SeenBefore):
            async with connection.transaction():
                await inbox.claim_new(connection, "certificates", [third, second])
        with pytest.raises(inbox.SeenBefore):  # twice in one batch
            async with connection.transaction():
                await inbox.claim_new(connection, "certificates", [third, third])
        async with connection.transaction():
            assert await inbox.claim(connection, "certificates", [str(third), str(second)]) == {str(third)}

        claimed = await connection.fetch("SELECT consumer, message_id FROM inbox")
    await pool.close()
    # Recorded as the text the full claim and the runner's other paths use for an event's id.
    assert sorted(tuple(row) for row in claimed) == sorted([
        ("certificates", str(first)), ("certificates", str(second)), ("certificates", str(third)),
        ("notifications", str(second)),
    ])
