"""Dead-letter records and replays, as pure functions."""

from datetime import datetime, timedelta, timezone

import pytest
from karmayogi_runtime import dead_letter

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
    replayed = dead_letter.replay(dead_letter.dead_letter(ORIGIN, FAILURE), "replay-1")

    assert replayed.topic == "session.attended"
    assert replayed.value == ORIGIN.value
    assert list(replayed.headers) == [*ORIGIN.headers, ("dlq_replay_id", b"replay-1")]


def test_a_dead_letter_of_a_replay_describes_only_the_latest_failure():
    again = dead_letter.Origin(**{**ORIGIN.__dict__, "headers": dead_letter.replay(dead_letter.dead_letter(ORIGIN, FAILURE), "r").headers})
    second = dead_letter.Failure("RuleViolation", "still barred", 1, T0, T0)

    described = dead_letter.description(dead_letter.dead_letter(again, second).headers)

    assert described["error_class"] == "RuleViolation"
    assert "replay_id" not in described  # the dlq_ headers of the earlier round are not carried along
