"""Whose day it is. A batch starts, its enrolment closes, its sessions fall and a certificate is dated
on the state's calendar day, not UTC's: from 18:30 UTC it is already tomorrow in India, so UTC's date
is a day behind for a quarter of every day. Every service reads its state's time zone from the
`TIMEZONE` setting (`ServiceSettings.zone()`); without one, India's."""

from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STATE_TIMEZONE = "Asia/Kolkata"
_INDIA = timezone(timedelta(hours=5, minutes=30), "IST")  # one offset all year, no daylight saving


def zone(name: str = STATE_TIMEZONE) -> tzinfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:  # a slim image without tz data
        return _INDIA


def zone_problem(name: str) -> str | None:
    """What is wrong with a time zone's name, or None: a misspelt one would otherwise be read as India's."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name != STATE_TIMEZONE:  # India's own name is known even where the tz data is not
            return f"'{name[:60]}' is not a time zone name this machine knows, such as {STATE_TIMEZONE}."
    return None


def day_of(moment: datetime, state: tzinfo | None = None) -> date:
    """The calendar day in the state (India by default) at `moment`, a timezone-aware instant: the
    date to show people, and the one their rules go by."""
    return moment.astimezone(state or zone()).date()


def today(state: tzinfo | None = None, now: datetime | None = None) -> date:
    """The state's calendar day at `now` (by default this instant)."""
    return day_of(now or datetime.now(timezone.utc), state)


def earlier_today(count: int, state: tzinfo | None = None, now: datetime | None = None) -> list[datetime]:
    """`count` instants in order, in the hour before `now` and on the state's day: sessions that start
    then have started, on today's batches. Ten minutes apart; closer in the day's first hour, and in its
    first `count` seconds a second apart from midnight, the last few seconds ahead of `now`."""
    state = state or zone()
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    midnight = datetime.combine(today(state, now), datetime.min.time(), state).astimezone(timezone.utc)
    first = max(now - timedelta(hours=1), midnight)
    step = max(1, min(600, int((now - first).total_seconds()) // count))
    return [first + timedelta(seconds=step * k) for k in range(count)]
