"""CloudEvents over Kafka: what encode puts on the wire and what decode makes of any record."""

import json
from datetime import datetime, timezone
from uuid import UUID

import pytest

import contract_samples as samples
from karmayogi_contracts import DecodeError, decode, encode, encode_structured, new_event

pytestmark = pytest.mark.unit
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def event(**overrides):
    return new_event(samples.sunita_enrolled(), source="/services/enrolment", **overrides)


def headers_of(record):
    return dict(record.headers)


def decoded_error(value, headers, **kwargs) -> DecodeError:
    result = decode(value, headers, **kwargs)
    assert isinstance(result, DecodeError), result
    return result


@pytest.mark.parametrize("build", samples.ALL, ids=lambda build: build.__name__)
@pytest.mark.parametrize("encoder", [encode, encode_structured])
def test_every_sample_event_round_trips_unchanged(build, encoder):
    original = new_event(build(), source="urn:state:IN-HR:hrms", causation_id="c-1", traceparent=TRACEPARENT)
    record = encoder(original)
    assert decode(record.value, record.headers) == original


def test_binary_mode_puts_the_context_in_ce_headers_in_a_fixed_order():
    record = encode(event(causation_id="9d1d0f2e", traceparent=TRACEPARENT))
    assert [name for name, _ in record.headers] == [
        "ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject", "ce_tenant",
        "ce_correlationid", "ce_causationid", "content-type", "traceparent",
    ]
    headers = headers_of(record)
    assert headers["ce_type"] == b"karmayogi.employee.enrolled.v1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    assert json.loads(record.value)["employee"]["name"] == "सुनीता देवी"


def test_the_record_is_keyed_by_tenant_and_employee_on_the_event_topic():
    record = encode(event())
    assert (record.topic, record.key) == ("employee.enrolled", b"IN-HR:HR0412345")
    assert encode_structured(event()).key == record.key


def test_optional_headers_are_left_out_when_absent():
    names = [name for name, _ in encode(event()).headers]
    assert "ce_causationid" not in names and "traceparent" not in names


def test_structured_mode_sends_the_whole_event_as_cloudevents_json():
    record = encode_structured(event(traceparent=TRACEPARENT))
    document = json.loads(record.value)
    assert headers_of(record)["content-type"] == b"application/cloudevents+json"
    assert document["specversion"] == "1.0" and document["tenant"] == "IN-HR"
    assert document["data"]["enrolment_id"] == document["subject"]


def test_new_event_defaults_subject_correlation_time_and_tenant():
    built = event(id=UUID(int=7))
    assert built.subject == str(samples.sunita_enrolled().enrolment_id)
    assert built.correlation_id == str(UUID(int=7)) and built.tenant == "IN-HR"
    assert built.time.tzinfo == timezone.utc and built.key == "IN-HR:HR0412345"


def test_time_is_carried_in_utc_with_a_z_suffix():
    record = encode(event(time=datetime(2025, 3, 1, 9, 30, 0, 120000, tzinfo=timezone.utc)))
    assert headers_of(record)["ce_time"] == b"2025-03-01T09:30:00.120000Z"


def test_a_publisher_may_omit_subject_and_correlation_id():
    record = encode(event())
    headers = [(n, v) for n, v in record.headers if n not in ("ce_subject", "ce_correlationid")]
    decoded = decode(record.value, headers)
    assert decoded.subject == str(decoded.data.enrolment_id) and decoded.correlation_id == str(decoded.id)


def test_structured_mode_takes_traceparent_from_the_header_when_the_document_has_none():
    record = encode_structured(event())
    decoded = decode(record.value, [*record.headers, ("traceparent", TRACEPARENT.encode())])
    assert decoded.traceparent == TRACEPARENT


def test_header_names_are_case_insensitive_and_content_type_parameters_are_ignored():
    record = encode(event())
    shouted = [(name.upper(), value) for name, value in record.headers if name != "content-type"]
    assert decode(record.value, [*shouted, ("Content-Type", b"application/json; charset=utf-8")]) == decode(
        record.value, record.headers)


@pytest.mark.parametrize("value, headers, reason, message", [
    (None, [], "missing_value", "no value"),
    (b"\xff\xfe\x00garbage", [("content-type", b"application/cloudevents+json")], "not_json", "not UTF-8"),
    (b'{"specversion": "1.0", "id"', [("content-type", b"application/cloudevents+json")], "not_json", "not valid JSON"),
    (b"[1, 2]", [("content-type", b"application/cloudevents+json")], "invalid_envelope", "JSON object"),
    (b"NaN", [("content-type", b"application/cloudevents+json")], "not_json", "not valid JSON"),
    (b"[" * 100_000, [("content-type", b"application/cloudevents+json")], "not_json", "not valid JSON"),
    (b"{}", [], "missing_header", "ce_specversion: header is required"),
    (b"{}", [("content-type", b"text/csv")], "unsupported_content_type", "'text/csv' is not supported"),
])
def test_undecodable_records_give_a_typed_error_that_says_what_is_wrong(value, headers, reason, message):
    error = decoded_error(value, headers)
    assert (error.reason, message in error.message) == (reason, True), error


def test_each_missing_binary_header_is_named():
    record = encode(event())
    for required in ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_tenant"):
        error = decoded_error(record.value, [(n, v) for n, v in record.headers if n != required])
        assert (error.reason, error.message.split(":")[0]) == ("missing_header", required)


def test_an_unknown_type_is_reported_with_the_type_and_id_it_had():
    record = encode(event(id=UUID(int=9)))
    headers = [(n, b"karmayogi.employee.promoted.v1" if n == "ce_type" else v) for n, v in record.headers]
    error = decoded_error(record.value, headers)
    assert (error.reason, error.event_type, error.event_id) == (
        "unknown_type", "karmayogi.employee.promoted.v1", str(UUID(int=9)))


@pytest.mark.parametrize("encoder", [encode, encode_structured])
def test_given_its_topic_an_event_of_another_topic_is_named_as_such(encoder):
    record = encoder(event(id=UUID(int=9)))  # an employee.enrolled
    assert decode(record.value, record.headers, topic="employee.enrolled") == decode(record.value, record.headers)

    error = decoded_error(record.value, record.headers, topic="session.attended")

    prefix = "ce_" if encoder is encode else ""
    assert (error.reason, error.message, error.event_id) == (
        "wrong_topic", f"{prefix}type: a karmayogi.employee.enrolled.v1 event belongs on the employee.enrolled "
        "topic, not session.attended", str(UUID(int=9)))


def test_a_type_of_another_topic_is_named_before_its_payload_is_read_against_it():
    # An attendance sent as a course.completed by mistake: its fields are not what is wrong.
    record = encode_structured(new_event(samples.sunita_attended(), source="urn:state:IN-HR:biometric"))
    document = json.loads(record.value)
    document["type"] = "karmayogi.course.completed.v1"
    error = decoded_error(json.dumps(document).encode(), record.headers, topic="session.attended")
    assert (error.reason, error.event_type) == ("wrong_topic", "karmayogi.course.completed.v1")


def test_wrong_payload_types_name_the_field_and_rule():
    record = encode(event())
    data = json.loads(record.value)
    data["batch"]["sessions_planned"] = "six"
    data["employee"]["email"] = "not-an-address"
    error = decoded_error(json.dumps(data).encode(), record.headers)
    assert error.reason == "invalid_payload"
    assert "data.employee.email: value is not a valid email address" in error.message
    assert "data.batch.sessions_planned: input should be a valid integer" in error.message


@pytest.mark.parametrize("address", [
    "sunita@xn--secretlabel.gov.in",      # IDNA: the label is quoted back
    "sunita@secretlabel\u0660\u06f0.gov.in",  # "Codepoint U+0660 not allowed at position 12 in 'secretlabel..'"
    "sunita@xn--zz-secret.gov.in",
    "sunita@secretlabel\u00ad.gov.in",       # names the unsafe character
    "sunita@sec_retlabel.gov.in",
    "sunita.devi@secret-ministry.test",
    "sunita.devi@",
])
def test_an_invalid_email_is_reported_in_one_fixed_sentence_that_never_repeats_the_address(address):
    record = encode(event())
    data = json.loads(record.value)
    data["employee"]["email"] = address
    error = decoded_error(json.dumps(data).encode(), record.headers)
    assert (error.reason, error.message) == ("invalid_payload", "data.employee.email: value is not a valid email address")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_binary_payload_naming_nan_or_infinity_is_not_json_even_in_a_field_nobody_reads(constant):
    record = encode(event())
    value = record.value[:-1] + f', "x-note": {constant}}}'.encode()
    assert (decoded_error(value, record.headers).reason, decode(record.value + b" ", record.headers)) == (
        "not_json", decode(record.value, record.headers))


def test_a_binary_payload_with_an_unknown_field_or_a_repeated_key_decodes_as_json_loads_reads_it():
    record = encode(event())
    data = json.loads(record.value)
    repeated = record.value[:-1] + b', "x-note": [1, {"a": null}], "channel": "bulk"}'
    assert decode(repeated, record.headers).data.channel == "bulk"
    assert decode(repeated, record.headers).data == decode(json.dumps({**data, "channel": "bulk"}).encode(), record.headers).data


def test_a_payload_date_time_utc_cannot_write_names_its_field():
    record = encode(new_event(samples.sunita_attended(), source="urn:state:IN-HR:biometric"))
    data = json.loads(record.value)
    data["marked_at"] = "0001-01-01T00:00:00+05:30"
    error = decoded_error(json.dumps(data).encode(), record.headers)
    assert (error.reason, error.message) == ("invalid_payload", "data.marked_at: must be an instant from year 1 to 9999 in UTC")
    assert error.event_id == headers_of(record)["ce_id"].decode()


def test_a_payload_that_is_not_an_object_is_rejected():
    assert decoded_error(b'"hello"', encode(event()).headers).message == "data: must be a JSON object"


def test_the_envelope_tenant_must_equal_the_data_tenant():
    record = encode(event())
    headers = [(n, b"IN-BR" if n == "ce_tenant" else v) for n, v in record.headers]
    assert decoded_error(record.value, headers).reason == "tenant_mismatch"


def test_records_over_the_cap_are_rejected_before_parsing():
    big = b"{" + b" " * 1_048_576 + b"}"
    assert decoded_error(big, encode(event()).headers).reason == "too_large"
    record = encode(event())
    assert decoded_error(record.value, record.headers, max_bytes=100).message.endswith("the limit is 100 bytes")


@pytest.mark.parametrize("headers, message", [
    ([("ce_id", b"\xff")], "header ce_id: value is not valid UTF-8"),
    ([("ce_type", b"a"), ("ce_type", b"b")], "header ce_type: sent more than once"),
])
def test_unreadable_or_contradictory_headers_are_rejected(headers, message):
    error = decoded_error(b"{}", headers)
    assert (error.reason, error.message.startswith(message)) == ("invalid_header", True)


def test_a_header_sent_twice_with_the_same_value_is_read_once():
    # The README's invalid_header row: only a header repeated with a different value is refused.
    record = encode(event())
    assert decode(record.value, [*record.headers, record.headers[0]]) == decode(record.value, record.headers)


@pytest.mark.parametrize("header, value, message", [
    ("ce_id", b"42", "ce_id: input should be a valid UUID"),
    ("ce_time", b"yesterday", "ce_time: must be an RFC 3339 date-time string"),
    ("ce_time", b"0001-01-01T00:00:00+05:30", "ce_time: must be an instant from year 1 to 9999 in UTC"),
    ("ce_time", b"9999-12-31T23:59:59-05:00", "ce_time: must be an instant from year 1 to 9999 in UTC"),
    ("ce_specversion", b"0.3", "ce_specversion: input should be '1.0'"),
    ("ce_source", b"has spaces", "ce_source: must be a URI-reference"),
    ("traceparent", b"not-a-trace", "traceparent: must be a W3C traceparent"),
])
def test_header_values_that_break_their_rule_are_named(header, value, message):
    record = encode(event())
    headers = [(n, v) for n, v in record.headers if n != header] + [(header, value)]
    error = decoded_error(record.value, headers)
    assert (error.reason, error.message.startswith(message)) == ("invalid_header", True), error


def test_errors_do_not_repeat_personal_data_from_the_payload():
    record = encode(event())
    value = record.value.replace(b"sunita.devi@hry.gov.in", b"sunita.devi.secret@")
    assert "secret" not in decoded_error(value, record.headers).message
