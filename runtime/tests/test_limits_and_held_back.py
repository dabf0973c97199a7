"""Record sizes as the producer reckons them, and the outbox keys held back for a row too large for Kafka."""

from contextlib import asynccontextmanager

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from karmayogi_runtime.held_back import HeldBack, too_large
from karmayogi_runtime.limits import MAX_RECORD_BYTES, record_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("key, value, headers", [
    (b"IN-HR:HR-000123", b'{"a": 1}', [("ce_id", b"0b9c"), ("ce_type", b"karmayogi.session.attended.v1")]),
    (b"", b"", []),
    (None, None, [("nothing", None)]),
    (b"k" * 200, b"v" * 16_384, [("h" * 130, b"x" * 300)] * 70),
    (b"IN-HR:E", b"v" * (MAX_RECORD_BYTES + 5), [("उपस्थिति", "हाँ".encode())]),
])
def test_a_records_size_is_the_one_the_producer_checks_against_its_limit(key, value, headers):
    assert record_bytes(key, value, headers) == DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)


def _row(id: int, key: bytes, value_bytes: int) -> dict:
    return {"id": id, "topic": "employee.enrolled", "key": key, "value": b" " * value_bytes,
            "header_names": ["ce_id"], "header_values": [b"x"]}


@pytest.mark.parametrize("names", [["ce_id"], ["ce_id", "ce_type", "उपस्थिति"] * 10])
def test_a_row_near_the_limit_is_measured_exactly(names):
    headers = [(name, "हाँ".encode() * 40) for name in names]
    framing = record_bytes(b"IN-HR:HR-1", b"", headers)
    for value_bytes in range(MAX_RECORD_BYTES - framing - 600, MAX_RECORD_BYTES - framing + 4):
        row = {"key": b"IN-HR:HR-1", "value": b" " * value_bytes, "header_names": names,
               "header_values": [value for _, value in headers]}
        size = record_bytes(row["key"], row["value"], headers)
        assert too_large(row) == (size if size > MAX_RECORD_BYTES else None), value_bytes


def test_a_row_too_large_holds_back_itself_and_the_later_rows_of_its_key_only():
    held = HeldBack(1.0)
    rows = [_row(1, b"A", 10), _row(2, b"B", MAX_RECORD_BYTES), _row(3, b"B", 10), _row(4, b"C", 10)]

    assert [row["id"] for row in held.publishable(rows)] == [1, 4]
    assert held.keys == (b"B",)


class _Outbox:
    """A pool whose outbox has the given first pending rows of the held keys; counts the looks."""

    def __init__(self, firsts: list[dict]) -> None:
        self.firsts, self.looks = firsts, 0

    @asynccontextmanager
    async def acquire(self):
        yield self

    async def fetch(self, sql: str, keys: list[bytes]) -> list[dict]:
        self.looks += 1
        return [row for row in self.firsts if row["key"] in keys]


async def test_a_held_key_is_looked_at_again_once_per_interval_and_released_when_its_first_row_fits():
    now = [100.0]
    held = HeldBack(1.0, clock=lambda: now[0])
    held.publishable([_row(2, b"B", MAX_RECORD_BYTES)])
    outbox = _Outbox([_row(2, b"B", MAX_RECORD_BYTES)])

    now[0] += 1.0
    await held.look_again(outbox)  # still too large
    now[0] += 0.5
    await held.look_again(outbox)  # within the interval: not looked at
    assert (outbox.looks, held.keys) == (1, (b"B",))

    outbox.firsts = [_row(3, b"B", 10)]  # the operator deleted row 2
    now[0] += 0.5
    await held.look_again(outbox)

    assert (outbox.looks, held.keys) == (2, ())
