"""The local mail relay and SMS gateway: real servers on loopback that write what they receive to disk.

    karmayogi-local-mail    (env: SMTP_PORT=2525, SMS_HTTP_PORT=8025, LOCAL_DATA_DIR=.local)

- SMTP (aiosmtpd) on 127.0.0.1:$SMTP_PORT: every message becomes
  `$LOCAL_DATA_DIR/mail/<UTC timestamp>-<sequence>-<sha256(Message-ID)[:16]>.eml` (the sequence keeps two
  copies received in the same microsecond apart). Like a standard relay it keeps
  every copy it accepts, duplicates included: a resent message has the same hash suffix, so readers (and the
  tests) count messages by Message-ID and see duplicates for what they are.
- HTTP on 127.0.0.1:$SMS_HTTP_PORT: `POST /messages {"to", "text", ...}` appends one JSON line to
  `$LOCAL_DATA_DIR/sms/messages.ndjson` and answers 202 `{"id": ..., "status": "accepted"}` like a gateway;
  `GET /health` answers 200.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import os
import signal
import uuid
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("karmayogi.local_mail")
HOST = "127.0.0.1"
_sequence = itertools.count()


def message_key(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().encode("utf-8")).hexdigest()[:16]


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.rename(path)  # readers never see half a message


class MailDrop:
    """aiosmtpd handler: one .eml file per accepted message."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.seen = {path.stem.rsplit("-", 1)[-1] for path in directory.glob("*.eml")}  # kept across restarts

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        headers = BytesHeaderParser(policy=default_policy).parsebytes(content)
        message_id = str(headers.get("Message-ID") or f"<missing-{uuid.uuid4()}@local>")
        key = message_key(message_id)
        duplicate = key in self.seen
        self.seen.add(key)
        name = f"{_stamp()}-{next(_sequence):06d}-{key}.eml"
        _write_atomically(self.directory / name, content)
        log.info("mail %s to %s%s", message_id, ",".join(envelope.rcpt_tos), " (duplicate)" if duplicate else "")
        return "250 Message accepted for delivery"


class SmsGateway:
    """A small HTTP/1.1 server (keep-alive, Content-Length bodies) answering like an SMS gateway."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "messages.ndjson"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readline()
                if not request:
                    break
                method, target, _ = request.decode("latin-1").split(" ", 2)
                headers = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, answer = self.answer(method, target, headers, body)
                payload = json.dumps(answer).encode()
                writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[str, dict]:
        if method == "GET" and target == "/health":
            return "200 OK", {"status": "ok"}
        if method != "POST" or target.rstrip("/") != "/messages":
            return "404 Not Found", {"error": f"No route for {method} {target}; use POST /messages."}
        try:
            message = json.loads(body)
            to, text = message["to"], message["text"]
        except (ValueError, KeyError, TypeError):
            return "400 Bad Request", {"error": "The body must be JSON with 'to' and 'text'."}
        record = {"id": str(uuid.uuid4()), "received_at": _stamp(), "to": to, "text": text,
                  "sender": message.get("sender"), "reference": message.get("reference"),
                  "idempotency_key": headers.get("idempotency-key")}
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "202 Accepted", {"id": record["id"], "status": "accepted"}


class LocalServers:
    """Both servers in the running event loop; SMTP can be stopped and started again (relay outages)."""

    def __init__(self, data_dir: Path, smtp_port: int, sms_port: int) -> None:
        self.data_dir, self.smtp_port, self.sms_port = Path(data_dir), smtp_port, sms_port
        self.mail = MailDrop(self.data_dir / "mail")
        self.gateway = SmsGateway(self.data_dir / "sms")
        self._smtp: asyncio.Server | None = None
        self._sms: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()

    def _protocol(self) -> SMTP:
        protocol = SMTP(self.mail, hostname="local-mail.karmayogi", enable_SMTPUTF8=True,
                        data_size_limit=10 * 1024 * 1024)
        self._sessions.add(protocol)
        return protocol

    async def start_smtp(self) -> None:
        self._smtp = await asyncio.get_running_loop().create_server(self._protocol, HOST, self.smtp_port)

    async def stop_smtp(self) -> None:
        """Stop listening and drop every open SMTP connection, as a relay going down does."""
        if self._smtp is not None:
            self._smtp.close()
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.abort()
            self._sessions.clear()
            await self._smtp.wait_closed()
            self._smtp = None

    async def start(self) -> None:
        await self.start_smtp()
        self._sms = await asyncio.start_server(self.gateway.serve, HOST, self.sms_port)

    async def stop(self) -> None:
        await self.stop_smtp()
        if self._sms is not None:
            self._sms.close()
            await self._sms.wait_closed()


async def _serve_until_stopped() -> None:
    servers = LocalServers(Path(os.environ.get("LOCAL_DATA_DIR", ".local")),
                           int(os.environ.get("SMTP_PORT", "2525")), int(os.environ.get("SMS_HTTP_PORT", "8025")))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await servers.start()
    log.info("local mail: smtp %s:%d -> %s; sms http://%s:%d -> %s", HOST, servers.smtp_port,
             servers.mail.directory, HOST, servers.sms_port, servers.gateway.path)
    await stop.wait()
    await servers.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_serve_until_stopped())


if __name__ == "__main__":
    main()
