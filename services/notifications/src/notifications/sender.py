"""The sender loop: takes due deliveries, sends them, records what happened.

Per channel, a few workers each claim a batch (`FOR UPDATE SKIP LOCKED`, leased and committed), mark each
row 'sending' just before sending it through the channel's transport under the channel's rate limit, and
record each outcome as soon as it is known: 'sent'; back to 'pending' with exponential backoff on a transient failure;
'failed' with the reason on a permanent one (or when transient failures outlast `give_up_after_hours`).
A row left 'sending' by a crash is taken again when its lease runs out; the resend carries the same
Message-ID (or SMS reference), so the relay or reader can tell it is the same message. See README.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, parseaddr
from typing import Any, Protocol

import aiosmtplib
import httpx

from . import repository
from .domain import OPTED_OUT, gives_up, retry_delay
from .settings import NotificationsSettings

log = logging.getLogger(__name__)


class Transient(Exception):
    """Worth trying again later: the relay or gateway is away (`unreachable`), busy, or said 4xx."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class Permanent(Exception):
    """Will never work: the relay refused the address, the gateway rejected the request."""


class Transport(Protocol):
    async def send(self, row: Any) -> None: ...
    async def close(self) -> None: ...


def message_id(delivery_id: Any, domain: str) -> str:
    return f"<{delivery_id}@{domain}>"


def email_message(row: Any, settings: NotificationsSettings) -> MIMEMultipart:
    """multipart/alternative, plain text first then HTML, UTF-8. The compat32 MIME classes build it about
    five times faster than EmailMessage, which is most of the sender's CPU time."""
    message = MIMEMultipart("alternative")
    message["From"] = settings.mail_from
    message["To"] = row["address"]
    message["Subject"] = Header(row["subject"], "utf-8")
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(row["id"], settings.message_id_domain)
    message["Content-Language"] = row["language"]
    message["X-Karmayogi-Delivery"] = str(row["id"])
    message.attach(MIMEText(row["body_text"], "plain", "utf-8"))
    message.attach(MIMEText(row["body_html"], "html", "utf-8"))
    return message


class SmtpTransport:
    """One SMTP connection per worker, kept open between messages and reopened after a failure."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self.client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self.client is None or not self.client.is_connected:
            s = self.settings
            client = aiosmtplib.SMTP(hostname=s.smtp_host, port=s.smtp_port, timeout=s.smtp_timeout_seconds,
                                     use_tls=s.smtp_use_tls, start_tls=s.smtp_starttls or None)
            await client.connect()
            if s.smtp_username and s.smtp_password:
                await client.login(s.smtp_username, s.smtp_password.get_secret_value())
            self.client = client
        return self.client

    async def send(self, row: Any) -> None:
        try:
            client = await self._connected()
            sender = parseaddr(self.settings.mail_from)[1]
            await client.sendmail(sender, [row["address"]], email_message(row, self.settings).as_bytes())
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = [r.code for r in refused.recipients]
            raise (Permanent if all(c >= 500 for c in codes) else Transient)(f"SMTP relay refused the address: {refused}") from None
        except aiosmtplib.SMTPResponseException as error:
            await self.close()
            raise (Permanent if error.code >= 500 else Transient)(f"SMTP {error.code}: {error.message}") from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as error:
            await self.close()
            raise Transient(f"SMTP relay unavailable: {type(error).__name__}: {error}", unreachable=True) from None

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # already broken; nothing to clean
                pass


class SmsGatewayTransport:
    """POST {gateway}/messages {"to", "text", "sender", "reference"}; 2xx is accepted."""

    def __init__(self, settings: NotificationsSettings) -> None:
        headers = {}
        if settings.sms_gateway_token:
            headers["Authorization"] = f"Bearer {settings.sms_gateway_token.get_secret_value()}"
        self.settings = settings
        self.client = httpx.AsyncClient(base_url=settings.sms_gateway_url.rstrip("/"), headers=headers,
                                        timeout=settings.sms_timeout_seconds)

    async def send(self, row: Any) -> None:
        body = {"to": row["address"], "text": row["body_text"], "sender": self.settings.sms_sender_id,
                "reference": str(row["id"])}
        try:
            answer = await self.client.post("/messages", json=body, headers={"Idempotency-Key": str(row["id"])})
        except httpx.HTTPError as error:
            raise Transient(f"SMS gateway unavailable: {type(error).__name__}: {error}", unreachable=True) from None
        if answer.status_code in (408, 429) or answer.status_code >= 500:
            raise Transient(f"SMS gateway answered {answer.status_code}")
        if answer.status_code >= 300:
            raise Permanent(f"SMS gateway rejected the message ({answer.status_code}): {answer.text[:200]}")

    async def close(self) -> None:
        await self.client.aclose()


class Pacer:
    """At most `rate` sends per second for one channel, shared by its workers."""

    def __init__(self, rate: float) -> None:
        self.interval, self.next = 1.0 / rate, time.monotonic()

    async def wait(self) -> None:
        now = time.monotonic()
        slot, self.next = max(now, self.next), max(now, self.next) + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class ChannelSender:
    def __init__(self, pool: Any, channel: str, settings: NotificationsSettings, pacer: Pacer,
                 transport: Transport) -> None:
        self.pool, self.channel, self.settings, self.pacer, self.transport = pool, channel, settings, pacer, transport

    async def run_once(self) -> int:
        """Send what is due now (one claimed batch); returns how many rows were claimed."""
        s = self.settings
        async with self.pool.acquire() as connection:
            rows = await repository.claim_due(connection, self.channel, s.sender_batch_size, s.sending_lease_seconds)
            unavailable: str | None = None  # once the relay is away, the rest of the batch waits without trying
            for row in rows:
                status, reason, retry_at, unreachable = await self._attempt(connection, row, unavailable)
                if unreachable:
                    unavailable = reason
                await repository.record_outcome(connection, row["id"], status, reason, retry_at)
            return len(rows)

    async def _attempt(self, connection: Any, row: Any, unavailable: str | None) -> tuple[str, str | None, datetime | None, bool]:
        """(status, reason, next attempt, whether the relay is unreachable) for one claimed row."""
        if row["opted_out"]:
            return "opted_out", OPTED_OUT[self.channel], None, False
        try:
            if unavailable:
                raise Transient(unavailable, unreachable=True)
            await self.pacer.wait()
            await repository.mark_sending(connection, row["id"])
            await self.transport.send(row)
            return "sent", None, None, False
        except Permanent as error:
            log.warning("delivery %s failed permanently: %s", row["id"], error)
            return "failed", str(error), None, False
        except Transient as error:
            now, s = datetime.now(timezone.utc), self.settings
            if gives_up(row["created_at"], now, timedelta(hours=s.give_up_after_hours)):
                return "failed", f"Gave up after {row['attempts']} attempts: {error}", None, error.unreachable
            retry_at = now + retry_delay(row["attempts"], s.retry_base_seconds, s.retry_max_seconds)
            return "pending", str(error), retry_at, error.unreachable

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
