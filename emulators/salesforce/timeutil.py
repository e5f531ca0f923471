"""The emulator's clock (advanceable for tests) and Salesforce date/datetime wire formats."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta


class Clock:
    """UTC wall clock plus an offset that tests can push forward; never goes backwards."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            current = datetime.now(UTC) + self._offset
            current = current.replace(microsecond=current.microsecond // 1000 * 1000)
            self._last = max(self._last, current)
            return self._last

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=max(0.0, seconds))
        return self.now()


def format_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def format_date(value: date) -> str:
    return value.isoformat()


_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_datetime(text: str, *, require_zone: bool = False) -> datetime:
    """Parse the ISO 8601 forms Salesforce accepts; a missing zone means UTC (as on input)."""
    match = _DATETIME.match(text.strip())
    if not match:
        raise ValueError(text)
    year, month, day, hour, minute, second, frac, zone = match.groups()
    if zone is None and require_zone:
        raise ValueError(text)
    micro = int((frac or "0")[:6].ljust(6, "0"))
    value = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, UTC
    )
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value


def parse_date(text: str) -> date:
    match = _DATE.match(text.strip())
    if not match:
        raise ValueError(text)
    return date(*(int(g) for g in match.groups()))


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
