"""The waitlist sweep the service runs beside its consumers (`ServiceDefinition.background`): once a
minute, the waitlists of batches that have started lapse (`handlers.lapse_waitlists`). Every replica runs
it; a batch another replica (or a request) holds is left for the next minute."""

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from enrolment import handlers

SWEEP_SECONDS = 60.0

log = logging.getLogger(__name__)


async def lapse_waitlists_loop(runtime: Any) -> None:
    zone = runtime.definition.settings.zone()
    while True:
        try:
            async with runtime.pool.acquire() as connection, connection.transaction():
                lapsed = await handlers.lapse_waitlists(connection, handlers.Clock.at(datetime.now(timezone.utc), zone))
            if lapsed:
                log.info("%d waitlisted enrolments lapsed: their batches have started", lapsed)
        except Exception as error:  # the database restarting, say: the next sweep tries again
            log.warning("the waitlist sweep failed (%s: %s); trying again in %.0fs", type(error).__name__, error, SWEEP_SECONDS)
        await asyncio.sleep(SWEEP_SECONDS)
