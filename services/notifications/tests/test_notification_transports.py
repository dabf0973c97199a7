"""What a refusal by the relay or the gateway means, against real servers on loopback (aiosmtpd, a raw socket
greeting, the local SMS gateway): a refused address or message fails that message; a refusal of our own setup
(login, sender, greeting, a wrong gateway URL or token) makes the backlog wait instead of failing it."""

import asyncio
import uuid

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from notifications.settings import NotificationsSettings
from notifications.transports import (
    Permanent, SmsGatewayTransport, SmtpTransport, Transient, refuses_our_setup, sms_failure,
)

ROW = {"id": uuid.uuid4(), "address": "sunita.devi@hry.gov.in", "subject": "Enrolled", "language": "en",
       "body_text": "You are enrolled.", "body_html": "<p>You are enrolled.</p>"}


def settings(**overrides) -> NotificationsSettings:
    return NotificationsSettings(database_url="postgresql://127.0.0.1/notifications",
                                 kafka_bootstrap_servers="127.0.0.1:9", smtp_timeout_seconds=5, **overrides)


class Relay:
    """aiosmtpd handler answering each step with the reply it is given (None: accept)."""

    def __init__(self, mail: str | None = None, rcpt: str | None = None, data: str | None = None) -> None:
        self.mail, self.rcpt, self.data = mail, rcpt, data

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.mail:
            return self.mail
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.rcpt:
            return self.rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return self.data or "250 Message accepted for delivery"


class CountingController(Controller):
    """Counts the SMTP connections the relay still has open."""

    open_connections = 0

    def factory(self):
        controller = self

        class Counted(SMTP):
            def connection_made(self, transport):
                controller.open_connections += 1
                super().connection_made(transport)

            def connection_lost(self, error):
                controller.open_connections -= 1
                super().connection_lost(error)

        return Counted(self.handler, **self.SMTP_kwargs)


def wrong_password(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=False, handled=False)


async def send_through(relay: Controller, **overrides) -> Exception | None:
    transport = SmtpTransport(settings(smtp_port=relay.port, **overrides))
    try:
        await transport.send(ROW)
    except (Permanent, Transient) as error:
        return error
    finally:
        await transport.close()
    return None


@pytest.fixture
def relay(helpers):
    """`relay(handler, **aiosmtpd options)`: a started aiosmtpd server on a free port, stopped after the test."""
    started = []

    def start(handler: Relay, **options) -> CountingController:
        controller = CountingController(handler, hostname="127.0.0.1", port=helpers.free_port(), **options)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


@pytest.mark.parametrize("handler", [
    Relay(rcpt="550 5.1.1 No such user"),
    Relay(rcpt="552 5.2.2 Mailbox full"),
    Relay(rcpt="550 Requested action not taken: mailbox unavailable"),  # no enhanced code: the address's
    Relay(data="554 5.6.0 Message refused"),
    Relay(data="552 5.3.4 Message size exceeds fixed limit"),
], ids=["5.1.1 to RCPT TO", "5.2.2 to RCPT TO", "550 without enhanced code to RCPT TO", "5.6.0 to DATA",
        "5.3.4 to DATA"])
async def test_a_refused_address_or_message_fails_that_message(relay, handler):
    error = await send_through(relay(handler))
    assert isinstance(error, Permanent)


@pytest.mark.unit
@pytest.mark.parametrize(("code", "message", "ours"), [
    (554, "5.7.1 <a@hry.gov.in>: Relay access denied", True),
    (550, "5.7.1 <a@hry.gov.in>... Relaying denied", True),
    (530, "5.7.0 Authentication required", True),
    (550, "5.1.1 No such user", False),
    (552, "5.2.2 Mailbox full", False),
    (552, "5.3.4 Message size exceeds fixed limit", False),
    (550, "relay not permitted", False),  # Exim's default: no enhanced code, read as the address's
    (450, "4.7.1 Try again later", False),  # not a refusal at all
])
def test_only_a_policy_refusal_at_rcpt_or_data_is_our_setup(code, message, ours):
    assert refuses_our_setup(code, message) is ours


async def test_a_recipient_refused_for_now_is_tried_again_while_the_batch_goes_on(relay):
    error = await send_through(relay(Relay(rcpt="450 4.2.1 Mailbox busy")))
    assert isinstance(error, Transient) and not error.unreachable


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(("handler", "options", "ours"), [
    (Relay(mail="550 5.7.1 Relay access denied for this client"), {}, {}),
    (Relay(rcpt=f"554 5.7.1 <{ROW['address']}>: Relay access denied"), {}, {}),  # Postfix reject_unauth_destination
    (Relay(rcpt=f"550 5.7.1 <{ROW['address']}>... Relaying denied"), {}, {}),  # Sendmail
    (Relay(data="550 5.7.1 Sender address not allowed for this client"), {}, {}),
    (Relay(), {"authenticator": wrong_password, "auth_require_tls": False},
     {"smtp_username": "notifications", "smtp_password": "rotated-yesterday"}),
    (Relay(), {"authenticator": wrong_password, "auth_require_tls": False, "auth_required": True}, {}),
], ids=["550 to MAIL FROM", "554 5.7.1 to RCPT TO (Postfix)", "550 5.7.1 to RCPT TO (Sendmail)",
        "550 5.7.1 to DATA", "535 wrong password", "530 authentication required"])
async def test_a_relay_refusing_our_session_makes_the_backlog_wait_and_says_what_to_check(relay, handler, options, ours):
    error = await send_through(relay(handler, **options), **ours)
    assert isinstance(error, Transient) and error.unreachable
    assert str(error).startswith("SMTP relay refused our session") and "SMTP_PASSWORD" in str(error)


async def test_a_554_greeting_makes_the_backlog_wait(helpers):
    async def refuse(reader, writer):
        writer.write(b"554 5.7.1 No SMTP service for your address\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    port = helpers.free_port()
    server = await asyncio.start_server(refuse, "127.0.0.1", port)
    transport = SmtpTransport(settings(smtp_port=port))
    try:
        with pytest.raises(Transient) as waiting:
            await transport.send(ROW)
        assert waiting.value.unreachable and "554" in str(waiting.value)
    finally:
        await transport.close()
        server.close()


async def test_a_refused_login_closes_its_connection(relay):
    controller = relay(Relay(), authenticator=wrong_password, auth_require_tls=False)
    transport = SmtpTransport(settings(smtp_port=controller.port, smtp_username="notifications",
                                       smtp_password="rotated-yesterday"))
    for _ in range(3):  # each batch tries again
        with pytest.raises(Transient):
            await transport.send(ROW)
    for _ in range(50):
        if controller.open_connections == 0:
            break
        await asyncio.sleep(0.05)
    assert controller.open_connections == 0


async def test_a_wrong_sms_gateway_url_makes_the_backlog_wait(local_mail):
    transport = SmsGatewayTransport(settings(sms_gateway_url=f"http://127.0.0.1:{local_mail.sms_port}/v2"))
    try:
        with pytest.raises(Transient) as waiting:
            await transport.send({**ROW, "address": "+919812345678"})
    finally:
        await transport.close()
    assert waiting.value.unreachable and "404" in str(waiting.value) and "SMS_GATEWAY_URL" in str(waiting.value)
    assert local_mail.sms() == []


@pytest.mark.unit
@pytest.mark.parametrize(("status", "meaning"), [
    (202, None), (200, None),
    (400, "message refused"), (413, "message refused"), (422, "message refused"),
    (408, "busy"), (429, "busy"), (500, "busy"), (503, "busy"),
    (301, "our setup"), (401, "our setup"), (403, "our setup"), (404, "our setup"),
])
def test_what_an_sms_gateway_answer_means(status, meaning):
    failure = sms_failure(status, "")
    if meaning is None:
        assert failure is None
    elif meaning == "message refused":
        assert isinstance(failure, Permanent)
    else:
        assert isinstance(failure, Transient) and failure.unreachable == (meaning == "our setup")
