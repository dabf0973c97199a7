"""Dead letters: a message that can never be handled goes to `<topic>.dlq`, with headers that say
why, and its offset is then committed, so one bad event never blocks the events behind it.

The dead letter is written to the outbox in the handler's transaction (with the inbox row), so it is
published once the transaction commits. Like every outbox row it may be published more than once when
the relay dies between Kafka's acknowledgement and marking the row sent; each dead letter therefore
carries `dlq_id` (consumer group, original topic, partition, offset), and readers keep one per id.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from karmayogi_contracts import KafkaRecord, dead_letter_topic

PREFIX = "dlq_"
REPLAY_HEADER = "dlq_replay_id"


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


def dead_letter(origin: Origin, failure: Failure) -> KafkaRecord:
    """The record to publish on the dead-letter topic: the original bytes, plus headers naming the failure."""
    described = {
        "id": identity(origin.consumer_group, origin.topic, origin.partition, origin.offset),
        "error_class": failure.error_class,
        "error_message": failure.message[:2000],
        "consumer_group": origin.consumer_group,
        "original_topic": origin.topic,
        "original_partition": str(origin.partition),
        "original_offset": str(origin.offset),
        "attempts": str(failure.attempts),
        "first_attempt_at": failure.first_attempt_at.isoformat(),
        "last_attempt_at": failure.last_attempt_at.isoformat(),
    }
    headers = [(n, v) for n, v in origin.headers if not n.startswith(PREFIX)]
    headers += [(PREFIX + name, value.encode()) for name, value in described.items()]
    return KafkaRecord(
        topic=dead_letter_topic(origin.topic),
        key=origin.key or b"",
        headers=tuple(headers),
        value=origin.value or b"",
    )


def identity(consumer_group: str, topic: str, partition: int, offset: int) -> str:
    """Which failure a dead letter reports: one consumer group failing one message of the log."""
    return f"{consumer_group}/{topic}/{partition}/{offset}"


def description(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """The `dlq_*` headers of a dead letter, without the prefix (for the operator CLI and tests)."""
    return {n.removeprefix(PREFIX): v.decode("utf-8", "replace") for n, v in headers if n.startswith(PREFIX)}


def replay(dead: KafkaRecord, replay_id: str) -> KafkaRecord:
    """The record an operator's replay publishes back to the original topic."""
    headers = dict(description(dead.headers))
    original = [(n, v) for n, v in dead.headers if not n.startswith(PREFIX)]
    return KafkaRecord(
        topic=headers["original_topic"],
        key=dead.key,
        headers=tuple(original + [(REPLAY_HEADER, replay_id.encode())]),
        value=dead.value,
    )
