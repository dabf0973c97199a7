"""Dead letters: a message that can never be handled goes to `<topic>.dlq`, with headers that say
why, and its offset is then committed, so one bad event never blocks the events behind it.

The dead letter is written to the outbox in the handler's transaction (with the inbox row), so it is
published once the transaction commits. Like every outbox row it may be published more than once when
the relay dies between Kafka's acknowledgement and marking the row sent; each dead letter therefore
carries `dlq_id` (consumer group, original topic, partition, offset), and readers keep one per id.

A dead letter is kept under the size Kafka takes (`limits.MAX_RECORD_BYTES`): when the original record,
accepted near that limit, would be over it with the failure's headers, the dead letter carries the
headers without the value and says so (`dlq_value_omitted`, the value's size). Such a letter says why
the event failed and where it is in the original topic, but cannot be replayed from the dead-letter topic.

A replay carries its replay id and the place of the dead letter it replays (`dlq_replay_id`,
`dlq_replay_of`); a replay that fails again keeps both on its new dead letter, so an operator can tell it
from a new failure and find the letter it came from.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from karmayogi_contracts import KafkaRecord, dead_letter_topic

from karmayogi_runtime.limits import MAX_RECORD_BYTES, record_bytes

PREFIX = "dlq_"
REPLAY_HEADER = "dlq_replay_id"
REPLAY_OF = "dlq_replay_of"  # "<partition>@<offset>" of the replayed dead letter, in the same dead-letter topic
VALUE_OMITTED = "dlq_value_omitted"
MAX_MESSAGE_CHARACTERS = 2000  # of the error message: enough for the reason, never the size of an event


@dataclass(frozen=True)
class Failure:
    """Why a message was dead-lettered and how hard we tried."""

    error_class: str
    message: str
    attempts: int
    first_attempt_at: datetime
    last_attempt_at: datetime


@dataclass(frozen=True)
class Origin:
    """Where the message was read from, and by whom."""

    consumer_group: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: Sequence[tuple[str, bytes]]
    value: bytes | None


def dead_letter(origin: Origin, failure: Failure, *, max_bytes: int = MAX_RECORD_BYTES) -> KafkaRecord:
    """The record to publish on the dead-letter topic: the original bytes, plus headers naming the failure;
    without the original value when the record would be over `max_bytes` with it."""
    described = {
        "id": identity(origin.consumer_group, origin.topic, origin.partition, origin.offset),
        "error_class": failure.error_class,
        "error_message": failure.message[:MAX_MESSAGE_CHARACTERS],
        "consumer_group": origin.consumer_group,
        "original_topic": origin.topic,
        "original_partition": str(origin.partition),
        "original_offset": str(origin.offset),
        "attempts": str(failure.attempts),
        "first_attempt_at": failure.first_attempt_at.isoformat(),
        "last_attempt_at": failure.last_attempt_at.isoformat(),
    }
    # Of the earlier round's headers only the replay's survive: they belong to this failure.
    described |= {n.removeprefix(PREFIX): v.decode("utf-8", "replace") for n, v in origin.headers
                  if n in (REPLAY_HEADER, REPLAY_OF)}
    headers = [(n, v) for n, v in origin.headers if not n.startswith(PREFIX)]
    headers += [(PREFIX + name, value.encode()) for name, value in described.items()]
    key, value = origin.key or b"", origin.value or b""
    if record_bytes(key, value, headers) > max_bytes:
        headers.append((VALUE_OMITTED, str(len(value)).encode()))
        value = b""
    return KafkaRecord(topic=dead_letter_topic(origin.topic), key=key, headers=tuple(headers), value=value)


def omitted_value_size(headers: Sequence[tuple[str, bytes]]) -> int | None:
    """The size of the original value when the dead letter had to leave it out, else None."""
    for name, value in headers:
        if name == VALUE_OMITTED:
            return int(value)
    return None


def identity(consumer_group: str, topic: str, partition: int, offset: int) -> str:
    """Which failure a dead letter reports: one consumer group failing one message of the log."""
    return f"{consumer_group}/{topic}/{partition}/{offset}"


def description(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """The `dlq_*` headers of a dead letter, without the prefix (for the operator CLI and tests)."""
    return {n.removeprefix(PREFIX): v.decode("utf-8", "replace") for n, v in headers if n.startswith(PREFIX)}


def replay(dead: KafkaRecord, replay_id: str, partition: int, offset: int) -> KafkaRecord:
    """The record an operator's replay publishes back to the original topic, for the dead letter at
    `partition` and `offset` of its dead-letter topic. A dead letter without its original value cannot be
    replayed (`ValueError`): publishing it would send an empty event."""
    omitted = omitted_value_size(dead.headers)
    if omitted is not None:
        raise ValueError(f"the dead letter {description(dead.headers).get('id')} does not carry its original value "
                         f"({omitted} bytes, too large to keep with the failure's headers)")
    headers = dict(description(dead.headers))
    original = [(n, v) for n, v in dead.headers if not n.startswith(PREFIX)]
    return KafkaRecord(
        topic=headers["original_topic"],
        key=dead.key,
        headers=tuple(original + [(REPLAY_HEADER, replay_id.encode()), (REPLAY_OF, f"{partition}@{offset}".encode())]),
        value=dead.value,
    )
