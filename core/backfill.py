"""R-38: a backfill's bookkeeping: its date range, its checkpoint and its progress line.

A backfill reads one user's calendars over [since, until) page by page and hands each page, a
bounded batch, to the session's batch runner (core.ports.BatchRunner), which applies the
autosave rules without the sliding window. After each batch the checkpoint (where the next page
starts, and the counts so far) is saved, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum


class Status(Enum):
    QUEUED = "queued"  # waiting for its first (or next) Cloud Task slice
    RUNNING = "running"
    PAUSED = "paused"  # interrupted (Ctrl-C, a crash, a retryable failure): run it again
    STOPPED = "stopped"  # stopped on purpose (API budget, a refusal): see the message
    DONE = "done"


RESUMABLE = frozenset({Status.QUEUED, Status.RUNNING, Status.PAUSED, Status.STOPPED})


@dataclass(frozen=True)
class BatchResult:
    """What the batch runner did with one batch of items (R-38)."""

    saved: int = 0
    skipped: int = 0
    failed: int = 0

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(
            self.saved + other.saved, self.skipped + other.skipped, self.failed + other.failed
        )


@dataclass(frozen=True)
class Checkpoint:
    """Where one user's backfill stands; saved after every batch."""

    email: str
    since: date
    until: date  # exclusive
    calendars: tuple[str, ...]  # the primary calendar, then the group calendars
    calendar_index: int = 0  # the calendar being read
    page_token: str = ""  # where its next page starts ("" = its first page)
    status: Status = Status.QUEUED
    read: int = 0
    saved: int = 0
    skipped: int = 0
    failed: int = 0
    total: int | None = None  # items in the range, counted when the run starts
    batches: int = 0
    busy_seconds: float = 0.0  # time spent on batches (the rate leaves pauses out)
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    chain: str = ""  # the Cloud Tasks chain running it ("" when run from the command line)
    slices: int = 0  # the last slice of that chain that started

    @property
    def done(self) -> bool:
        return self.status is Status.DONE

    @property
    def result(self) -> BatchResult:
        return BatchResult(self.saved, self.skipped, self.failed)

    def same_range(self, since: date, until: date) -> bool:
        return (self.since, self.until) == (since, until)

    def after_batch(
        self, read: int, result: BatchResult, next_token: str, now: datetime, seconds: float
    ) -> Checkpoint:
        """The checkpoint once a batch of `read` items is done; `next_token` "" means the
        current calendar is finished (the next one starts, or the backfill is done)."""
        index, token = self.calendar_index, next_token
        if not next_token:
            index, token = index + 1, ""
        finished = index >= len(self.calendars)
        return replace(
            self,
            calendar_index=index,
            page_token=token,
            status=Status.DONE if finished else Status.RUNNING,
            read=self.read + read,
            saved=self.saved + result.saved,
            skipped=self.skipped + result.skipped,
            failed=self.failed + result.failed,
            batches=self.batches + 1,
            busy_seconds=self.busy_seconds + max(0.0, seconds),
            updated_at=now,
            finished_at=now if finished else None,
            message="" if not finished else self.message,
        )

    def with_status(self, status: Status, now: datetime, message: str = "") -> Checkpoint:
        return replace(self, status=status, updated_at=now, message=message)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def new_checkpoint(
    email: str, since: date, until: date, calendars: tuple[str, ...], now: datetime
) -> Checkpoint:
    return Checkpoint(email, since, until, calendars, started_at=now, updated_at=now)


class RangeError(ValueError):
    """A --since/--until that cannot be a backfill range; the message says why."""


def parse_range(
    since_text: str, until_text: str, now: datetime, window_past_days: int
) -> tuple[date, date]:
    """R-38: [since, until) as dates (UTC days). `until` defaults to the first day of the
    sliding window, whose items the sessions handle (R-05); a later `until` is allowed, for
    items tagged far ahead before the first session (docs/decisions.md)."""
    since = parse_day("--since", since_text)
    until = (
        parse_day("--until", until_text)
        if until_text
        else (now - timedelta(days=window_past_days)).date()
    )
    if since >= until:
        raise RangeError(
            f"--since {since.isoformat()} must be before --until {until.isoformat()}"
            + ("" if until_text else " (the start of the sliding window, the default)")
        )
    return since, until


def parse_day(flag: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RangeError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from None


# --- progress -------------------------------------------------------------------------------


def rate(cp: Checkpoint) -> float | None:
    """Items read per second of batch work, None before the first batch."""
    if cp.busy_seconds <= 0 or cp.read == 0:
        return None
    return cp.read / cp.busy_seconds


def seconds_left(cp: Checkpoint) -> float | None:
    """An estimate from the count made at the start and the rate so far (None: unknown)."""
    if cp.done:
        return 0.0
    speed = rate(cp)
    if speed is None or cp.total is None:
        return None
    return max(0, cp.total - cp.read) / speed


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(cp: Checkpoint) -> str:
    """One line: items read (of the total counted), saved, skipped, failed, rate, time left."""
    of = f" of {cp.total:,}" if cp.total is not None else ""
    speed = rate(cp)
    parts = [
        f"read {cp.read:,}{of}",
        f"saved {cp.saved:,}",
        f"skipped {cp.skipped:,}",
        f"failed {cp.failed:,}",
        f"{speed:,.1f} items/s" if speed is not None else "rate unknown",
        "done" if cp.done else f"{duration_text(seconds_left(cp))} left",
    ]
    return " | ".join(parts)


def percent(cp: Checkpoint) -> float | None:
    if cp.done:
        return 100.0
    if not cp.total:
        return None
    return min(100.0, 100.0 * cp.read / cp.total)
