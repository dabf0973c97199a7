"""Kafka records as the consumer runner takes them: FastStream hands the batch over undecoded, and each
record's message id is read from its `ce_id` header before decoding, or from its event after."""

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from faststream.kafka.message import KafkaAckableMessage
from karmayogi_contracts import CloudEvent, DecodeError


class Record(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def named_id(record: Record) -> str | None:
    """The message id the record's `ce_id` header names, when it is written as `decode` would give
    it back (a lowercase UUID); otherwise None, and the id is known only once decoded."""
    for name, value in record.headers or ():
        if name == "ce_id":
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else ""
            return text if _UUID_TEXT.fullmatch(text) else None
    return None


def id_of(record: Record, event: CloudEvent | DecodeError) -> str:
    """The record's message id: its event's id, or, when it is not one, where it was in the topic."""
    if isinstance(event, CloudEvent):
        return str(event.id)
    return f"{record.topic}:{record.partition}:{record.offset}"


def raw_batch(holder: dict[str, Any]) -> Callable[..., Awaitable[KafkaAckableMessage]]:
    """FastStream parser that wraps the records as they are. FastStream's own decodes every header as
    UTF-8, so one record with a binary header would fail the whole batch before the runner could
    dead-letter it; the runner decodes CloudEvents itself."""

    async def parse(records: tuple[Any, ...], _default: Any = None) -> KafkaAckableMessage:
        first, last = records[0], records[-1]
        return KafkaAckableMessage(
            raw_message=records, body=b"", consumer=holder["subscriber"].consumer,
            message_id=f"{first.topic}-{first.partition}-{first.offset}-{last.offset}",
        )

    return parse


async def undecoded(message: Any) -> None:
    """FastStream decoder that leaves the bytes alone: the runner decodes CloudEvents itself."""
    return None
