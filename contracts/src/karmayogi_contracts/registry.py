"""The one place that maps an event type to its topic, key and model."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from pydantic import BaseModel

from .events import ALL_EVENTS

DEAD_LETTER_SUFFIX = ".dlq"
KEY_FORMAT = "<tenant>:<employee_id>"


@dataclass(frozen=True)
class EventType:
    """A registered event type: its CloudEvents type name, its Kafka topic and its payload model.

    Every topic is keyed by `<tenant>:<employee_id>` so one employee's events stay ordered.
    """

    type: str
    topic: str
    model: type[BaseModel]


EVENT_TYPES: Mapping[str, EventType] = MappingProxyType(
    {model.event_type: EventType(model.event_type, model.topic, model) for model in ALL_EVENTS}
)
TOPICS: tuple[str, ...] = tuple(event_type.topic for event_type in EVENT_TYPES.values())


def dead_letter_topic(topic: str) -> str:
    """Where a consumer of `topic` parks what it can never process (DESIGN.md section 4)."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


def kafka_key(tenant: str, employee_id: str) -> str:
    return f"{tenant}:{employee_id}"
