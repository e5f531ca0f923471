"""core/recurrence.py: Google RRULE → Salesforce's subset or a refusal (R-17), the 24-hour
instance rule (R-09), and expansion in the item's zone across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.model import Span
from core.recurrence import instance_too_long, instances, normalise, translate

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = Span.timed(
    datetime(2025, 3, 24, 9, tzinfo=BERLIN),
    datetime(2025, 3, 24, 10, tzinfo=BERLIN),
    "Europe/Berlin",
)


@pytest.mark.parametrize(
    ("lines", "pattern"),
    [
        pytest.param(("RRULE:FREQ=WEEKLY;BYDAY=MO,WE",), "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE", id="R-17 weekly with BYDAY"),
        pytest.param(("RRULE:FREQ=WEEKLY",), "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO", id="R-17 weekly gets BYDAY of its start"),
        pytest.param(("RRULE:FREQ=DAILY;COUNT=5",), "RRULE:FREQ=DAILY;INTERVAL=1;COUNT=5", id="R-17 daily count"),
        pytest.param(("RRULE:FREQ=MONTHLY;BYDAY=-1FR",), "RRULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=-1FR", id="R-17 last Friday monthly"),
        pytest.param(("RRULE:FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=2",), "RRULE:FREQ=MONTHLY;INTERVAL=1;BYDAY=MO,TU;BYSETPOS=2", id="R-17 BYSETPOS 2"),
        pytest.param(("RRULE:FREQ=WEEKLY;UNTIL=20250501",), "RRULE:FREQ=WEEKLY;INTERVAL=1;UNTIL=20250501T215959Z;BYDAY=MO", id="R-17 date UNTIL as UTC end of that day"),
        pytest.param(("RRULE:FREQ=WEEKLY;UNTIL=20250501T080000Z;BYDAY=MO",), "RRULE:FREQ=WEEKLY;INTERVAL=1;UNTIL=20250501T080000Z;BYDAY=MO", id="R-17 UTC UNTIL kept"),
        pytest.param(("RRULE:FREQ=DAILY;INTERVAL=999",), "RRULE:FREQ=DAILY;INTERVAL=999", id="R-17 daily interval 999"),
        pytest.param(("RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=24",), "RRULE:FREQ=YEARLY;INTERVAL=1;BYMONTHDAY=24;BYMONTH=3", id="R-17 yearly"),
    ],
)  # fmt: skip
def test_translated(lines, pattern):
    result = translate(lines, MONDAY)
    assert result.ok and result.pattern == pattern, result.refusal


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        pytest.param(("RRULE:FREQ=WEEKLY", "EXDATE;TZID=Europe/Berlin:20250331T090000"), "EXDATE", id="R-17 EXDATE refused"),
        pytest.param(("RRULE:FREQ=WEEKLY", "RDATE:20250402T080000Z"), "RDATE", id="R-17 RDATE refused"),
        pytest.param(("RRULE:FREQ=HOURLY",), "FREQ=HOURLY", id="R-17 hourly refused"),
        pytest.param(("RRULE:FREQ=WEEKLY;BYDAY=1MO",), "numbered BYDAY", id="R-17 numbered BYDAY in weekly refused"),
        pytest.param(("RRULE:FREQ=MONTHLY;BYDAY=5FR",), "-1 or 1-4", id="R-17 BYDAY 5 refused"),
        pytest.param(("RRULE:FREQ=MONTHLY;BYDAY=1MO,-1FR",), "one BYDAY number", id="R-17 mixed BYDAY numbers refused"),
        pytest.param(("RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=5",), "BYSETPOS", id="R-17 BYSETPOS 5 refused"),
        pytest.param(("RRULE:FREQ=WEEKLY;INTERVAL=100",), "INTERVAL 1-99", id="R-17 weekly interval 100 refused"),
        pytest.param(("RRULE:FREQ=YEARLY;INTERVAL=2",), "INTERVAL 1-1", id="R-17 yearly interval 2 refused"),
        pytest.param(("RRULE:FREQ=DAILY;COUNT=1000",), "COUNT", id="R-17 count 1000 refused"),
        pytest.param(("RRULE:FREQ=DAILY;COUNT=3;UNTIL=20250501",), "both UNTIL and COUNT", id="R-17 UNTIL and COUNT refused"),
        pytest.param(("RRULE:FREQ=DAILY;BYHOUR=9,17",), "BYHOUR", id="R-17 BYHOUR refused"),
        pytest.param(("RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"), "exactly one RRULE", id="R-17 two rules refused"),
    ],
)  # fmt: skip
def test_refused(lines, why):
    result = translate(lines, MONDAY)
    assert not result.ok and why in result.refusal


def test_long_pattern_refusal_names_the_limit():
    """R-17: at most 512 characters."""
    rule = "RRULE:FREQ=MONTHLY;BYMONTHDAY=" + ",".join(str(d) for d in range(1, 29)) * 8
    assert "512" in translate((rule,), MONDAY).refusal


def test_normalise_matches_salesforce_rewrites():
    """R-17: Salesforce reorders parts and adds INTERVAL=1: compare normalised forms."""
    assert normalise("FREQ=WEEKLY;BYDAY=MO") == normalise("RRULE:BYDAY=MO;INTERVAL=1;FREQ=WEEKLY")


@pytest.mark.parametrize(
    ("span", "too_long"),
    [
        pytest.param(Span.timed(datetime(2025, 3, 24, 9, tzinfo=UTC), datetime(2025, 3, 25, 9, tzinfo=UTC)), False, id="R-09 instance of exactly 24h"),
        pytest.param(Span.timed(datetime(2025, 3, 24, 9, tzinfo=UTC), datetime(2025, 3, 25, 9, 1, tzinfo=UTC)), True, id="R-09 instance of 24h+1min"),
        pytest.param(Span.all_day(date(2025, 3, 24), date(2025, 3, 25)), False, id="R-09 one-day all-day instance"),
        pytest.param(Span.all_day(date(2025, 3, 24), date(2025, 3, 26)), True, id="R-09 two-day all-day instance"),
    ],
)  # fmt: skip
def test_instance_length(span, too_long):
    assert instance_too_long(span) is too_long


def test_instances_keep_wall_time_across_dst():
    """R-17: a 09:00 Berlin weekly meeting is 08:00 UTC before 30 March 2025 and 07:00 after."""
    got = instances(("RRULE:FREQ=WEEKLY;COUNT=3",), MONDAY,
                    datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    assert [s.start_utc.hour for s in got] == [8, 7, 7]
    assert all(s.duration.total_seconds() == 3600 for s in got)


def test_instances_honour_exdate_and_window():
    lines = (
        "RRULE:FREQ=WEEKLY;UNTIL=20250421T070000Z",
        "EXDATE;TZID=Europe/Berlin:20250331T090000",
    )
    got = instances(
        lines, MONDAY, datetime(2025, 3, 25, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert [s.start_utc.date().isoformat() for s in got] == [
        "2025-04-07",
        "2025-04-14",
        "2025-04-21",
    ]


def test_instances_unknown_zone():
    span = Span.timed(MONDAY.start_utc, MONDAY.end_utc, "Nowhere/Zone")
    with pytest.raises(ValueError, match="unknown time zone"):
        instances(("RRULE:FREQ=DAILY",), span, MONDAY.start_utc, MONDAY.end_utc)
