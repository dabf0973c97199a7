"""The runtime's PostgreSQL helpers that need no server."""

import asyncio

import pytest

from karmayogi_runtime.database import while_running

pytestmark = pytest.mark.unit


async def test_work_done_while_a_statement_runs_gets_both_results_and_a_failure_waits_for_the_statement():
    finished: list[str] = []

    async def statement(name: str) -> str:
        await asyncio.sleep(0.01)
        finished.append(name)
        return name

    assert await while_running(statement("insert"), lambda: finished.copy()) == ("insert", [])

    def failing_work() -> None:
        raise ValueError("an event could not be built")

    with pytest.raises(ValueError):
        await while_running(statement("second insert"), failing_work)
    assert finished == ["insert", "second insert"]  # the connection is free again before the rollback
