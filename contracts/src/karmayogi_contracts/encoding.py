"""Putting a CloudEvent on Kafka: binary mode (what our services publish) and structured mode."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .envelope import SPEC_VERSION, CloudEvent

JSON = "application/json"
CLOUDEVENTS_JSON = "application/cloudevents+json"
_JSON, _SPEC_VERSION = JSON.encode(), SPEC_VERSION.encode()


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
    """Binary mode: context attributes as `ce_` headers, the value is `data` as JSON.

    Every outbox encodes each event it publishes here (300,000 for one bulk enrolment file), so the
    headers are spelled out and pydantic-core writes `data` straight to UTF-8 JSON: the document
    `dumps(data.model_dump(mode="json"))` gives, in a third of the time."""
    headers = [("ce_id", str(event.id).encode()), ("ce_source", event.source.encode()),
               ("ce_type", event.type.encode()), ("ce_specversion", _SPEC_VERSION),
               ("ce_time", _rfc3339_bytes(event.time)), ("ce_subject", event.subject.encode()),
               ("ce_tenant", event.tenant.encode()), ("ce_correlationid", event.correlation_id.encode())]
    if event.causation_id is not None:
        headers.append(("ce_causationid", event.causation_id.encode()))
    headers.append(("content-type", _JSON))
    if event.traceparent:
        headers.append(("traceparent", event.traceparent.encode()))
    data = event.data
    return KafkaRecord(event.topic, event.key.encode(), tuple(headers), data.__pydantic_serializer__.to_json(data))


@functools.lru_cache(maxsize=64)  # the events of one transaction share their time
def _rfc3339_bytes(moment: datetime) -> bytes:
    return rfc3339(moment).encode()


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
