"""The AsyncAPI 3 document of a service, generated from its FastStream app.

FastStream describes the channels, operations and groups it knows from the subscribers and declared
publishers. The runner's handlers take raw Kafka records (they decode CloudEvents themselves, so bad
input can be dead-lettered), so the payload and header schemas come from the contracts package:
every message on a project topic gets its event's JSON Schema and the CloudEvents binary-mode headers.
"""

import json
from typing import Any

from faststream.specification import AsyncAPI
from karmayogi_contracts import EVENT_TYPES

from karmayogi_runtime.consumer import ConsumerRunner
from karmayogi_runtime.service import ServiceDefinition, build_broker

_BY_TOPIC = {event_type.topic: event_type for event_type in EVENT_TYPES.values()}

CLOUDEVENTS_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 Kafka binary mode; structured mode (content-type "
    "application/cloudevents+json) is accepted too.",
    "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_tenant", "content-type"],
    "properties": {
        "ce_id": {"type": "string", "description": "Event id (UUID); the consumers' de-duplication key."},
        "ce_source": {"type": "string", "description": "URI-reference of the publisher."},
        "ce_type": {"type": "string", "description": "Type with major version, e.g. karmayogi.employee.enrolled.v1."},
        "ce_specversion": {"const": "1.0"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "Identity of the fact (enrolment, attendance, ...)."},
        "ce_tenant": {"type": "string", "description": "ISO 3166-2 state code, e.g. IN-HR."},
        "ce_correlationid": {"type": "string"},
        "ce_causationid": {"type": "string"},
        "content-type": {"const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context."},
    },
}


def document(definition: ServiceDefinition) -> dict[str, Any]:
    broker = build_broker(definition)
    ConsumerRunner(None, definition.subscriptions).register(broker)  # type: ignore[arg-type]
    specification = AsyncAPI(
        broker, title=f"Karmayogi {definition.name}", version=definition.version,
        description=definition.description or None, schema_version="3.0.0",
    ).to_specification()
    doc = json.loads(specification.to_json())
    _attach_contracts(doc, definition.settings.kafka_topic_prefix)
    return doc


def _attach_contracts(doc: dict[str, Any], prefix: str) -> None:
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    messages = components.get("messages", {})
    for channel in doc.get("channels", {}).values():
        event_type = _BY_TOPIC.get(channel["address"].removeprefix(prefix))
        if event_type is None:
            continue
        model = event_type.model
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        channel.setdefault("description", model.__doc__)
        for reference in channel.get("messages", {}).values():
            message = messages[reference["$ref"].rsplit("/", 1)[-1]]
            message["payload"] = {"$ref": f"#/components/schemas/{model.__name__}"}
            message["headers"] = CLOUDEVENTS_HEADERS
            message["contentType"] = "application/json"
            message["correlationId"] = {"location": "$message.header#/ce_correlationid"}
            message["name"] = event_type.type
            message["bindings"] = {"kafka": {"key": {"type": "string", "description": "<tenant>:<employee_id>"}}}
    for name in [n for n, s in schemas.items() if n not in _referenced(doc)]:
        del schemas[name]  # FastStream's empty placeholder payloads


def _referenced(doc: dict[str, Any]) -> set[str]:
    text = json.dumps(doc)
    return {name for name in doc["components"]["schemas"] if f'"#/components/schemas/{name}"' in text}
