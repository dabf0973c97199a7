"""Health endpoints every service exposes.

- `/health/live`: the process is doing its job: every consume loop and the outbox relay are running.
  A failure here means "restart me".
- `/health/ready`: the service has started and PostgreSQL answers, so it can take traffic. Kafka is
  not required: the API's writes go to the outbox and wait there for the relay, and its reads (the
  public certificate verification among them) need only PostgreSQL, so a Kafka outage or a broker roll
  must not take the API out of the Kubernetes Service. Whether Kafka answers is in the body all the
  same (`checks.kafka`; `status` is then `degraded`), with the outbox backlog (pending rows, age of the
  oldest, rows held back for being too large for Kafka) for operators and the tests.
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

    @router.get("/ready", summary="Readiness: PostgreSQL reachable (Kafka reported, not required); outbox backlog")
    async def ready(request: Request) -> JSONResponse:
        runtime = request.app.state.runtime
        checks = {
            "postgresql": await _check(runtime.database_ok),
            "kafka": await _check(runtime.kafka_ok),
        }
        body: dict[str, Any] = {}
        if checks["postgresql"]:
            async with runtime.pool.acquire() as connection:
                backlog = await outbox.status(connection, held_keys=runtime.relay.held_keys)
            body["outbox"] = {"pending": backlog.pending, "oldest_pending_age_seconds": backlog.oldest_pending_age_seconds,
                              "held_back": backlog.held_back}
        ready = checks["postgresql"]
        status = "ok" if all(checks.values()) else "degraded" if ready else "unavailable"
        return JSONResponse({"status": status, "checks": checks, **body}, status_code=200 if ready else 503)

    return router


async def _check(probe: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await probe()
    except Exception:
        return False


def _answer(checks: dict[str, bool]) -> JSONResponse:
    healthy = all(checks.values())
    return JSONResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, status_code=200 if healthy else 503)
