"""The short way through `decode` (a valid binary record read in one pass) gives exactly the event the
rule-by-rule way gives, and takes no record that way would refuse."""

import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contract_samples as samples
import contract_strategies as strategies
from karmayogi_contracts import encode, fields, new_event
from karmayogi_contracts.decoding import MAX_BYTES, _decode, _Rejected, _valid_binary

pytestmark = pytest.mark.unit
CHECKED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# How a publisher in another language may write the same instant: "Z", a zero offset, or India's.
OFFSETS = st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30"])
HEADER_CASES = st.sampled_from([str, str.upper, str.title])


def _rule_by_rule(value, headers):
    try:
        return _decode(value, headers, MAX_BYTES, None, {})
    except _Rejected as rejected:
        return rejected.error


def _with_offset(record, offset: str):
    """The record with every date-time written with `offset` in place of "Z" (the same instant only for
    a zero offset: +05:30 names another instant, which both ways must read alike all the same)."""
    value = re.sub(rb'(\d\d:\d\d(?:\.\d+)?)Z"', lambda m: m.group(1) + offset.encode() + b'"', record.value)
    headers = [(name, raw.replace(b"Z", offset.encode()) if name == "ce_time" else raw) for name, raw in record.headers]
    return value, headers


@CHECKED
@given(strategies.events(), OFFSETS, HEADER_CASES, st.booleans())
def test_the_short_way_gives_what_the_rules_give(event, offset, case, repeat_a_header):
    value, headers = _with_offset(encode(event), offset)
    headers = [(case(name), raw) for name, raw in headers]
    if repeat_a_header:
        headers.append(headers[0])
    short = _valid_binary(value, headers, MAX_BYTES)
    exact = _rule_by_rule(value, headers)
    # A value naming NaN or Infinity anywhere (a name "Infinity" too) takes the long way by design.
    names_a_non_number = b"NaN" in value or b"Infinity" in value
    if offset == "Z" and case is str and not repeat_a_header and not names_a_non_number:
        assert short is not None, "a record as encode writes it takes the short way"
    if short is not None:
        assert short == exact
        assert short.data.model_dump_json() == exact.data.model_dump_json()
        assert short.time.utcoffset().total_seconds() == 0



SAMPLES = [samples.sunita_enrolled(), samples.sunita_attended(), samples.sunita_completed(), samples.sunita_certified(),
           samples.anjali_certificate_revoked(), samples.priya_withdrawn(),
           samples.sunita_promoted_and_transferred()]


@pytest.mark.parametrize("data", SAMPLES, ids=lambda data: data.event_type)
def test_the_short_way_reads_every_date_time_without_calling_python(data):
    """Nested models' date-times included: pydantic-core would reuse a model's own validator there."""
    event = new_event(data, source="urn:state:IN-HR:hrms")
    record = encode(event)
    calls = []

    def note(frame, what, _argument):
        if what == "call" and frame.f_code in (fields._to_utc.__code__, fields._date_time_written.__code__,
                                                             fields._date_written.__code__):
            calls.append(frame.f_code.co_name)

    sys.setprofile(note)
    try:
        short = _valid_binary(record.value, record.headers, MAX_BYTES)
    finally:
        sys.setprofile(None)
    assert short == event
    assert calls == []


@pytest.mark.parametrize("field", [b"start_date", b"enrolled_at"])
def test_a_date_written_as_a_number_is_left_to_the_rules_that_refuse_it(field):
    record = encode(new_event(samples.sunita_enrolled(), source="urn:state:IN-HR:hrms"))
    value = re.sub(rb'"' + field + rb'":"[^"]*"', b'"' + field + b'":1741000000', record.value)
    assert value != record.value
    assert _valid_binary(value, record.headers, MAX_BYTES) is None
    assert _rule_by_rule(value, record.headers).reason == "invalid_payload"


@pytest.mark.parametrize("written", [b"1740987060", b"0", b"2025-03-03T13:01+05:30", b"2025-03-03T07:31:00+0000"])
def test_a_date_time_not_written_as_rfc_3339_is_left_to_the_rules_that_refuse_it(written):
    """pydantic-core reads "1740987060" as Unix time: the short way checks the writing first, as the rules do."""
    record = encode(new_event(samples.sunita_attended(), source="urn:state:IN-HR:biometric"))
    value = re.sub(rb'"marked_at":"[^"]*"', b'"marked_at":"' + written + b'"', record.value)
    headers = [(name, written if name == "ce_time" else raw) for name, raw in record.headers]
    for value, headers, reason in ((value, record.headers, "invalid_payload"), (record.value, headers, "invalid_header")):
        assert _valid_binary(value, headers, MAX_BYTES) is None
        assert _rule_by_rule(value, headers).reason == reason
