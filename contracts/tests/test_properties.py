"""Property-based: any valid event survives both modes; nothing else ever escapes as an exception."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contract_strategies as strategies
from karmayogi_contracts import CloudEvent, DecodeError, decode, encode, encode_structured

pytestmark = pytest.mark.unit
CHECKED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ANY_CHARACTER = st.characters(categories=("L", "M", "Cc", "Cf", "Cs", "Zs", "Zl"))
HEADER_NAMES = ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject", "ce_tenant",
                "ce_correlationid", "ce_causationid", "content-type", "traceparent", "x-other"]


def typed_outcome(result) -> bool:
    """Decoding may only ever give a CloudEvent that can be sent on again, or a DecodeError for a
    deliberate reason."""
    if isinstance(result, CloudEvent):
        return encode(result).value is not None and encode_structured(result).value is not None
    return isinstance(result, DecodeError) and result.reason != "internal_error"


@CHECKED
@given(strategies.events())
def test_any_valid_event_round_trips_in_binary_mode(event):
    record = encode(event)
    assert decode(record.value, record.headers) == event
    assert record.key == f"{event.tenant}:{event.data.employee_id}".encode()


@CHECKED
@given(strategies.events())
def test_any_valid_event_round_trips_in_structured_mode(event):
    record = encode_structured(event)
    assert decode(record.value, record.headers) == event


@CHECKED
@given(st.binary(max_size=2048), st.lists(st.tuples(st.sampled_from(HEADER_NAMES), st.binary(max_size=64)), max_size=12))
def test_random_bytes_and_random_headers_always_give_a_decode_error(value, headers):
    result = decode(value, headers)
    assert isinstance(result, DecodeError) and result.reason != "internal_error", result


@CHECKED
@given(strategies.events(), st.sampled_from([encode, encode_structured]), st.data())
def test_mutated_records_decode_to_an_event_or_a_typed_error_never_an_exception(event, encoder, data):
    record = encoder(event)
    value = bytearray(record.value)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(value) - 1))
        value[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(value)))
    headers = list(record.headers)
    if headers and data.draw(st.booleans()):
        del headers[data.draw(st.integers(0, len(headers) - 1))]
    assert typed_outcome(decode(bytes(value[:cut] if data.draw(st.booleans()) else value), headers))


@CHECKED
@given(strategies.events(), st.data())
def test_wrong_json_types_anywhere_in_the_payload_give_a_typed_error(event, data):
    record = encode(event)
    document = json.loads(record.value)
    node, path = document, []
    while isinstance(node, dict) and node:
        key = data.draw(st.sampled_from(sorted(node)))
        path.append(key)
        if not isinstance(node[key], dict) or data.draw(st.booleans()):
            node[key] = data.draw(st.one_of(st.none(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                                            st.lists(st.integers(), max_size=2), st.text(ANY_CHARACTER, max_size=5)))
            break
        node = node[key]
    result = decode(json.dumps(document).encode(), record.headers)
    assert typed_outcome(result)
    if isinstance(result, DecodeError):
        assert result.message and (result.reason in ("invalid_payload", "tenant_mismatch")), result


@CHECKED
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20))
def test_arbitrary_json_in_structured_mode_gives_a_decode_error(document):
    result = decode(json.dumps(document).encode(), [("content-type", b"application/cloudevents+json")])
    assert isinstance(result, DecodeError) and result.reason != "internal_error", result
