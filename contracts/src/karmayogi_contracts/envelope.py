"""The CloudEvents 1.0 envelope around a payload, independent of how Kafka carries it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

from .parts import Event
from .registry import kafka_key

SPEC_VERSION = "1.0"
D = TypeVar("D", bound=Event)


@dataclass(frozen=True)
class CloudEvent(Generic[D]):
    """One event: CloudEvents context attributes plus the typed payload in `data`.

    `tenant`, `correlation_id` and `causation_id` travel as the extensions `tenant`,
    `correlationid` and `causationid`; `traceparent` is the W3C trace context.
    """

    id: UUID
    source: str
    type: str
    time: datetime
    subject: str
    tenant: str
    correlation_id: str
    causation_id: str | None
    traceparent: str | None
    data: D

    def __post_init__(self) -> None:
        # Checks that catch a programming error at the producer; decode validates untrusted
        # input field by field before it gets here.
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError("time must be timezone-aware")
        object.__setattr__(self, "time", self.time.astimezone(timezone.utc))
        if self.type != self.data.event_type:
            raise ValueError(f"type {self.type!r} does not match data ({self.data.event_type!r})")
        if self.tenant != self.data.tenant:
            raise ValueError("tenant must equal data.tenant")
        if not self.source:
            raise ValueError("source must not be empty")

    @classmethod
    def validated(cls, **fields: Any) -> CloudEvent[Any]:
        """The envelope of fields a decoder has validated one by one: a `time` in UTC (its tzinfo equal
        to timezone.utc), a `type` and `tenant` equal to data's, a non-empty `source`. It skips
        `__post_init__`, whose checks and copy of `time` would cost more than the rest of building it,
        thousands of times a second."""
        event = cls.__new__(cls)
        event.__dict__.update(fields)
        return event

    @property
    def key(self) -> str:
        return kafka_key(self.tenant, self.data.employee_id)  # type: ignore[attr-defined]

    @property
    def topic(self) -> str:
        return self.data.topic


def new_event(
    data: D,
    *,
    source: str,
    id: UUID | None = None,
    time: datetime | None = None,
    subject: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    traceparent: str | None = None,
) -> CloudEvent[D]:
    """Wrap `data` in an envelope. Pass a deterministic `id` where the fact has one, so a retried
    publish is recognised as the same event; `causation_id` is the id of the event that led here."""
    event_id = id or uuid4()
    return CloudEvent(
        id=event_id,
        source=source,
        type=data.event_type,
        time=time or datetime.now(timezone.utc),
        subject=subject or data.subject,
        tenant=data.tenant,
        correlation_id=correlation_id or str(event_id),
        causation_id=causation_id,
        traceparent=traceparent,
        data=data,
    )
