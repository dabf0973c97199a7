"""Readiness: the API takes traffic while PostgreSQL answers, whatever Kafka does; liveness needs every loop."""

import httpx
import pytest
from karmayogi_runtime.service import create_http_app

pytestmark = pytest.mark.integration


async def _get(ledger, path: str) -> httpx.Response:
    app = create_http_app(ledger.runtime.definition, ledger.runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ledger") as client:
        return await client.get(path)


async def _unreachable() -> bool:
    raise OSError("connection refused")


async def test_the_service_stays_ready_while_kafka_is_unreachable_and_says_so(ledger, monkeypatch):
    monkeypatch.setattr(ledger.runtime, "kafka_ok", _unreachable)

    ready = await _get(ledger, "/health/ready")

    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"postgresql": True, "kafka": False}
    assert body["outbox"] == {"pending": 0, "oldest_pending_age_seconds": 0, "held_back": 0}


async def test_the_service_is_not_ready_while_postgresql_is_unreachable(ledger, monkeypatch):
    monkeypatch.setattr(ledger.runtime, "database_ok", _unreachable)

    ready = await _get(ledger, "/health/ready")

    assert ready.status_code == 503
    assert ready.json()["checks"] == {"postgresql": False, "kafka": True}


async def test_a_ready_service_with_everything_reachable_says_ok(ledger):
    ready = await _get(ledger, "/health/ready")

    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


async def test_the_service_is_not_live_while_any_of_its_loops_has_stopped(ledger, monkeypatch):
    monkeypatch.setattr(ledger.runtime, "liveness", lambda: {"outbox_relay": True, "consumer:attendance": False})

    live = await _get(ledger, "/health/live")

    assert live.status_code == 503
    assert live.json() == {"status": "unavailable", "checks": {"outbox_relay": True, "consumer:attendance": False}}
