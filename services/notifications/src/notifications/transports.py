"""How a message leaves: SMTP to the relay, HTTP to the SMS gateway, and what each refusal means.

A refusal of one message or one recipient is `Permanent` (the row is 'failed' with the reason). Anything
that says our own setup is wrong (the relay refuses our login, our sender, our connection, or to relay for
us: a 5.7.x policy refusal even at RCPT TO or DATA; the gateway refuses our token or has no such URL) is
`Transient` and `unreachable`, like a relay that is down: the backlog waits, the sender logs the reason, and
the rows go out once an operator fixes the settings, instead of every message of the backlog failing for good.
README.md, "Failures", has the table.
"""

from __future__ import annotations

import asyncio
import re
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, parseaddr
from typing import Any, Protocol

import aiosmtplib
import httpx

from .settings import NotificationsSettings


class Transient(Exception):
    """Worth trying again later: the relay or gateway is away or refuses our setup (`unreachable`: the rest of
    the batch waits too), or it is busy or said 4xx about this message."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class Permanent(Exception):
    """Will never work: the relay refused the address or the message, the gateway rejected the message."""


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


# RFC 3463 enhanced status code at the start of a reply's text ("5.7.1 <addr>: Relay access denied").
ENHANCED_CODE = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
OUR_SETUP = "check SMTP_HOST, SMTP_PORT, SMTP_STARTTLS, SMTP_USERNAME, SMTP_PASSWORD and MAIL_FROM"


def refuses_our_setup(code: int, message: str) -> bool:
    """A 5xx whose enhanced code is 5.7.x (policy: relaying denied, authentication required, sender not
    allowed) refuses us, not this address or message. Relays refuse to relay at RCPT TO (Postfix:
    `554 5.7.1 <addr>: Relay access denied`; Sendmail: `550 5.7.1 ... Relaying denied`), so a wrong
    SMTP_USERNAME or a pod address missing from the relay's allowed networks shows there. 5.1.x (no such
    mailbox), 5.2.x (mailbox full) and 5.3.x (message too big) are this address's or message's.

    A 5xx without an enhanced code stays the message's (Exim's default `550 relay not permitted` among them):
    RFC 5321 gives a 5xx to RCPT TO or DATA that meaning, and nothing in it tells our setup apart, while reading
    every such refusal as ours would hold each bad address for GIVE_UP_AFTER_HOURS with the rest of its
    batch waiting behind it."""
    enhanced = ENHANCED_CODE.match(message or "")
    return code >= 500 and enhanced is not None and enhanced.group(2) == "7"


def smtp_failure(error: Exception) -> Permanent | Transient:
    """A 5xx to RCPT TO (this address) or to DATA (this message) is permanent, unless its enhanced code says
    policy (5.7.x, `refuses_our_setup`); any refusal of our connection, greeting, STARTTLS, login or MAIL FROM
    (535 wrong password, 530 STARTTLS required, 550 relay access denied, a 554 banner) is our configuration
    too, and the backlog waits for it to be fixed."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        refusals = [(r.code, r.message) for r in error.recipients]
        ours = [refusal for refusal in refusals if refuses_our_setup(*refusal)]
        if ours:
            return _our_setup(error, *ours[0])
        return (Permanent if all(c >= 500 for c, _ in refusals) else Transient)(
            f"SMTP relay refused the address: {error}")
    if isinstance(error, aiosmtplib.SMTPDataError):
        if refuses_our_setup(error.code, error.message):
            return _our_setup(error, error.code, error.message)
        return (Permanent if error.code >= 500 else Transient)(f"SMTP relay refused the message: {error.code} {error.message}")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _our_setup(error, error.code, error.message)
    return Transient(f"SMTP relay unavailable: {type(error).__name__}: {error}", unreachable=True)


def _our_setup(error: Exception, code: int, message: str) -> Transient:
    return Transient(f"SMTP relay refused our session ({type(error).__name__} {code} {message}); {OUR_SETUP}",
                     unreachable=True)


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
            try:
                if s.smtp_username and s.smtp_password:
                    await client.login(s.smtp_username, s.smtp_password.get_secret_value())
            except BaseException:
                client.close()  # a refused login would otherwise leave the socket open, one per retry
                raise
            self.client = client
        return self.client

    async def send(self, row: Any) -> None:
        try:
            client = await self._connected()
            sender = parseaddr(self.settings.mail_from)[1]
            await client.sendmail(sender, [row["address"]], email_message(row, self.settings).as_bytes())
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as error:
            if not isinstance(error, aiosmtplib.SMTPRecipientsRefused):  # after that one, RSET kept it usable
                await self.close()
            raise smtp_failure(error) from None

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # already broken; nothing to clean
                pass


# The gateway's answers that refuse this one message (README.md): 400 the request is not one it accepts (the
# local gateway: a body without 'to' and 'text'), 413 too large, 422 a well-formed message it will not send
# (an invalid number). 408, 429 and 5xx mean busy, this message waits. Anything else (a redirect, 401 or 403
# for our token, 404 for a wrong SMS_GATEWAY_URL) is our setup, and the backlog waits for it to be fixed.
SMS_MESSAGE_REFUSED = frozenset({400, 413, 422})
SMS_BUSY = frozenset({408, 429})


def sms_failure(status: int, text: str) -> Permanent | Transient | None:
    """What an answer of the SMS gateway means for the message; None when it was accepted (2xx)."""
    if 200 <= status < 300:
        return None
    if status in SMS_MESSAGE_REFUSED:
        return Permanent(f"SMS gateway rejected the message ({status}): {text[:200]}")
    if status in SMS_BUSY or status >= 500:
        return Transient(f"SMS gateway answered {status}")
    return Transient(f"SMS gateway refused our request ({status}): check SMS_GATEWAY_URL and SMS_GATEWAY_TOKEN: "
                     f"{text[:200]}", unreachable=True)


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
        failure = sms_failure(answer.status_code, answer.text)
        if failure is not None:
            raise failure

    async def close(self) -> None:
        await self.client.aclose()
