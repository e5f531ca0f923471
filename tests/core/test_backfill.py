"""core/backfill.py: a backfill's range, checkpoint and progress line (R-38)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.backfill import (
    BatchResult,
    RangeError,
    Status,
    duration_text,
    new_checkpoint,
    parse_range,
    percent,
    progress_line,
    seconds_left,
)

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "expect"),
    [
        pytest.param("2024-01-01", "", (date(2024, 1, 1), date(2025, 3, 6)), id="R-38 until defaults to the window's start"),
        pytest.param("2024-01-01", "2024-07-01", (date(2024, 1, 1), date(2024, 7, 1)), id="R-38 an explicit range"),
        pytest.param("2025-03-01", "2025-09-01", (date(2025, 3, 1), date(2025, 9, 1)),
                     id="R-38 a range past the window, for items tagged far ahead"),
    ],
)  # fmt: skip
def test_parse_range(since, until, expect):
    assert parse_range(since, until, NOW, 14) == expect


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        pytest.param("yesterday", "", "--since 'yesterday' is not a date", id="not a date"),
        pytest.param("2024-01-01", "2024-13-01", "--until '2024-13-01' is not a date", id="bad until"),
        pytest.param("2024-07-01", "2024-01-01", "must be before --until 2024-01-01", id="reversed"),
        pytest.param("2025-03-10", "", "(the start of the sliding window, the default)", id="inside the window"),
    ],
)  # fmt: skip
def test_parse_range_says_what_is_wrong(since, until, message):
    with pytest.raises(RangeError, match=__import__("re").escape(message)):
        parse_range(since, until, NOW, 14)


def test_checkpoint_moves_page_by_page_then_calendar_by_calendar():
    """R-38: after each batch the checkpoint says where the next page starts."""
    cp = new_checkpoint("ann@corp.example", date(2024, 1, 1), date(2025, 1, 1),
                        ("ann@corp.example", "team@group.calendar.google.com"), NOW)  # fmt: skip
    cp = cp.after_batch(200, BatchResult(10, 185, 5), "page-2", NOW, 4.0)
    assert (cp.calendar_index, cp.page_token, cp.status) == (0, "page-2", Status.RUNNING)
    cp = cp.after_batch(50, BatchResult(1, 49, 0), "", NOW, 1.0)
    assert (cp.calendar_index, cp.page_token, cp.status) == (1, "", Status.RUNNING)
    cp = cp.after_batch(3, BatchResult(0, 3, 0), "", NOW, 0.5)
    assert cp.done and cp.finished_at == NOW
    assert (cp.read, cp.saved, cp.skipped, cp.failed, cp.batches) == (253, 11, 237, 5, 3)


def test_progress_line_reads_rate_and_time_left():
    cp = new_checkpoint("ann@corp.example", date(2024, 1, 1), date(2025, 1, 1), ("a",), NOW)
    assert "rate unknown" in progress_line(cp) and "unknown left" in progress_line(cp)
    cp = cp.after_batch(1000, BatchResult(100, 890, 10), "p2", NOW, 20.0)
    cp = type(cp)(**{**cp.__dict__, "total": 4000})
    line = progress_line(cp)
    assert line == ("read 1,000 of 4,000 | saved 100 | skipped 890 | failed 10 | 50.0 items/s | "
                    "1 min 00 s left")  # fmt: skip
    assert seconds_left(cp) == 60.0 and percent(cp) == 25.0


def test_durations_are_readable():
    assert [duration_text(s) for s in (None, 5, 125, 7260)] == [
        "unknown",
        "5 s",
        "2 min 05 s",
        "2 h 01 min",
    ]
