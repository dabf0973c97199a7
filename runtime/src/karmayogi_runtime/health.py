"""Health endpoints every service exposes.

- `/health/live`: the process is doing its job: every consume loop and the outbox relay are running.
  A failure here means "restart me".
- `/health/ready`: PostgreSQL and Kafka answer, so the service can take traffic. The body also reports
  the outbox backlog (pending rows, age of the oldest) for operators and the tests.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from karmayogi_runtime import outbox


def health_router() -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", summary="Liveness: consume loops and outbox relay running")
    async def live(request: Request) -> JSONResponse:
        checks = request.app.state.runtime.liveness()
        return _answer(checks)

    @router.get("/ready", summary="Readiness: PostgreSQL and Kafka reachable; outbox backlog")
    async def ready(request: Request) -> JSONResponse:
        runtime = request.app.state.runtime
        checks = {
            "postgresql": await _check(runtime.database_ok),
            "kafka": await _check(runtime.kafka_ok),
        }
        body: dict[str, Any] = {}
        if checks["postgresql"]:
            async with runtime.pool.acquire() as connection:
                backlog = await outbox.status(connection)
            body["outbox"] = {"pending": backlog.pending, "oldest_pending_age_seconds": backlog.oldest_pending_age_seconds}
        return _answer(checks, body)

    return router


async def _check(probe: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await probe()
    except Exception:
        return False


def _answer(checks: dict[str, bool], extra: dict[str, Any] | None = None) -> JSONResponse:
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks, **(extra or {})}
    return JSONResponse(body, status_code=200 if healthy else 503)
