"""A stopping service's relay stops, even when a wake-up comes at the moment it is told to."""

import asyncio

from karmayogi_runtime.outbox import OutboxRelay


async def test_a_relay_told_to_stop_as_a_notification_wakes_it_stops():
    relay = OutboxRelay("postgresql://unused", pool=None, new_producer=lambda: None, poll_interval=30.0)
    idle = asyncio.create_task(relay._idle())
    await asyncio.sleep(0)  # waiting for a notification or the poll

    relay._wake.set()  # a NOTIFY arrives
    idle.cancel()  # and the service stops
    await asyncio.gather(idle, return_exceptions=True)

    assert idle.cancelled()
