"""Reading a Kafka record back into a CloudEvent. Untrusted input: never raises, every failure
is a DecodeError that names the field and the rule (docs/adr/0002-contract-versioning.md)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator, core_schema

from .attributes import OPTIONAL, REQUIRED, Attributes, header_name
from .encoding import CLOUDEVENTS_JSON, JSON
from .envelope import SPEC_VERSION, CloudEvent
from .errors import DecodeError, describe
from .fields import models_built_anew, with_compiled_dates
from .registry import EVENT_TYPES

MAX_BYTES = 1_048_576
_BINARY = tuple((name, header_name(name)) for name in (*REQUIRED, *OPTIONAL))
_TEXT = bytes.decode  # UTF-8, strict, and only for bytes
_MISSING_REQUIRED_HINT = " (or send content-type: application/cloudevents+json for structured mode)"
_ID_LIMIT = 200  # how much of an unreadable id or type is echoed back in a DecodeError
_ATTRIBUTES = Attributes.__pydantic_validator__  # the compiled validator, without model_validate's wrapper


# Where a binary record's value joins its headers as the short way's input. Headers of other names are
# ignored, and the value is put in last, so a header of this name changes nothing.
_VALUE = "\x00value"
# Each CloudEvent field and the attribute header that carries it in binary mode.
_FIELDS = {"id": "id", "source": "source", "type": "type", "time": "time", "subject": "subject", "tenant": "tenant",
           "correlation_id": "correlationid", "causation_id": "causationid", "traceparent": "traceparent"}
_COMPILED_ATTRIBUTES = with_compiled_dates(Attributes.__pydantic_core_schema__)["schema"]["fields"]
_FROM_HEADERS = [core_schema.dataclass_field(name, _COMPILED_ATTRIBUTES[attribute]["schema"],
                                             validation_alias=header_name(attribute)) for name, attribute in _FIELDS.items()]


def _short_way(model: type[BaseModel]) -> SchemaValidator:
    """A binary record's headers (by name, as text) and value (`_VALUE`) straight into its CloudEvent of
    `model`, in one step inside pydantic-core: each attribute read by `Attributes`' rule from its header,
    the payload parsed and validated by `model`'s, with dates and date-times read without calls into Python.
    It accepts what the rules accept, or less, into equal values; only its success counts (a failure
    takes the exact path). Left to `_valid_binary`: specversion, the tenants' equality, the defaults."""
    payload = with_compiled_dates(model.__pydantic_core_schema__)
    fields = [*_FROM_HEADERS, core_schema.dataclass_field("data", core_schema.json_schema(payload), validation_alias=_VALUE)]
    arguments = core_schema.dataclass_args_schema(CloudEvent.__name__, fields)
    with models_built_anew(payload):
        return SchemaValidator(core_schema.dataclass_schema(CloudEvent, arguments, [f["name"] for f in fields]))


_SHORT_WAYS = {name: _short_way(event_type.model) for name, event_type in EVENT_TYPES.items()}


class _Rejected(Exception):
    """Internal: carries a DecodeError out of nested checks; never leaves this module."""

    def __init__(self, error: DecodeError) -> None:
        self.error = error


def decode(
    value: bytes | None, headers: Sequence[tuple[str, bytes]] | None, *, topic: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> CloudEvent[Any] | DecodeError:
    """Decode a record in binary or structured mode into a typed CloudEvent, or say why not. Given the
    `topic` the record was read from, an event of a type that belongs on another topic is a `wrong_topic`
    error, rather than an event the topic's consumers were not written for."""
    context: dict[str, str] = {}
    try:
        valid = _valid_binary(value, headers or (), max_bytes)
        if valid is not None and (topic is None or valid.data.topic == topic):
            return valid
        return _decode(value, headers or (), max_bytes, topic, context)
    except _Rejected as rejected:
        return rejected.error
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"; the fuzz tests assert this is unreachable
        return _error("internal_error", f"could not decode the record ({type(exc).__name__})", context)


def _decode(value: bytes | None, headers: Sequence[tuple[str, bytes]], max_bytes: int, topic: str | None,
            context: dict[str, str]):
    fields = _headers(headers)
    context.update(type=_readable(fields.get("ce_type")), id=_readable(fields.get("ce_id")))
    if value is None:
        raise _reject("missing_value", "the record has no value; an event needs a JSON body", context)
    if len(value) > max_bytes:
        raise _reject("too_large", f"value is {len(value)} bytes; the limit is {max_bytes} bytes", context)
    content_type = fields.get("content-type", "").split(";")[0].strip().lower()
    if content_type == CLOUDEVENTS_JSON:
        attributes, data = _structured(value, fields, context)
        return _event(attributes, data, "", "invalid_attribute", topic, context)
    if content_type not in ("", JSON):
        raise _reject(
            "unsupported_content_type",
            f"content-type {content_type[:100]!r} is not supported; use {JSON} (binary mode) "
            f"or {CLOUDEVENTS_JSON} (structured mode)",
            context,
        )
    attributes = _binary_attributes(fields, context)
    return _event(attributes, _json(value, "value", context), "ce_", "invalid_header", topic, context)


def _valid_binary(value: bytes | None, headers: Sequence[tuple[str, bytes]], max_bytes: int) -> CloudEvent[Any] | None:
    """The event, when a binary-mode record is valid in every respect; otherwise None, and `_decode`
    goes through the rules in their order to say which one is broken.

    What nearly every record is gets the short way: one pass over the headers, then the attributes and
    the payload validated into the event in one step inside pydantic-core (`_short_way`). That
    JSON parser accepts what `json.loads` accepts, or less, except NaN and Infinity, which
    `json.loads` is told to refuse: a value naming them takes the long way."""
    if type(value) is not bytes or len(value) > max_bytes or b"NaN" in value or b"Infinity" in value:
        return None
    try:
        fields = {name: _TEXT(raw) for name, raw in headers}  # TypeError unless every value is bytes
        names = "".join(fields)  # TypeError unless every name is a str
        if len(fields) != len(headers) or names != names.lower():
            return None  # a name sent twice, or spelt in capitals: the exact path reads it as it should
    except (TypeError, ValueError):
        return None
    content_type = fields.get("content-type")
    if content_type is not None and content_type.split(";")[0].strip().lower() not in ("", JSON):
        return None
    short_way = _SHORT_WAYS.get(fields.get("ce_type", ""))
    if short_way is None or fields.get("ce_specversion") != SPEC_VERSION:
        return None
    fields[_VALUE] = value
    try:
        event = short_way.validate_python(fields)
    except ValidationError:
        return None
    return _with_defaults(event) if event.tenant == event.data.tenant else None


def _headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, raw in headers:
        if type(name) is not str:
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        name = name.lower()
        try:
            text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else ("" if raw is None else str(raw))
        except UnicodeDecodeError:
            raise _reject("invalid_header", f"header {name[:100]}: value is not valid UTF-8", {}) from None
        if fields.setdefault(name, text) != text:
            raise _reject("invalid_header", f"header {name[:100]}: sent more than once with different values", {})
    return fields


def _binary_attributes(fields: dict[str, str], context: dict[str, str]) -> dict[str, Any]:
    attributes = {name: fields[header] for name, header in _BINARY if header in fields}
    for name in REQUIRED:
        if name not in attributes:
            message = f"{header_name(name)}: header is required in binary mode{_MISSING_REQUIRED_HINT}"
            raise _reject("missing_header", message, context)
    return attributes


def _structured(value: bytes, fields: dict[str, str], context: dict[str, str]) -> tuple[dict[str, Any], Any]:
    document = _json(value, "value", context)
    if not isinstance(document, dict):
        raise _reject("invalid_envelope", "a structured event must be a JSON object", context)
    context.update(type=_readable(document.get("type")), id=_readable(document.get("id")))
    for name in (*REQUIRED, "data"):
        if name not in document:
            raise _reject("missing_attribute", f"{name}: attribute is required in a structured event", context)
    content_type = document.get("datacontenttype", JSON)
    if content_type != JSON:
        raise _reject("invalid_attribute", f"datacontenttype: must be {JSON!r}", context)
    attributes = {name: document[name] for name in (*REQUIRED, *OPTIONAL) if name in document}
    if "traceparent" not in attributes and "traceparent" in fields:
        attributes["traceparent"] = fields["traceparent"]
    return attributes, document["data"]


def _event(attributes: dict[str, Any], data: Any, prefix: str, reason: str, topic: str | None, context: dict[str, str]):
    event_type = EVENT_TYPES.get(attributes["type"]) if isinstance(attributes["type"], str) else None
    if event_type is None:
        known = ", ".join(EVENT_TYPES)
        raise _reject("unknown_type", f"{prefix}type: unknown event type; known types are {known}", context)
    if topic is not None and event_type.topic != topic:
        message = f"{prefix}type: a {attributes['type']} event belongs on the {event_type.topic} topic, not {topic}"
        raise _reject("wrong_topic", message, context)
    try:
        valid = _ATTRIBUTES.validate_python(attributes)
    except ValidationError as exc:
        rename = header_name if prefix else str
        raise _reject(reason, describe(exc, rename=rename), context) from None
    if not isinstance(data, dict):
        raise _reject("invalid_payload", "data: must be a JSON object", context)
    try:
        payload = event_type.model.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        raise _reject("invalid_payload", describe(exc, prefix="data"), context) from None
    if payload.tenant != valid.tenant:
        message = f"{prefix}tenant is {valid.tenant!r} but data.tenant is {payload.tenant!r}; they must be equal"
        raise _reject("tenant_mismatch", message, context)
    return _envelope(vars(valid), payload)


def _envelope(valid: dict[str, Any], payload: Any) -> CloudEvent[Any]:
    """The event of validated attributes (by their CloudEvents names) and payload."""
    return _with_defaults(CloudEvent.validated(
        id=valid["id"], source=valid["source"], type=valid["type"], time=valid["time"], subject=valid["subject"],
        tenant=valid["tenant"], correlation_id=valid["correlationid"], causation_id=valid["causationid"],
        traceparent=valid["traceparent"], data=payload,
    ))


def _with_defaults(event: CloudEvent[Any]) -> CloudEvent[Any]:
    """`event` with the attributes a publisher may leave out filled in: the subject its data names, and
    its own id as the correlation id. Only an absent one is None: one given is at least a character long."""
    attributes = event.__dict__
    if attributes["subject"] is None:
        attributes["subject"] = event.data.subject
    if attributes["correlation_id"] is None:
        attributes["correlation_id"] = str(event.id)
    return event


def _json(value: bytes, what: str, context: dict[str, str]) -> Any:
    try:
        return _JSON.decode(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not valid JSON"
        raise _reject("not_json", f"{what}: {detail}", context) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every record: `json.loads` with an argument builds a new one per call. Like
# `json.loads` on text, it refuses a leading byte-order mark (as "not valid JSON").
_JSON = json.JSONDecoder(parse_constant=_no_constant)


def _readable(value: Any) -> str:
    return value[:_ID_LIMIT] if isinstance(value, str) else ""


def _reject(reason: str, message: str, context: dict[str, str]) -> _Rejected:
    return _Rejected(_error(reason, message, context))


def _error(reason: str, message: str, context: dict[str, str]) -> DecodeError:
    return DecodeError(
        reason=reason, message=message,
        event_type=context.get("type") or None, event_id=context.get("id") or None,
    )
