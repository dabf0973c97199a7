"""The cross-service suite's harness: the four services and the local mail/SMS server as real processes
over the real Kafka and PostgreSQL, each service with its own fresh database, all sharing one fresh topic
prefix, so a test sees only its own events."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

SERVICES = ("enrolment", "attendance", "certification", "notifications")
BIN = Path(sys.executable).parent
ADMIN_TOKEN = "test-admin-token-of-at-least-32-characters"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class System:
    """The running backend of one test: start, kill and restart its processes; reach their APIs."""

    postgres_url: str
    kafka_bootstrap: str
    prefix: str
    data_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def client(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url(service), timeout=120)

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def sms_log(self) -> Path:
        return self.data_dir / "sms" / "messages.ndjson"

    def env(self, service: str) -> dict[str, str]:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "KAFKA_TOPIC_PREFIX": self.prefix,
            "LOCAL_DATA_DIR": str(self.data_dir),
            "LOG_LEVEL": "INFO",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.ports["smtp"]),
            "SMS_HTTP_PORT": str(self.ports["sms"]),
            "SMS_GATEWAY_URL": f"http://127.0.0.1:{self.ports['sms']}",
            "CERTIFICATION_PUBLIC_BASE_URL": self.url("certification") if "certification" in self.ports else "",
            "CERTIFICATION_ADMIN_TOKEN": ADMIN_TOKEN,
            "NOTIFICATIONS_SENDER_IDLE_SECONDS": "0.2",
            "NOTIFICATIONS_RETRY_BASE_SECONDS": "1",
            "NOTIFICATIONS_RETRY_MAX_SECONDS": "5",
            "NOTIFICATIONS_EMAIL_PER_SECOND": "500",
            "NOTIFICATIONS_SMS_PER_SECOND": "500",
        }
        if service in SERVICES:
            env.update(DATABASE_URL=self.databases[service], HTTP_PORT=str(self.ports[service]))
        return env

    def start(self, service: str) -> None:
        command = [str(BIN / "karmayogi-local-mail")] if service == "mail" else [str(BIN / f"karmayogi-{service}"), "run"]
        log = (self.data_dir / "logs" / f"{service}.log").open("a")
        self.processes[service] = subprocess.Popen(command, env=self.env(service), stdout=log, stderr=subprocess.STDOUT)

    def kill(self, service: str) -> None:
        """SIGKILL, as an OOM kill or a node failure would end it."""
        process = self.processes[service]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.kills[service] = self.kills.get(service, 0) + 1

    async def ready(self, *services: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            for service in services or SERVICES:
                while True:
                    assert self.processes[service].poll() is None, self.log_tail(service)
                    try:
                        if (await client.get(f"{self.url(service)}/health/ready")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, f"{service} not ready: {self.log_tail(service)}"
                    await asyncio.sleep(0.3)

    def log_tail(self, service: str) -> str:
        return (self.data_dir / "logs" / f"{service}.log").read_text()[-3000:]

    async def restart(self, service: str) -> None:
        self.kill(service)
        self.start(service)
        await self.ready(service)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
async def system(postgres_url, kafka_bootstrap, topic_prefix, tmp_path) -> AsyncIterator[System]:
    (tmp_path / "logs").mkdir()
    running = System(postgres_url, kafka_bootstrap, topic_prefix, tmp_path)
    running.ports = {name: free_port() for name in (*SERVICES, "smtp", "sms")}
    admin = await asyncpg.connect(postgres_url)
    for service in SERVICES:
        name = f"x_{service}_{uuid.uuid4().hex[:10]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        running.databases[service] = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        running.start("mail")
        for service in SERVICES:
            running.start(service)
        await running.ready()
        yield running
    finally:
        running.stop_all()
        for url in running.databases.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        await admin.close()
