"""Recurring items (R-09, R-17): Google's RRULE translated to Salesforce's subset, or refused
with the reason; instance expansion in the item's own zone; the 24-hour instance check.

Salesforce's `Recurrence2PatternText` (API-FACTS B1) takes FREQ, INTERVAL, COUNT, UNTIL, BYDAY,
BYMONTHDAY, BYMONTH, BYSETPOS, WKST, BYWEEKNO, BYYEARDAY; no EXDATE/RDATE; at most 512 characters;
WEEKLY needs BYDAY without numeric prefixes; BYDAY prefixes only -1, 1..4 and one for all days;
INTERVAL 1-999 daily, 1-99 weekly/monthly, 1 yearly; COUNT 1-999; UNTIL as yyyyMMddTHHmmssZ;
not both UNTIL and COUNT. Salesforce never updates a pattern, so a changed rule replaces the series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr  # type: ignore[import-untyped]

from core.model import Span

MAX_PATTERN = 512
MAX_INSTANCE = timedelta(hours=24)  # Salesforce series occurrences last 24 hours at most

_ALLOWED_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH",
                  "BYSETPOS", "BYWEEKNO", "BYYEARDAY", "WKST")  # fmt: skip
_INTERVAL_MAX = {"DAILY": 999, "WEEKLY": 99, "MONTHLY": 99, "YEARLY": 1}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")


@dataclass(frozen=True)
class Translation:
    """Either `pattern` (Salesforce's RRULE text) or `refusal` (why not), never both."""

    pattern: str = ""
    refusal: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.pattern)


def zone_of(name: str) -> tzinfo | None:
    """The IANA zone of that name, or None when the name is not in the database (R-09)."""
    if not name:
        return UTC
    if name.startswith(("/", ".")) or ".." in name:  # ZoneInfo would read a path: never
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: "America" is a directory of the tz database, a 300-character name is too
        # long for a file name (audit H3): neither is a zone.
        return None


def _parts(rule_line: str) -> list[tuple[str, str]]:
    body = rule_line.split(":", 1)[1] if ":" in rule_line else rule_line
    parts = []
    for chunk in body.strip().split(";"):
        if not chunk:
            continue
        name, sep, value = chunk.partition("=")
        if not sep:
            raise ValueError(f"malformed part {chunk!r}")
        parts.append((name.strip().upper(), value.strip().upper()))
    return parts


def _until_utc(value: str, span: Span, zone: tzinfo) -> str:
    """UNTIL in the form Salesforce wants (yyyyMMddTHHmmssZ). A date or a floating time is
    read in the item's zone, as RFC 5545 reads it for a DTSTART with a zone."""
    if re.fullmatch(r"\d{8}", value):
        # A date UNTIL includes that day: its last second, in the item's zone.
        day = datetime.strptime(value, "%Y%m%d").date()
        local = datetime.combine(day, time(23, 59, 59), zone)
        return local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    match = re.fullmatch(r"(\d{8}T\d{6})(Z?)", value)
    if not match:
        raise ValueError(f"UNTIL {value!r} is not a date or a date-time")
    naive = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S")
    aware = naive.replace(tzinfo=UTC if match.group(2) else zone)
    return aware.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _weekday_of(span: Span, zone: tzinfo) -> str:
    if span.start_date is not None:
        return _WEEKDAYS[span.start_date.weekday()]
    assert span.start is not None
    return _WEEKDAYS[span.start.astimezone(zone).weekday()]


def translate(lines: tuple[str, ...], span: Span) -> Translation:
    """R-17: Google's recurrence lines as Salesforce's `Recurrence2PatternText`, or the reason
    Salesforce cannot express them (then the series is saved instance by instance)."""
    rules = [ln for ln in lines if ln.upper().startswith("RRULE")]
    others = sorted({ln.split(":", 1)[0].split(";", 1)[0].upper() for ln in lines} - {"RRULE"})
    if others:
        return Translation(refusal=f"Salesforce takes no {'/'.join(others)} in a series")
    if len(rules) != 1:
        return Translation(refusal="Salesforce takes exactly one RRULE per series")
    zone = zone_of(span.time_zone)
    if zone is None:
        return Translation(refusal=f"unknown time zone {span.time_zone!r}")
    try:
        parts = _parts(rules[0])
    except ValueError as exc:
        return Translation(refusal=f"unreadable rule: {exc}")
    names = [n for n, _ in parts]
    if len(set(names)) != len(names):
        return Translation(refusal="a part appears twice in the rule")
    values = dict(parts)
    unknown = [n for n in names if n not in _ALLOWED_PARTS]
    if unknown:
        return Translation(refusal=f"Salesforce takes no {', '.join(unknown)} in a rule")
    freq = values.get("FREQ", "")
    if freq not in _INTERVAL_MAX:
        return Translation(refusal=f"Salesforce takes no FREQ={freq or '(none)'}")
    refusal = _check_numbers(values, freq) or _check_byday(values, freq)
    if refusal:
        return Translation(refusal=refusal)
    if "UNTIL" in values and "COUNT" in values:
        return Translation(refusal="a rule cannot have both UNTIL and COUNT")
    if "UNTIL" in values:
        try:
            values["UNTIL"] = _until_utc(values["UNTIL"], span, zone)
        except ValueError as exc:
            return Translation(refusal=str(exc))
    if freq == "WEEKLY" and "BYDAY" not in values:
        # Salesforce needs BYDAY on WEEKLY; RFC 5545 means the start's weekday when it is absent.
        values["BYDAY"] = _weekday_of(span, zone)
    values.setdefault("INTERVAL", "1")  # Salesforce adds it anyway; adding it keeps compares exact
    pattern = normalise("RRULE:" + ";".join(f"{k}={v}" for k, v in values.items()))
    if len(pattern) > MAX_PATTERN:
        return Translation(refusal=f"the rule is longer than {MAX_PATTERN} characters")
    return Translation(pattern=pattern)


def _int(values: dict[str, str], name: str) -> int | None:
    text = values.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return -10_000  # outside every range below: refused with the part's name


def _check_numbers(values: dict[str, str], freq: str) -> str:
    interval = _int(values, "INTERVAL")
    if interval is not None and not 1 <= interval <= _INTERVAL_MAX[freq]:
        return f"Salesforce takes INTERVAL 1-{_INTERVAL_MAX[freq]} for {freq}"
    count = _int(values, "COUNT")
    if count is not None and not 1 <= count <= 999:
        return "Salesforce takes COUNT 1-999"
    if "BYSETPOS" in values:
        for pos in values["BYSETPOS"].split(","):
            if pos not in ("-1", "1", "2", "3", "4", "+1", "+2", "+3", "+4"):
                return "Salesforce takes BYSETPOS -1 or 1-4 only"
    return ""


def _check_byday(values: dict[str, str], freq: str) -> str:
    if "BYDAY" not in values:
        return ""
    prefixes = set()
    for entry in values["BYDAY"].split(","):
        match = _BYDAY.match(entry)
        if not match:
            return f"unreadable BYDAY entry {entry!r}"
        prefixes.add(match.group(1) or "")
    if freq == "WEEKLY" and prefixes != {""}:
        return "Salesforce takes no numbered BYDAY in a WEEKLY rule"
    if len(prefixes) > 1:
        return "Salesforce takes one BYDAY number for all days"
    prefix = prefixes.pop()
    if prefix and int(prefix) not in (-1, 1, 2, 3, 4):
        return "Salesforce takes BYDAY numbers -1 or 1-4 only"
    return ""


def normalise(pattern: str) -> str:
    """A rule in one canonical form: Salesforce reorders parts and adds INTERVAL=1 on save
    (API-FACTS B1), so compare normalised forms, never raw strings."""
    parts = dict(_parts(pattern))
    parts.setdefault("INTERVAL", "1")
    ordered = [n for n in _ALLOWED_PARTS if n in parts] + sorted(set(parts) - set(_ALLOWED_PARTS))
    return "RRULE:" + ";".join(f"{n}={parts[n]}" for n in ordered)


def instance_too_long(span: Span) -> bool:
    """R-09: a series whose instances last more than 24 hours cannot be saved."""
    return span.duration > MAX_INSTANCE


_SUB_DAILY = frozenset({"HOURLY", "MINUTELY", "SECONDLY"})
_MONTH_DAYS = {
    1: 31,
    2: 29,
    3: 31,
    4: 30,
    5: 31,
    6: 30,
    7: 31,
    8: 31,
    9: 30,
    10: 31,
    11: 30,
    12: 31,
}


def _rule_parts(lines: tuple[str, ...]) -> list[dict[str, str]]:
    out = []
    for line in lines:
        if line.upper().startswith("RRULE"):
            try:
                out.append(dict(_parts(line)))
            except ValueError:
                continue
    return out


def sub_daily(lines: tuple[str, ...]) -> bool:
    """A rule that repeats more often than daily (FREQ=HOURLY, or BYHOUR/BYMINUTE/BYSECOND with
    more than one value): saved one by one it would flood Salesforce (audit M9)."""
    for parts in _rule_parts(lines):
        if parts.get("FREQ") in _SUB_DAILY:
            return True
        if any(len(parts.get(p, "").split(",")) > 1 for p in ("BYHOUR", "BYMINUTE", "BYSECOND")):
            return True
    return False


def never_occurs(lines: tuple[str, ...]) -> bool:
    """A rule whose BYMONTH and BYMONTHDAY never meet (30 February, or -30: thirty days before
    its end): dateutil would search every year up to 9999 for it (audit L4), so it is answered
    here."""
    for parts in _rule_parts(lines):
        months = parts.get("BYMONTH", "")
        days = parts.get("BYMONTHDAY", "")
        if not months or not days:
            continue
        try:
            month_list = [int(m) for m in months.split(",")]
            day_list = [int(d) for d in days.split(",")]
        except ValueError:
            continue
        # A negative day counts from the month's end: -30 in February is as impossible as 30.
        if all(abs(d) > _MONTH_DAYS.get(m, 31) for m in month_list for d in day_list):
            return True
    return False


def instances(lines: tuple[str, ...], span: Span, start: datetime, end: datetime,
              limit: int | None = None) -> list[Span]:  # fmt: skip
    """The instances of a series that start within [start, end], each as its own Span; at most
    `limit` of them (the expansion stops there).

    Expanded in the item's own zone so that a 09:00 meeting stays at 09:00 local across a DST
    change (its UTC instant moves by an hour), as Google expands it. Raises ValueError for a
    rule that cannot be read or an unknown zone.
    """
    zone = zone_of(span.time_zone)
    if zone is None:
        raise ValueError(f"unknown time zone {span.time_zone!r}")
    if never_occurs(lines):
        return []
    length: timedelta = span.duration
    out: list[Span] = []
    if span.start_date is not None:
        # All-day: floating dates; a UTC UNTIL is read as its date.
        dtstart = datetime.combine(span.start_date, time(0))
        text = "\n".join(re.sub(r"(UNTIL=\d{8}T\d{6})Z", r"\1", ln, flags=re.I) for ln in lines)
        rule = rrulestr(text, dtstart=dtstart, forceset=True, unfold=True)
        lo = datetime.combine(start.astimezone(UTC).date(), time(0))
        hi = datetime.combine(end.astimezone(UTC).date(), time(0))
        for occurrence in rule.xafter(lo, inc=True):
            if occurrence > hi or (limit is not None and len(out) >= limit):
                break
            day: date = occurrence.date()
            out.append(Span.all_day(day, day + length, span.time_zone))
        return out
    assert span.start is not None
    # Timed: expanded from an aware start in the item's zone, so wall time is kept across DST;
    # UNTIL must then be a UTC instant (RFC 5545), so a date or floating UNTIL is converted.
    text = "\n".join(_utc_until(ln, span, zone) for ln in lines)
    rule = rrulestr(text, dtstart=span.start.astimezone(zone), forceset=True, unfold=True)
    for occurrence in rule.xafter(start, inc=True):
        if occurrence > end or (limit is not None and len(out) >= limit):
            break
        begin = occurrence.astimezone(UTC)
        out.append(Span.timed(begin, begin + length, span.time_zone))
    return out


def _utc_until(line: str, span: Span, zone: tzinfo) -> str:
    def fix(match: re.Match[str]) -> str:
        return "UNTIL=" + _until_utc(match.group(1).upper(), span, zone)

    return re.sub(r"UNTIL=([0-9TZtz]+)", fix, line, flags=re.IGNORECASE)


def starts_between(lines: tuple[str, ...], span: Span, start: datetime, end: datetime) -> bool:
    """Whether any instance of the series starts within [start, end] (R-05 window for series).

    A rule that cannot be read counts by its first instance only.
    """
    try:
        return bool(instances(lines, span, start, end, limit=1))
    except (ValueError, TypeError, OverflowError):
        return start <= span.start_utc <= end
