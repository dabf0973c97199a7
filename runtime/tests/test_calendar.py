"""The state's calendar day, and session times earlier on it, whatever the hour in UTC."""

from datetime import date, datetime, timedelta, timezone

import pytest

from karmayogi_runtime.calendar import earlier_today, today

pytestmark = pytest.mark.unit


def _utc(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 23, hour, minute, 30, tzinfo=timezone.utc)


def test_from_half_past_six_in_the_evening_utc_it_is_tomorrow_in_india():
    assert today(now=_utc(18, 29)) == date(2026, 11, 23)
    assert today(now=_utc(18, 30)) == date(2026, 11, 24)
    assert today(timezone.utc, now=_utc(18, 30)) == date(2026, 11, 23)


@pytest.mark.parametrize(("hour", "minute"), [(12, 0), (18, 37), (19, 10), (23, 59), (0, 0)])
def test_times_earlier_today_have_passed_and_fall_on_the_state_s_day(hour, minute):
    now = _utc(hour, minute)
    starts = earlier_today(6, now=now)
    assert len(set(starts)) == 6 and starts == sorted(starts)
    assert all(now - timedelta(hours=1) <= s <= now for s in starts)
    assert {today(now=s) for s in starts} == {today(now=now)}


def test_in_the_first_seconds_of_the_state_s_day_the_times_are_a_second_apart_from_midnight():
    midnight = datetime(2026, 11, 23, 18, 30, tzinfo=timezone.utc)
    starts = earlier_today(6, now=midnight + timedelta(seconds=2))
    assert starts == [midnight + timedelta(seconds=k) for k in range(6)]
