"""RFC 3339 timestamps and EventDateTime ({date} or {dateTime, timeZone}) parsing and formatting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ApiError, bad_request, required

# The emulated calendars all live in UTC; all-day events are placed on UTC days.
CALENDAR_TZ = "UTC"


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """`updated`/`created` style: UTC with milliseconds, e.g. 2024-05-01T10:00:00.000Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_datetime(moment: datetime) -> str:
    """EventDateTime.dateTime style: local time with its offset, e.g. 2024-05-01T12:00:00+02:00."""
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@lru_cache(maxsize=512)
def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise KeyError(name) from exc


def parse_timestamp(text: str, param: str) -> datetime:
    """A query parameter such as timeMin: RFC 3339 with a mandatory offset."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise bad_request(f"Invalid value for: {param}", location=param) from None
    if moment.tzinfo is None:
        raise bad_request(f"Invalid value for: {param} (an offset is required)", location=param)
    return moment


@dataclass(frozen=True)
class EventTime:
    """A parsed EventDateTime: `moment` is aware; for all-day values it is midnight UTC."""

    all_day: bool
    moment: datetime
    tz_name: str | None

    @property
    def local(self) -> datetime:
        """The wall-clock time in the value's own zone (used to expand recurrences)."""
        if self.all_day or not self.tz_name:
            return self.moment
        return self.moment.astimezone(zone(self.tz_name))


def parse_event_time(value: Any, which: str) -> EventTime:
    """Parse `start`/`end`/`originalStartTime`; raise 400 like the API for malformed values."""
    if not isinstance(value, dict) or not (value.get("date") or value.get("dateTime")):
        raise required(f"{which} time")
    tz_name = value.get("timeZone") or None
    if tz_name is not None:
        try:
            zone(tz_name)
        except KeyError:
            raise bad_request(f"Invalid time zone definition for {which} time.") from None
    if value.get("date"):
        if value.get("dateTime"):
            raise bad_request(f"Invalid {which} time: set either date or dateTime.")
        try:
            day = date.fromisoformat(value["date"])
        except (TypeError, ValueError):
            raise bad_request(f"Invalid {which} time.") from None
        return EventTime(True, datetime(day.year, day.month, day.day, tzinfo=UTC), tz_name)
    try:
        moment = datetime.fromisoformat(str(value["dateTime"]))
    except ValueError:
        raise bad_request(f"Invalid {which} time.") from None
    if moment.tzinfo is None:
        if tz_name is None:
            raise ApiError(400, "required", f"Missing time zone definition for {which} time.")
        moment = moment.replace(tzinfo=zone(tz_name))
    return EventTime(False, moment, tz_name)


def event_time_value(moment: datetime, all_day: bool, tz_name: str | None) -> dict[str, str]:
    """Build an EventDateTime for an expanded instance."""
    if all_day:
        return {"date": moment.date().isoformat()}
    local = moment.astimezone(zone(tz_name)) if tz_name else moment
    value = {"dateTime": format_datetime(local)}
    if tz_name:
        value["timeZone"] = tz_name
    return value


def instance_suffix(moment: datetime, all_day: bool) -> str:
    """The part after `_` in an instance id: 20240501T100000Z or 20240501 for all-day."""
    if all_day:
        return moment.strftime("%Y%m%d")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def one_day() -> timedelta:
    return timedelta(days=1)
