"""Expand an event's `recurrence` lines (RRULE/EXRULE/RDATE/EXDATE) into instance start times.

Timed series expand on wall-clock time in the event's `timeZone` (so DST shifts the UTC time, as
in Google Calendar); all-day series expand on dates. DTSTART always counts as the first instance
(RFC 5545), unless an EXDATE removes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from dateutil import rrule

from .errors import bad_request
from .times import EventTime, zone

# How far an open-ended series is expanded when the caller gives no upper bound.
DEFAULT_HORIZON = timedelta(days=730)
MAX_INSTANCES = 5000

_LINE = re.compile(r"^(RRULE|EXRULE|RDATE|EXDATE)([;:])(.*)$", re.IGNORECASE | re.DOTALL)


def invalid_rule() -> Exception:
    return bad_request("Invalid recurrence rule.")


def validate(lines: object) -> list[str]:
    """Check the `recurrence` field's shape; DTSTART/DTEND lines are refused as by the API."""
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise invalid_rule()
    for line in lines:
        if not _LINE.match(line.strip()):
            raise invalid_rule()
    return [line.strip() for line in lines]


class Expander:
    """Instance starts of one series; build once per series, query many windows."""

    def __init__(self, start: EventTime, lines: list[str]) -> None:
        self.all_day = start.all_day
        if self.all_day:
            self.zone = None
            self.dtstart = start.moment.replace(tzinfo=None)
        else:
            if not start.tz_name:
                raise bad_request("Missing time zone definition for start time.", "required")
            self.zone = zone(start.tz_name)
            self.dtstart = start.moment.astimezone(self.zone)
        self.rules = rrule.rruleset()
        self.rules.rdate(self.dtstart)
        for line in lines:
            self._add(line)

    def _add(self, line: str) -> None:
        if not _LINE.match(line):
            raise invalid_rule()
        head, _, value = line.partition(":")
        name, _, params = head.partition(";")
        name = name.upper()
        try:
            if name in ("RRULE", "EXRULE"):
                rule = rrule.rrulestr(self._normalise_until(value), dtstart=self.dtstart)
                (self.rules.rrule if name == "RRULE" else self.rules.exrule)(rule)
            else:
                for moment in self._dates(params, value):
                    (self.rules.rdate if name == "RDATE" else self.rules.exdate)(moment)
        except (ValueError, TypeError, KeyError) as exc:
            raise invalid_rule() from exc

    def _normalise_until(self, rule: str) -> str:
        """dateutil wants UNTIL in UTC for zoned series; Google also accepts dates and local times."""
        parts = []
        for part in rule.split(";"):
            key, _, val = part.partition("=")
            if key.upper() == "UNTIL" and not self.all_day:
                parts.append("UNTIL=" + self._until_utc(val))
            elif key.upper() == "UNTIL" and self.all_day:
                parts.append("UNTIL=" + val[:8])
            else:
                parts.append(part)
        return ";".join(parts)

    def _until_utc(self, val: str) -> str:
        if len(val) == 8:
            day = datetime.strptime(val, "%Y%m%d")
            local = datetime.combine(day.date(), time(23, 59, 59), self.zone)
            return local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        if val.upper().endswith("Z"):
            return val.upper()
        local = datetime.strptime(val, "%Y%m%dT%H%M%S").replace(tzinfo=self.zone)
        return local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    def _dates(self, params: str, value: str) -> Iterable[datetime]:
        opts = dict(p.split("=", 1) for p in params.split(";") if "=" in p)
        tz = zone(opts["TZID"]) if "TZID" in opts else self.zone
        for item in value.split(","):
            item = item.strip()
            if len(item) == 8:  # a DATE value: the series' time of day on that date
                day = date(int(item[:4]), int(item[4:6]), int(item[6:8]))
                if self.all_day:
                    yield datetime(day.year, day.month, day.day)
                else:
                    yield datetime.combine(day, self.dtstart.timetz())
                continue
            if item.upper().endswith("Z"):
                moment = datetime.strptime(item[:-1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
            else:
                moment = datetime.strptime(item, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
            if self.all_day:
                yield moment.replace(tzinfo=None, hour=0, minute=0, second=0)
            else:
                yield moment.astimezone(self.zone)

    def starts(
        self,
        after: datetime | None = None,
        before: datetime | None = None,
        limit: int = MAX_INSTANCES,
    ) -> list[datetime]:
        """Instance starts with after <= start < before, as aware datetimes (UTC midnight if all-day)."""
        if before is None:
            base = max(datetime.now(UTC), self._aware(self.dtstart))
            before = base + DEFAULT_HORIZON
        lo = self._native(after) if after is not None else None
        hi = self._native(before)
        source = self.rules.xafter(lo, inc=True) if lo is not None else iter(self.rules)
        found: list[datetime] = []
        for moment in source:
            if moment >= hi or len(found) >= limit:
                break
            found.append(self._aware(moment))
        return found

    def contains(self, moment: datetime) -> bool:
        native = self._native(moment)
        for candidate in self.rules.xafter(native, inc=True):
            return candidate == native
        return False

    def _native(self, moment: datetime) -> datetime:
        if self.all_day:
            return moment.astimezone(UTC).replace(tzinfo=None)
        return moment.astimezone(self.zone)

    def _aware(self, moment: datetime) -> datetime:
        if self.all_day:
            return moment.replace(tzinfo=UTC)
        return moment
