"""`python main.py backfill ...` (R-38): save older items by the autosave rules, resumably.

    backfill EMAIL --since DATE [--until DATE] [--dry-run] [--restart]
    backfill --all --since DATE [--until DATE] [--restart]
    backfill status [EMAIL] [--json]

One user's backfill runs here, batch by batch, with a progress line on stderr; Ctrl-C (or a
crash) leaves a checkpoint, and the same command resumes from it. `--all` hands one backfill per
enabled user to Cloud Tasks, in bounded slices that queue each other. Self-contained: the
command line registers it (`register`) and calls `handle`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from core.backfill import (
    Checkpoint,
    RangeError,
    Status,
    duration_text,
    parse_day,
    parse_range,
    percent,
    progress_line,
    rate,
    seconds_left,
)
from core.settings import resolve
from core.users import normalise_email

EXIT_OK, EXIT_UNFINISHED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """\
examples:
  python main.py backfill alice@example.com --since 2025-01-01
  python main.py backfill alice@example.com --since 2025-01-01 --dry-run
  python main.py backfill --all --since 2025-01-01 --until 2025-06-01
  python main.py backfill status

--until defaults to the first day of the sliding window (the sessions handle the window).
Items are saved by the autosave rules (R-05..R-09) and manual saves, not by the window.
Interrupted? Run the same command again: it resumes from the last batch, saving nothing twice.
Exit codes: 0 done, 1 stopped or paused (see the message), 2 bad input, 130 interrupted."""


class BackfillUsage(Exception):
    """Bad input: printed as `error: ...`, exit code 2."""


@dataclass
class Deps:
    """What the command uses, each built on first use (tests pass their own)."""

    settings: Callable[[], Any]  # core.ports.SettingsStore
    engine: Callable[[bool], Any]  # needs_runner -> infra.backfill.Backfill
    queue: Callable[[], Any]  # core.ports.BackfillQueue
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    timer: Callable[[], float] = time.monotonic


def deps_for(store_factory: Callable[[], Any]) -> Deps:
    """The real services (or the local stack), as the rest of the command line uses them."""
    from infra import wiring

    return Deps(settings=store_factory, engine=wiring.backfill, queue=wiring.backfill_queue)


def register(commands: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "backfill",
        help="save older items by the autosave rules, resumably (R-38)",
        description="Apply the autosave rules to a user's items older than the sliding "
        "window, in bounded batches with a progress line; resumable after an interruption.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("words", nargs="*", metavar="TARGET",
                        help="the user's EMAIL, or `status [EMAIL]` to show the backfills")  # fmt: skip
    parser.add_argument("--since", type=_day("--since"), help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--until", default="", type=_day("--until"),
                        help="day after the last, YYYY-MM-DD (UTC)")  # fmt: skip
    parser.add_argument("--all", action="store_true",
                        help="every enabled user, as Cloud Tasks (bounded slices)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would be saved; write nothing anywhere")  # fmt: skip
    parser.add_argument("--restart", action="store_true",
                        help="start over (or replace an unfinished backfill of other dates)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="status as JSON")
    return parser


def _day(flag: str) -> Callable[[str], str]:
    """An argparse type: the date's form is checked before anything is reached (exit 2)."""

    def check(text: str) -> str:
        if not text:
            return text  # --until's default: no end
        try:
            parse_day(flag, text)
        except RangeError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    return check


def handle(args: argparse.Namespace, deps: Deps, out: TextIO, err: TextIO | None = None) -> int:
    """Run the parsed command; returns its exit code."""
    err = err or sys.stderr
    try:
        return _dispatch(args, deps, out, err)
    except BackfillUsage as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE


def _dispatch(args: argparse.Namespace, deps: Deps, out: TextIO, err: TextIO) -> int:
    words = list(args.words)
    if words[:1] == ["status"]:
        if len(words) > 2 or args.all or args.since or args.dry_run or args.restart:
            raise BackfillUsage("usage: backfill status [EMAIL] [--json]")
        return _status(deps, words[1] if len(words) == 2 else "", args.json, out)
    if args.json:
        raise BackfillUsage("--json goes with `backfill status`")
    if args.all == bool(words) or len(words) > 1:
        raise BackfillUsage("name one user (backfill EMAIL --since DATE) or use --all")
    if not args.since:
        raise BackfillUsage("--since DATE is needed (the first day to backfill, YYYY-MM-DD)")
    try:  # the form of the dates first; their range needs the user's settings
        parse_day("--since", args.since)
        if args.until:
            parse_day("--until", args.until)
    except RangeError as exc:
        raise BackfillUsage(str(exc)) from None
    if args.all:
        if args.dry_run:
            raise BackfillUsage("--dry-run runs one user here: backfill EMAIL --dry-run")
        return _all(args, deps, out)
    return _one(_email(words[0]), args, deps, out, err)


def _email(text: str) -> str:
    try:
        return normalise_email(text)
    except ValueError as exc:
        raise BackfillUsage(str(exc)) from None


def _plan(store: Any, email: str, args: argparse.Namespace, now: datetime) -> tuple[Any, ...]:
    """(since, until, calendars) for a user, from the command and their settings."""
    user = store.get_user(email)
    if user is None or not user.enabled:
        raise BackfillUsage(f"{email} is not an enabled user (python main.py users list)")
    settings, _ = resolve(store.org_settings(), user.settings, user.email)
    try:
        since, until = parse_range(args.since, args.until, now, settings.window_past_days)
    except RangeError as exc:
        raise BackfillUsage(str(exc)) from None
    return since, until, (user.email, *settings.group_calendars)


def _one(email: str, args: argparse.Namespace, deps: Deps, out: TextIO, err: TextIO) -> int:
    from infra.backfill import BackfillBusy, RangeConflict

    engine = deps.engine(True)
    since, until, calendars = _plan(deps.settings(), email, args, deps.clock())
    try:
        cp = engine.prepare(email, since, until, calendars, restart=args.restart or args.dry_run)
    except RangeConflict as exc:
        raise BackfillUsage(str(exc)) from None
    if cp.done:
        print(f"{_summary(cp)}\nnothing to do: this backfill finished; --restart runs it again "
              "(what is saved already is not saved twice)", file=out)  # fmt: skip
        return EXIT_OK
    if cp.chain and cp.status in (Status.QUEUED, Status.RUNNING):
        raise BackfillUsage(f"{email}'s backfill runs in Cloud Tasks: `python main.py backfill "
                            "status` shows its progress")  # fmt: skip
    if cp.read and not args.dry_run:
        print(f"resuming after {cp.read:,} items ({cp.batches} batches)", file=err)
    bar = ProgressBar(err, deps.timer)
    try:
        cp = engine.run(replace_chain(cp), holder=f"cli:{uuid.uuid4().hex[:12]}",
                        dry_run=args.dry_run, progress=bar)  # fmt: skip
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: run the same command again to resume from the last batch", file=err)
        return EXIT_INTERRUPTED
    except BackfillBusy as exc:
        bar.close()
        raise BackfillUsage(f"{exc}; `python main.py backfill status` shows it") from None
    bar.close()
    print(_summary(cp, dry_run=args.dry_run), file=out)
    if cp.done:
        return EXIT_OK
    print(f"{cp.status.value}: {cp.message or 'not finished'}", file=out)
    return EXIT_UNFINISHED


def replace_chain(cp: Checkpoint) -> Checkpoint:
    """A run from the command line owns the backfill from now on: no chain."""
    from dataclasses import replace

    return replace(cp, chain="", slices=0)


def _all(args: argparse.Namespace, deps: Deps, out: TextIO) -> int:
    from infra.backfill import RangeConflict, queue_chain

    engine = deps.engine(True)
    store, queue, now = deps.settings(), deps.queue(), deps.clock()
    users = [u for u in store.list_users() if u.enabled]
    if not users:
        raise BackfillUsage("no enabled users (python main.py users enable EMAIL)")
    queued = 0
    for user in users:
        since, until, calendars = _plan(store, user.email, args, now)
        try:
            cp = engine.prepare(user.email, since, until, calendars, restart=args.restart)
        except RangeConflict as exc:
            print(f"{user.email}: skipped: {exc}", file=out)
            continue
        held = engine.store.held_until(user.email)
        if cp.done:
            print(f"{user.email}: done already ({cp.saved:,} saved); --restart runs it again",
                  file=out)  # fmt: skip
        elif held is not None and held > now:
            print(f"{user.email}: running (held until {held:%H:%M:%S} UTC)", file=out)
        else:
            queue_chain(engine, queue, cp, uuid.uuid4().hex[:12])
            queued += 1
            resumed = f" (resuming after {cp.read:,} items)" if cp.read else ""
            print(f"{user.email}: queued {since} to {until}{resumed}", file=out)
    print(f"{queued} backfill(s) queued; `python main.py backfill status` shows their progress",
          file=out)  # fmt: skip
    return EXIT_OK


def _status(deps: Deps, email: str, as_json: bool, out: TextIO) -> int:
    engine = deps.engine(False)
    rows = [cp for cp in engine.store.list() if not email or cp.email == _email(email)]
    if as_json:
        print(json.dumps([_row(cp) for cp in rows], indent=2), file=out)
        return EXIT_OK
    if not rows:
        print("no backfills yet; start one with `python main.py backfill EMAIL --since DATE`",
              file=out)  # fmt: skip
        return EXIT_OK
    table = [("USER", "RANGE", "STATUS", "READ", "SAVED", "SKIPPED", "FAILED", "RATE", "LEFT",
              "UPDATED")]  # fmt: skip
    for cp in rows:
        r = _row(cp)
        of = f"/{r['total']:,}" if r["total"] is not None else ""
        speed = f"{r['rate']:.1f}/s" if r["rate"] is not None else "-"
        table.append((cp.email, f"{cp.since} to {cp.until}", cp.status.value,
                      f"{cp.read:,}{of}", f"{cp.saved:,}", f"{cp.skipped:,}", f"{cp.failed:,}",
                      speed, r["left"], r["updated_at"] or "-"))  # fmt: skip
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for row in table:
        print(
            "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out
        )
    for cp in rows:
        if cp.message:
            print(f"{cp.email}: {cp.message}", file=out)
    return EXIT_OK


def _row(cp: Checkpoint) -> dict[str, Any]:
    speed = rate(cp)
    return {
        "user": cp.email, "since": cp.since.isoformat(), "until": cp.until.isoformat(),
        "status": cp.status.value, "read": cp.read, "total": cp.total, "saved": cp.saved,
        "skipped": cp.skipped, "failed": cp.failed, "batches": cp.batches,
        "rate": round(speed, 2) if speed is not None else None,
        "left": "done" if cp.done else duration_text(seconds_left(cp)),
        "percent": percent(cp), "message": cp.message,
        "updated_at": cp.updated_at.astimezone(UTC).isoformat() if cp.updated_at else None,
        "runs_in": "cloud tasks" if cp.chain else "command line",
    }  # fmt: skip


def _summary(cp: Checkpoint, dry_run: bool = False) -> str:
    head = f"{cp.email}: backfill {cp.since} to {cp.until}"
    if dry_run:
        return (f"{head}, dry run, nothing written: {cp.read:,} item"
                f"{'' if cp.read == 1 else 's'} read, would save "
                f"{cp.saved:,}, skip {cp.skipped:,}, fail {cp.failed:,}")  # fmt: skip
    tail = (
        f"{cp.read:,} item{'' if cp.read == 1 else 's'} read, {cp.saved:,} saved, "
        f"{cp.skipped:,} skipped, {cp.failed:,} failed"
    )
    if cp.failed:
        tail += f" (each failure is an open issue: python main.py issues --user {cp.email})"
    return f"{head} {'done' if cp.done else cp.status.value}: {tail}"


class ProgressBar:
    """The progress line on stderr. On a terminal one line redrawn in place (at most five
    times a second); elsewhere (a log, a pipe) plain lines, one every `plain_every` seconds
    and one at the end, with no control characters."""

    def __init__(self, stream: TextIO, timer: Callable[[], float], plain_every: float = 10.0):
        self.stream = stream
        self.timer = timer
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = 0.2 if self.tty else plain_every
        self._last: float | None = None
        self._width = 0
        self._pending: Checkpoint | None = None

    def __call__(self, cp: Checkpoint) -> None:
        now = self.timer()
        if self._last is not None and now - self._last < self.every and not cp.done:
            self._pending = cp
            return
        self._show(cp)
        self._last, self._pending = now, None

    def _show(self, cp: Checkpoint) -> None:
        line = _bar(cp) + progress_line(cp)
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = max(self._width, len(line))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """The last state (if not shown yet), then end the line on a terminal."""
        if self._pending is not None:
            self._show(self._pending)
            self._pending = None
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


def _bar(cp: Checkpoint, width: int = 20) -> str:
    share = percent(cp)
    if share is None:
        return ""
    filled = int(width * share / 100)
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:3.0f}% "
