"""Dead-letter records and replays, as pure functions."""

from datetime import datetime, timedelta, timezone

import pytest
from karmayogi_runtime import dead_letter
from karmayogi_runtime.limits import MAX_RECORD_BYTES, record_bytes

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc)
ORIGIN = dead_letter.Origin(
    consumer_group="attendance.marks", topic="session.attended", partition=4, offset=1207,
    key=b"IN-HR:HR-000123", headers=(("ce_id", b"0b9c"), ("ce_type", b"karmayogi.session.attended.v1")),
    value=b'{"broken": ',
)
FAILURE = dead_letter.Failure("DecodeError.not_json", "the value is not JSON", 1, T0, T0 + timedelta(seconds=2))


def test_a_dead_letter_keeps_the_original_bytes_and_says_why_where_and_by_whom():
    record = dead_letter.dead_letter(ORIGIN, FAILURE)

    assert record.topic == "session.attended.dlq"
    assert (record.key, record.value) == (ORIGIN.key, ORIGIN.value)
    assert dead_letter.description(record.headers) == {
        "id": "attendance.marks/session.attended/4/1207",
        "error_class": "DecodeError.not_json",
        "error_message": "the value is not JSON",
        "consumer_group": "attendance.marks",
        "original_topic": "session.attended",
        "original_partition": "4",
        "original_offset": "1207",
        "attempts": "1",
        "first_attempt_at": "2026-11-23T04:00:00+00:00",
        "last_attempt_at": "2026-11-23T04:00:02+00:00",
    }
    assert ("ce_id", b"0b9c") in record.headers


def test_a_replay_goes_back_to_the_original_topic_without_the_failure_headers():
    replayed = dead_letter.replay(dead_letter.dead_letter(ORIGIN, FAILURE), "replay-1", 2, 17)

    assert replayed.topic == "session.attended"
    assert replayed.value == ORIGIN.value
    assert list(replayed.headers) == [*ORIGIN.headers, ("dlq_replay_id", b"replay-1"), ("dlq_replay_of", b"2@17")]


def test_a_dead_letter_of_a_replay_describes_the_latest_failure_and_which_replay_of_which_letter_it_was():
    replayed = dead_letter.replay(dead_letter.dead_letter(ORIGIN, FAILURE), "r", 2, 17)
    again = dead_letter.Origin(**{**ORIGIN.__dict__, "offset": 1300, "headers": replayed.headers})
    second = dead_letter.Failure("RuleViolation", "still barred", 1, T0, T0)

    described = dead_letter.description(dead_letter.dead_letter(again, second).headers)

    assert (described["error_class"], described["original_offset"]) == ("RuleViolation", "1300")
    assert (described["replay_id"], described["replay_of"]) == ("r", "2@17")
    assert "DecodeError.not_json" not in described.values()  # the earlier round's failure is not carried along


def test_a_dead_letter_of_a_record_near_kafkas_limit_leaves_the_value_out_and_says_so():
    near_the_limit = dead_letter.Origin(**{**ORIGIN.__dict__, "value": b"x" * (MAX_RECORD_BYTES - 200)})
    long_reason = dead_letter.Failure("ValueError", "why " * 10_000, 5, T0, T0)

    record = dead_letter.dead_letter(near_the_limit, long_reason)

    assert record_bytes(record.key, record.value, record.headers) <= MAX_RECORD_BYTES
    assert record.value == b""
    described = dead_letter.description(record.headers)
    assert described["value_omitted"] == str(MAX_RECORD_BYTES - 200)
    assert len(described["error_message"]) == dead_letter.MAX_MESSAGE_CHARACTERS
    assert dead_letter.omitted_value_size(record.headers) == MAX_RECORD_BYTES - 200
    with pytest.raises(ValueError, match="does not carry its original value"):
        dead_letter.replay(record, "replay-1", 0, 0)


def test_a_dead_letter_that_fits_keeps_its_value_and_says_nothing_was_left_out():
    record = dead_letter.dead_letter(ORIGIN, FAILURE)

    assert dead_letter.omitted_value_size(record.headers) is None
    assert dead_letter.replay(record, "replay-1", 0, 0).value == ORIGIN.value
