"""Whose day it is. A batch starts, its enrolment closes and its sessions fall on the state's calendar
day, not UTC's: from 18:30 UTC it is already tomorrow in India, so UTC's date is a day behind for a
quarter of every day."""

from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STATE_TIMEZONE = "Asia/Kolkata"
_INDIA = timezone(timedelta(hours=5, minutes=30), "IST")  # one offset all year, no daylight saving


def zone(name: str = STATE_TIMEZONE) -> tzinfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:  # a slim image without tz data
        return _INDIA


def today(zone_name: str = STATE_TIMEZONE, now: datetime | None = None) -> date:
    """The calendar day in `zone_name` at `now` (a timezone-aware instant; by default this one)."""
    return (now or datetime.now(timezone.utc)).astimezone(zone(zone_name)).date()


def earlier_today(count: int, zone_name: str = STATE_TIMEZONE, now: datetime | None = None) -> list[datetime]:
    """`count` whole minutes, in order, in the hour before `now` (to the minute) and on the state's day
    (in its first hour, fewer minutes apart): sessions that start then have started, on today's batches."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(second=0, microsecond=0)
    midnight = datetime.combine(today(zone_name, now), datetime.min.time(), zone(zone_name)).astimezone(timezone.utc)
    first = max(now - timedelta(minutes=60), midnight)
    minutes = (now - first) // timedelta(minutes=1)
    if minutes < count:
        raise ValueError(f"only {minutes} whole minutes of the state's day have passed; {count} are needed")
    step = min(10, minutes // count)
    return [first + timedelta(minutes=step * k) for k in range(count)]
