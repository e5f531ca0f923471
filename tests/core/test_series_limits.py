"""What odd input may cost (audit L4, M9; R-17, R-30, R-35): the description cleaning is linear and
never-occurring rules are answered without dateutil's walk to year 9999.

These are not speed tests (speed is measured by `make bench`): each bounds work that used to
grow without limit, with a guard a thousand times above what the code needs now, so it fails only
on the old behaviour (minutes to forever), never on a slow machine.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from core import recurrence
from core.fields import plain_text
from core.model import Span

START = datetime(2026, 12, 8, 9, tzinfo=UTC)
SPAN = Span.timed(START, START + timedelta(hours=1), "Europe/Berlin")
LO, HI = START - timedelta(days=14), START + timedelta(days=60)


class Unbounded(AssertionError):
    pass


@contextmanager
def finishes_within(seconds: int):
    """Fails the test when the block is still running after `seconds` (dateutil and re are pure
    Python or release signals, so SIGALRM interrupts them)."""

    def stop(signum, frame):
        raise Unbounded(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_L4_R14_description_cleaning_is_linear_on_many_unclosed_tags():
    """Old code: `<\\s*/?\\s*[a-zA-Z][^>]*>` rescanned to the end from every `<a` ("64 KB → 1.4 s,
    256 KB → 22.7 s"); 1 MB would take minutes. Linear now: milliseconds."""
    with finishes_within(20):
        text = plain_text("<a " * 350_000)
    assert text.startswith("<a")
    assert plain_text("x <b>bold</b> y") == "x bold y"


NEVER = [
    pytest.param("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", id="30 February"),
    pytest.param("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30", id="30 days before February's end"),
    pytest.param("RRULE:FREQ=HOURLY;BYMONTH=4,6;BYMONTHDAY=31", id="hourly on 31 April or June"),
    pytest.param("RRULE:FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=-31;BYDAY=MO", id="weekly, never"),
]  # fmt: skip


@pytest.mark.parametrize("rule", NEVER)
def test_L4_M9_R05_a_never_occurring_rule_is_answered_without_walking_to_9999(rule):
    """Old code: dateutil searched every period up to year 9999 for an instance ("3.5 s per
    starts_between call, FREQ=HOURLY 6.4 s"), in every session that read the series. The first
    case was answered by the rebuilt code; the others were found by this suite (BYMONTHDAY=-30
    took 3 s a call, hourly over a minute)."""
    assert recurrence.never_occurs((rule,))
    with finishes_within(20):
        assert recurrence.starts_between((rule,), SPAN, LO, HI) is False
        assert recurrence.instances((rule,), SPAN, LO, HI, limit=101) == []


@pytest.mark.parametrize("rule", ["RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
                                  "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1",
                                  "RRULE:FREQ=MONTHLY;BYMONTH=2,3;BYMONTHDAY=30"])  # fmt: skip
def test_L4_rules_that_do_occur_are_not_taken_for_never(rule):
    assert not recurrence.never_occurs((rule,))


def test_M9_R17_instances_stop_at_their_limit():
    """Audit M9: the expansion itself is bounded (`count`), not only what is kept of it."""
    with finishes_within(20):
        spans = recurrence.instances(("RRULE:FREQ=SECONDLY",), SPAN, LO, HI, limit=101)
    assert len(spans) == 101
