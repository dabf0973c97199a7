"""The largest record the services send to Kafka, and a record's size as the producer reckons it.

`MAX_RECORD_BYTES` is aiokafka's default request size, kept explicit (Kafka's default limit,
message.max.bytes, is a few bytes above it); the relay's producer is given it (broker.py). A dead letter
is kept under it (dead_letter.py), and an outbox row over it is held back rather than sent (held_back.py):
a record the broker rejects would leave the idempotent producer's sequence for its partition broken.

No imports: the pure modules (dead letters) use it without pulling in a Kafka client.
"""

from collections.abc import Sequence

MAX_RECORD_BYTES = 1_048_576

# A batch's header (61 bytes: offsets, CRC, timestamps, producer id and epoch...) and the most a record's
# own framing adds to it (21 bytes), as aiokafka's `DefaultRecordBatchBuilder.estimate_size_in_bytes`
# counts them; test_dead_letter.py checks that the two agree.
_BATCH_HEADER_BYTES = 61
_RECORD_OVERHEAD_BYTES = 21


def record_bytes(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> int:
    """The size of a record sent in a batch of its own, as the producer reckons it against its limit."""
    size = _BATCH_HEADER_BYTES + _RECORD_OVERHEAD_BYTES + _field(key) + _varint(len(headers))
    for name, value_of_header in headers:
        size += _field(name.encode()) + _field(value_of_header)
    return size + _field(value)


def _field(data: bytes | None) -> int:
    """A length-prefixed field: its length as a varint, then its bytes (null is a length of -1)."""
    return 1 if data is None else _varint(len(data)) + len(data)


def _varint(number: int) -> int:
    """The bytes of `number` as Kafka's zig-zag varint: 7 bits per byte."""
    zigzag = (number << 1) ^ (number >> 63)
    return max(1, (zigzag.bit_length() + 6) // 7)
