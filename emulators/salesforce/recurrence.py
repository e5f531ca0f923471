"""Recurrence2PatternText: the RRULE subset Salesforce accepts, its rewrite on save, expansion."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

from .errors import ApiError, bad_request

MAX_LENGTH = 512
MAX_OCCURRENCES = 999
OPEN_ENDED_HORIZON = timedelta(days=365)  # emulator choice for rules without COUNT/UNTIL

_ALLOWED = (
    "FREQ",
    "BYMONTH",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYDAY",
    "BYSETPOS",
    "WKST",
    "INTERVAL",
    "COUNT",
    "UNTIL",
)
_FREQS = {"DAILY": 999, "WEEKLY": 99, "MONTHLY": 99, "YEARLY": 1}  # max INTERVAL
_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")
_BYDAY = re.compile(r"^(-1|[1-4])?(SU|MO|TU|WE|TH|FR|SA)$")
_UNTIL = re.compile(r"^\d{8}T\d{6}Z$")


def _invalid(why: str) -> ApiError:
    return bad_request(
        "FIELD_INTEGRITY_EXCEPTION",
        f"Recurrence2PatternText: invalid recurrence pattern ({why})",
        ["Recurrence2PatternText"],
    )


def _int(parts: dict[str, str], key: str, low: int, high: int) -> None:
    value = parts.get(key)
    if value is None:
        return
    if not re.fullmatch(r"-?\d+", value) or not low <= int(value) <= high:
        raise _invalid(f"{key} must be between {low} and {high}")


def normalise(text: str) -> str:
    """Validate `text` against the supported subset; return it the way Salesforce stores it."""
    if len(text) > MAX_LENGTH:
        raise bad_request(
            "STRING_TOO_LONG",
            f"Recurrence2PatternText: data value too large: {text[:64]} (max length=512)",
            ["Recurrence2PatternText"],
        )
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        raise _invalid("only a single RRULE is supported; no EXDATE, RDATE or DTSTART")
    rule = lines[0]
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    parts: dict[str, str] = {}
    for item in rule.split(";"):
        key, sep, value = item.partition("=")
        key = key.strip().upper()
        if not sep or not value or key not in _ALLOWED or key in parts:
            raise _invalid(f"unsupported part {item!r}")
        parts[key] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq not in _FREQS:
        raise _invalid("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    parts.setdefault("INTERVAL", "1")
    _int(parts, "INTERVAL", 1, _FREQS[freq])
    _int(parts, "COUNT", 1, MAX_OCCURRENCES)
    if "COUNT" in parts and "UNTIL" in parts:
        raise _invalid("COUNT and UNTIL cannot both be set")
    if "UNTIL" in parts and not _UNTIL.match(parts["UNTIL"]):
        raise _invalid("UNTIL must look like yyyyMMddTHHmmssZ")
    _check_byday(parts, freq)
    if "BYSETPOS" in parts and parts["BYSETPOS"] not in ("-1", "1", "2", "3", "4"):
        raise _invalid("BYSETPOS must be -1 or 1 to 4")
    for key, low, high in (
        ("BYMONTH", 1, 12),
        ("BYMONTHDAY", -31, 31),
        ("BYYEARDAY", -366, 366),
        ("BYWEEKNO", -53, 53),
    ):
        for value in parts.get(key, "").split(",") if key in parts else []:
            _int({key: value}, key, low, high)
    if "WKST" in parts and parts["WKST"] not in _DAYS:
        raise _invalid("WKST must be a day code")
    if freq == "WEEKLY":
        parts.setdefault("WKST", "SU")
    order = (
        "FREQ",
        "BYMONTH",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYDAY",
        "BYSETPOS",
        "WKST",
        "INTERVAL",
        "COUNT",
        "UNTIL",
    )
    return "RRULE:" + ";".join(f"{k}={parts[k]}" for k in order if k in parts)


def _check_byday(parts: dict[str, str], freq: str) -> None:
    byday = parts.get("BYDAY")
    if byday is None:
        if freq == "WEEKLY":
            raise _invalid("WEEKLY needs BYDAY")
        return
    prefixes = set()
    for item in byday.split(","):
        match = _BYDAY.match(item)
        if not match:
            raise _invalid(f"BYDAY value {item!r} is not supported")
        prefixes.add(match.group(1))
    if freq == "WEEKLY" and prefixes != {None}:
        raise _invalid("WEEKLY BYDAY takes no numeric prefix")
    if len(prefixes) > 1:
        raise _invalid("BYDAY days must share one numeric prefix")


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "GMT")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def occurrences(pattern: str, start: datetime, tz_name: str | None) -> list[datetime]:
    """Start times (UTC) of the series, expanded in the owner's time zone like Salesforce."""
    tz = zone(tz_name)
    local = start.astimezone(tz)
    rule = rrulestr(pattern, dtstart=local)
    open_ended = "COUNT=" not in pattern and "UNTIL=" not in pattern
    horizon = local + OPEN_ENDED_HORIZON
    out: list[datetime] = []
    for when in rule:
        if len(out) >= MAX_OCCURRENCES or (open_ended and when > horizon):
            break
        out.append(when.astimezone(UTC))
    return out
