"""The deadline every coroutine test runs under (karmayogi_runtime.testing): a test that waits for something
that never comes fails, saying so, instead of holding up the whole run."""

import asyncio

import pytest
from karmayogi_runtime.testing import _with_deadline

pytestmark = pytest.mark.unit


async def test_a_test_that_waits_past_its_deadline_fails_and_keeps_where_it_waited():
    async def waits_forever():
        await asyncio.Event().wait()

    with pytest.raises(AssertionError, match="did not finish within 0 s") as failure:
        await _with_deadline(waits_forever, 0.05)()

    assert isinstance(failure.value.__context__, TimeoutError)
    assert isinstance(failure.value.__context__.__context__, asyncio.CancelledError)


async def test_a_timeout_of_the_test_s_own_is_its_own_failure():
    async def times_out_itself():
        await asyncio.wait_for(asyncio.Event().wait(), timeout=0.01)

    with pytest.raises(TimeoutError):
        await _with_deadline(times_out_itself, 60)()


async def test_a_test_within_its_deadline_passes_its_arguments_and_result_through():
    async def adds(a, *, b):
        return a + b

    assert await _with_deadline(adds, 60)(1, b=2) == 3
