"""The AsyncAPI 3 document of a service, generated from its FastStream app.

FastStream describes the channels, operations and groups it knows from the subscribers and declared
publishers. The runner's handlers take raw Kafka records (they decode CloudEvents themselves, so bad
input can be dead-lettered), so the payload and header schemas come from the contracts package:
every message on a project topic gets its event's JSON Schema and the CloudEvents binary-mode headers,
and every topic a service consumes gets a second message, the same event in structured mode (the whole
event as one JSON document), which the consumers accept too.
"""

import dataclasses
import json
from typing import Any

from faststream.specification import AsyncAPI
from karmayogi_contracts import EVENT_TYPES, EventType
from karmayogi_contracts.attributes import REQUIRED, Attributes

from karmayogi_runtime.consumer import ConsumerRunner
from karmayogi_runtime.service import ServiceDefinition, build_broker

_BY_TOPIC = {event_type.topic: event_type for event_type in EVENT_TYPES.values()}

CLOUDEVENTS_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 Kafka binary mode: the context in headers, the payload as the value.",
    "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_tenant"],
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
        "content-type": {"type": "string", "pattern": "^application/json *(;.*)?$",
                         "description": "application/json, the default when absent."},
        "traceparent": {"type": "string", "description": "W3C trace context."},
    },
}
STRUCTURED_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 Kafka structured mode: the whole event is the value; other ce_ headers are not read.",
    "required": ["content-type"],
    "properties": {
        "content-type": {"type": "string", "pattern": "^application/cloudevents\\+json *(;.*)?$"},
        "traceparent": {"type": "string", "description": "W3C trace context, when the event carries none."},
    },
}

_KEY = {"kafka": {"key": {"type": "string", "description": "<tenant>:<employee_id>"}}}
# The CloudEvents attributes of a structured-mode event, as its JSON document names them.
_ATTRIBUTES = Attributes.model_json_schema()["properties"]


def document(definition: ServiceDefinition) -> dict[str, Any]:
    """The document; its server is the brokers of KAFKA_BOOTSTRAP_SERVERS, and it names none when that is not
    set (FastStream always names one: it is given a placeholder, removed once the document is made)."""
    brokers = definition.settings.kafka_bootstrap_servers
    if brokers is None:
        settings = definition.settings.model_copy(update={"kafka_bootstrap_servers": "unnamed:9092"})
        definition = dataclasses.replace(definition, settings=settings)
    broker = build_broker(definition)
    ConsumerRunner(None, definition.subscriptions).register(broker)  # type: ignore[arg-type]
    specification = AsyncAPI(
        broker, title=f"Karmayogi {definition.name}", version=definition.version,
        description=definition.description or None, schema_version="3.0.0",
    ).to_specification()
    doc = json.loads(specification.to_json())
    _attach_contracts(doc, definition.settings.kafka_topic_prefix)
    if brokers is None:
        doc.pop("servers", None)
        for channel in doc.get("channels", {}).values():
            channel.pop("servers", None)
    return doc


def _attach_contracts(doc: dict[str, Any], prefix: str) -> None:
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    messages = components.get("messages", {})
    received = {operation["channel"]["$ref"].rsplit("/", 1)[-1] for operation in doc.get("operations", {}).values()
                if operation["action"] == "receive"}
    for channel_name, channel in doc.get("channels", {}).items():
        event_type = _BY_TOPIC.get(channel["address"].removeprefix(prefix))
        if event_type is None:
            continue
        model = event_type.model
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        channel.setdefault("description", model.__doc__)
        for key, reference in list(channel.get("messages", {}).items()):
            message = messages[reference["$ref"].rsplit("/", 1)[-1]]
            message["payload"] = {"$ref": f"#/components/schemas/{model.__name__}"}
            message["headers"] = CLOUDEVENTS_HEADERS
            message["contentType"] = "application/json"
            message["correlationId"] = {"location": "$message.header#/ce_correlationid"}
            message["name"] = event_type.type
            message["bindings"] = _KEY
            if channel_name in received:
                _add_structured(doc, channel_name, key, reference["$ref"].rsplit("/", 1)[-1], event_type)
    for name in [n for n, s in schemas.items() if n not in _referenced(doc)]:
        del schemas[name]  # FastStream's empty placeholder payloads


def _add_structured(doc: dict[str, Any], channel_name: str, key: str, message_name: str, event_type: EventType) -> None:
    """Beside binary message `key` of a channel the service consumes, the same event in structured mode, in the
    channel and in the operations that receive it."""
    doc["components"]["messages"][f"{message_name}Structured"] = {
        "name": f"{event_type.type} (structured)",
        "title": f"{event_type.type}, structured mode",
        "contentType": "application/cloudevents+json",
        "headers": STRUCTURED_HEADERS,
        "payload": {
            "type": "object",
            "required": [*REQUIRED, "data"],
            "properties": {**_ATTRIBUTES, "type": {"const": event_type.type},
                           "datacontenttype": {"const": "application/json"},
                           "data": {"$ref": f"#/components/schemas/{event_type.model.__name__}"}},
        },
        "correlationId": {"location": "$message.payload#/correlationid"},
        "bindings": _KEY,
    }
    doc["channels"][channel_name]["messages"][f"{key}Structured"] = {"$ref": f"#/components/messages/{message_name}Structured"}
    for operation in doc.get("operations", {}).values():
        if operation["channel"]["$ref"] == f"#/channels/{channel_name}":
            operation["messages"].append({"$ref": f"#/channels/{channel_name}/messages/{key}Structured"})


def _referenced(doc: dict[str, Any]) -> set[str]:
    text = json.dumps(doc)
    return {name for name in doc["components"]["schemas"] if f'"#/components/schemas/{name}"' in text}
