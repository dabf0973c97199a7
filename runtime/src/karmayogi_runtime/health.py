"""Health endpoints every service exposes.

- `/health/live`: the process is doing its job: every consume loop and the outbox relay are running.
  A failure here means "restart me".
- `/health/ready`: the service has started and PostgreSQL answers, so it can take traffic. Kafka is
  not required: the API's writes go to the outbox and wait there for the relay, and its reads (the
  public certificate verification among them) need only PostgreSQL, so a Kafka outage or a broker roll
  must not take the API out of the Kubernetes Service. Whether Kafka answers is in the body all the
  same (`checks.kafka`; `status` is then `degraded`), with the outbox backlog (pending rows, age of the
  oldest, and the rows this replica's relay holds back for being too large for Kafka: a per-replica count,
  see held_back.py) for operators and the tests.
"""

from collections.abc import Awaitable, Callable, Sequence
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
        return _answer(checks, needed=("postgresql",), body=body)

    return router


async def _check(probe: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await probe()
    except Exception:
        return False


def _answer(checks: dict[str, bool], *, needed: Sequence[str] | None = None, body: dict[str, Any] | None = None
            ) -> JSONResponse:
    """200 while the `needed` checks pass (all of them by default), else 503; `status` is `degraded` when
    only a check that is not needed fails."""
    passing = all(checks[name] for name in (checks if needed is None else needed))
    status = "ok" if all(checks.values()) else "degraded" if passing else "unavailable"
    return JSONResponse({"status": status, "checks": checks, **(body or {})}, status_code=200 if passing else 503)
