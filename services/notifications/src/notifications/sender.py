"""The sender loop: takes due deliveries, sends them, records what happened.

Per channel, a few workers each claim a batch (`FOR UPDATE SKIP LOCKED`, leased under a claim token and
committed), mark each row 'sending' just before sending it through the channel's transport under the channel's
rate limit (only while the row still carries the worker's claim; marking renews the lease and counts the
attempt), and record each outcome as soon as it is known: 'sent'; back to 'pending' with exponential backoff
on a transient failure; 'failed' with the reason on a permanent one (or when transient failures outlast
`give_up_after_hours`). A row left 'sending' by a crash is taken again when its lease runs out; the resend
carries the same Message-ID (or SMS reference), so the relay or reader can tell it is the same message.
The rate limits hold per process (per replica), see README.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from . import repository
from .domain import OPTED_OUT, claim_size, gives_up, retry_delay
from .settings import NotificationsSettings
from .transports import Permanent, SmsGatewayTransport, SmtpTransport, Transient, Transport

log = logging.getLogger(__name__)


class Pacer:
    """At most `rate` sends per second for one channel, shared by its workers."""

    def __init__(self, rate: float) -> None:
        self.rate, self.interval, self.next = rate, 1.0 / rate, time.monotonic()

    def longest_wait(self, workers: int) -> float:
        """The longest `wait` when `workers` share this pacer, each calling it again only after its last wait:
        the slots the others reserved, then one interval after the caller's own last slot."""
        return workers * self.interval

    async def wait(self) -> None:
        now = time.monotonic()
        slot, self.next = max(now, self.next), max(now, self.next) + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass(frozen=True)
class Waiting:
    """Why the rest of a claimed batch waits without trying (the relay is away or refuses our setup), and until
    when: as long as the row that was tried."""

    reason: str
    until: datetime


class ChannelSender:
    def __init__(self, pool: Any, channel: str, settings: NotificationsSettings, pacer: Pacer,
                 transport: Transport) -> None:
        self.pool, self.channel, self.settings, self.pacer, self.transport = pool, channel, settings, pacer, transport
        self.claim_size = claim_size(settings.sender_batch_size, pacer.rate, settings.sending_lease_seconds,
                                     settings.sender_workers)
        # A row is marked 'sending' before its wait for a rate slot (a row this worker lost spends none of the
        # channel's rate), so the lease that marking renews covers that wait too, besides the send.
        self.sending_lease = settings.sending_lease_seconds + pacer.longest_wait(settings.sender_workers)

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
        if waiting is not None:
            await self._retry_later(connection, row, row["attempts"], waiting.reason, waiting.until)
            return waiting
        attempts = await repository.mark_sending(connection, row["id"], claim, self.sending_lease)
        if attempts is None:  # our lease ran out before we reached it: the worker that claimed it again sends it
            return None
        # Marked first, paced second: the row is 'sending' for the wait as well, at most one pacer interval per
        # worker of the channel (Pacer.longest_wait; with the defaults 40 ms for e-mail, 200 ms for SMS).
        await self.pacer.wait()
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
    rates = {"email": settings.email_per_second, "sms": settings.sms_per_second}
    senders = []
    for channel, transport in TRANSPORTS.items():
        pacer = Pacer(rates[channel])
        senders += [ChannelSender(runtime.pool, channel, settings, pacer, transport(settings))
                    for _ in range(settings.sender_workers)]
    try:
        await asyncio.gather(*(sender.run() for sender in senders))
    finally:
        await asyncio.gather(*(sender.transport.close() for sender in senders), return_exceptions=True)
