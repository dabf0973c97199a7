"""Kafka records as the consumer runner takes them: FastStream hands the batch over undecoded, and each
record's message id is its event's id, or, for a record that is not an event, its place in the topic."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Batch:
    """A polled batch as the runner takes it: its records, and the consumer that read them (to commit their
    offsets, or to read them again)."""

    records: tuple[Record, ...]
    consumer: Any


async def undecoded(message: KafkaAckableMessage) -> Batch:
    """FastStream decoder that leaves the bytes alone and hands the handler the `Batch` as its body: the
    runner decodes CloudEvents itself. (Asking for the message by annotation instead would have FastStream's
    dependency injection look it up in a worker thread for every batch; and the message itself as its body
    would be a cycle, message to its cache of bodies to message, keeping every batch's records until the
    garbage collector walked them.)"""
    return Batch(message.raw_message, message.consumer)  # `raw_batch` made it of the polled records
