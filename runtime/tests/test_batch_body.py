"""What the runner's batch handler is given: the records and their consumer, freed as soon as the runner
is done with them (a cycle would keep every batch's records until the garbage collector walked them)."""

import gc
import weakref
from types import SimpleNamespace

from karmayogi_runtime.records import raw_batch, undecoded


async def test_a_batch_hands_over_its_records_and_is_freed_without_the_garbage_collector():
    consumer = object()
    records = tuple(SimpleNamespace(topic="session.attended", partition=0, offset=n, key=None, value=b"{}",
                                    headers=()) for n in range(3))
    message = await raw_batch({"subscriber": SimpleNamespace(consumer=consumer)})(records)
    message.set_decoder(undecoded)  # as FastStream does before calling the handler
    batch = await message.decode()
    assert batch.records == records and batch.consumer is consumer

    freed = weakref.ref(message)
    gc.disable()
    try:
        del message, batch
        assert freed() is None
    finally:
        gc.enable()
