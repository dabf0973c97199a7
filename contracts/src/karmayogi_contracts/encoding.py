"""Putting a CloudEvent on Kafka: binary mode (what our services publish) and structured mode."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .envelope import SPEC_VERSION, CloudEvent

JSON = "application/json"
CLOUDEVENTS_JSON = "application/cloudevents+json"


@dataclass(frozen=True)
class KafkaRecord:
    """Everything a Kafka producer needs: send `value` to `topic` with `key` and `headers`."""

    topic: str
    key: bytes
    headers: tuple[tuple[str, bytes], ...]
    value: bytes


def rfc3339(moment: datetime) -> str:
    # The same spelling pydantic uses inside data, so every timestamp on the wire looks alike.
    return moment.isoformat().replace("+00:00", "Z")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode(event: CloudEvent[Any]) -> KafkaRecord:
    """Binary mode: context attributes as `ce_` headers, the value is `data` as JSON."""
    headers = [(f"ce_{name}", value) for name, value in _attributes(event) if name != "traceparent"]
    headers.append(("content-type", JSON))
    if event.traceparent:
        headers.append(("traceparent", event.traceparent))
    return _record(event, headers, dumps(event.data.model_dump(mode="json")))


def encode_structured(event: CloudEvent[Any]) -> KafkaRecord:
    """Structured mode: the whole event as one JSON document (application/cloudevents+json)."""
    document: dict[str, Any] = dict(_attributes(event))
    document["datacontenttype"] = JSON
    document["data"] = event.data.model_dump(mode="json")
    headers = [("content-type", CLOUDEVENTS_JSON)]
    if event.traceparent:
        # Also as a header, so tracing middleware that reads only headers still finds it.
        headers.append(("traceparent", event.traceparent))
    return _record(event, headers, dumps(document))


def _attributes(event: CloudEvent[Any]) -> list[tuple[str, str]]:
    pairs = [
        ("id", str(event.id)),
        ("source", event.source),
        ("type", event.type),
        ("specversion", SPEC_VERSION),
        ("time", rfc3339(event.time)),
        ("subject", event.subject),
        ("tenant", event.tenant),
        ("correlationid", event.correlation_id),
        ("causationid", event.causation_id),
        ("traceparent", event.traceparent),
    ]
    return [(name, value) for name, value in pairs if value is not None]


def _record(event: CloudEvent[Any], headers: list[tuple[str, str]], value: bytes) -> KafkaRecord:
    return KafkaRecord(
        topic=event.topic,
        key=event.key.encode("utf-8"),
        headers=tuple((name, text.encode("utf-8")) for name, text in headers),
        value=value,
    )
