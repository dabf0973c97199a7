"""The sender loop: takes due deliveries, sends them, records what happened.

Per channel, a few workers each claim a batch (`FOR UPDATE SKIP LOCKED`, leased under a claim token and
committed), mark each row 'sending' just before sending it through the channel's transport under the channel's
rate limit (only while the row still carries the worker's claim; marking renews the lease and counts the
attempt), and record each outcome as soon as it is known: 'sent'; back to 'pending' with exponential backoff
on a transient failure; 'failed' with the reason on a permanent one (or when transient failures outlast
`give_up_after_hours`). A row left 'sending' by a crash is taken again when its lease runs out; the resend
carries the same Message-ID (or SMS reference), so the relay or reader can tell it is the same message.
The rate limits hold for the whole deployment: every replica takes its send slots from PostgreSQL (`SendSlots`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from . import repository
from .domain import NO_ADDRESS, OPTED_OUT, claim_size, gives_up, retry_delay
from .settings import NotificationsSettings
from .transports import Permanent, SmsGatewayTransport, SmtpTransport, Transient, Transport

log = logging.getLogger(__name__)


# A row is marked 'sending' (its lease renewed) before it waits for its send slot, so the lease marking gives
# covers this much waiting besides the send; a longer wait (far more senders than slots) renews it again.
SLOT_WAIT_COVERED_SECONDS = 10.0


class SendSlots:
    """At most `rate` sends per second for one channel, for every worker of every replica together: each send
    takes the channel's next free slot in PostgreSQL (one short statement, `repository.RESERVE_SLOT`) and waits
    for it. A limit kept in each process would let the provider see it times the pods running."""

    def __init__(self, channel: str, rate: float) -> None:
        self.channel, self.rate, self.interval = channel, rate, 1.0 / rate

    async def wait(self, connection: Any) -> float:
        """Take the channel's next slot and wait for it; returns the seconds waited."""
        _, wait = await repository.reserve_slot(connection, self.channel, self.interval)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait


@dataclass(frozen=True)
class Waiting:
    """Why the rest of a claimed batch waits without trying (the relay is away or refuses our setup), and until
    when: as long as the row that was tried."""

    reason: str
    until: datetime


class ChannelSender:
    def __init__(self, pool: Any, channel: str, settings: NotificationsSettings, transport: Transport) -> None:
        self.pool, self.channel, self.settings, self.transport = pool, channel, settings, transport
        self.slots = SendSlots(channel, settings.per_second(channel))
        self.claim_size = claim_size(settings.sender_batch_size, self.slots.rate, settings.sending_lease_seconds,
                                     settings.sender_workers)
        # A row is marked 'sending' before its wait for a send slot (a row this worker lost spends none of the
        # channel's rate), so the lease that marking renews covers that wait too, besides the send.
        self.sending_lease = settings.sending_lease_seconds + SLOT_WAIT_COVERED_SECONDS

    async def run_once(self) -> int:
        """Send what is due now (one claimed batch); returns how many rows were claimed."""
        async with self.pool.acquire() as connection:
            rows = await repository.claim_due(connection, self.channel, self.claim_size,
                                              self.settings.sending_lease_seconds)
            waiting: Waiting | None = None
            for row in rows:
                waiting = await self._deliver(connection, row, waiting)
            return len(rows)

    async def _deliver(self, connection: Any, row: Any, waiting: Waiting | None) -> Waiting | None:
        """Send one claimed row unless it is opted out, the batch waits, or another worker claimed it since;
        record what happened. Returns what the rest of the batch waits for, if anything."""
        claim = row["claim"]
        if row["opted_out"]:
            await repository.record_outcome(connection, row["id"], claim, "opted_out", OPTED_OUT[self.channel])
            return waiting
        if not row["address"]:  # removed from the employee's contact since the row was recorded
            await repository.record_outcome(connection, row["id"], claim, "undeliverable", NO_ADDRESS[self.channel])
            return waiting
        if waiting is not None:
            await self._retry_later(connection, row, row["attempts"], waiting.reason, waiting.until)
            return waiting
        attempts = await repository.mark_sending(connection, row["id"], claim, self.sending_lease)
        if attempts is None:  # our lease ran out before we reached it: the worker that claimed it again sends it
            return None
        # Marked first, its slot second: the row is 'sending' for the wait as well, about one slot interval per
        # sender waiting on the channel across the replicas. After a wait longer than the lease covers, the row is
        # sent only if the lease could be renewed, that is, if no other worker claimed it meanwhile.
        waited = await self.slots.wait(connection)
        if waited > SLOT_WAIT_COVERED_SECONDS and not await repository.renew_lease(
            connection, row["id"], claim, self.settings.sending_lease_seconds
        ):
            return None
        try:
            await self.transport.send(row)
        except Permanent as error:
            log.warning("delivery %s failed permanently: %s", row["id"], error)
            await repository.record_outcome(connection, row["id"], claim, "failed", str(error))
            return None
        except Transient as error:
            until = datetime.now(timezone.utc) + retry_delay(attempts, self.settings.retry_base_seconds,
                                                             self.settings.retry_max_seconds)
            await self._retry_later(connection, row, attempts, str(error), until)
            if error.unreachable:
                log.warning("%s sender: %s; the %s batch waits until %s", self.channel, error, self.channel,
                            until.isoformat(timespec="seconds"))
                return Waiting(str(error), until)
            return None
        await repository.record_outcome(connection, row["id"], claim, "sent", None)
        return None

    async def _retry_later(self, connection: Any, row: Any, attempts: int, reason: str, until: datetime) -> None:
        """Back to 'pending' until `until`, or 'failed' once transient failures have lasted give_up_after_hours."""
        now = datetime.now(timezone.utc)
        if gives_up(row["created_at"], now, timedelta(hours=self.settings.give_up_after_hours)):
            await repository.record_outcome(connection, row["id"], row["claim"], "failed",
                                            f"Gave up after {attempts} attempts: {reason}")
        else:
            await repository.record_outcome(connection, row["id"], row["claim"], "pending", reason, until)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                claimed = await self.run_once()
                failures = 0
                if claimed == 0:
                    await asyncio.sleep(self.settings.sender_idle_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away; the rows keep their lease and come back
                failures += 1
                log.warning("%s sender: %s: %s", self.channel, type(error).__name__, error)
                await asyncio.sleep(min(0.25 * 2 ** failures, 10))


TRANSPORTS: dict[str, type] = {"email": SmtpTransport, "sms": SmsGatewayTransport}


async def sender_loop(runtime: Any) -> None:
    """The background loop the service runs beside its consumers (ServiceDefinition.background)."""
    settings: NotificationsSettings = runtime.definition.settings
    senders = [ChannelSender(runtime.pool, channel, settings, transport(settings))
               for channel, transport in TRANSPORTS.items() for _ in range(settings.sender_workers)]
    try:
        await asyncio.gather(*(sender.run() for sender in senders))
    finally:
        await asyncio.gather(*(sender.transport.close() for sender in senders), return_exceptions=True)
