"""The backfill's machinery (R-38): read a user's calendars page by page over [since, until),
hand each page to the batch runner, save the checkpoint after each batch, resume from it.

The per-batch work is the session's (core.ports.BatchRunner); this module only moves pages and
counts. A run holds the user's backfill (BackfillStore.claim) so that two runs never overlap;
the batch runner takes the user's session lease per batch only, so live sessions go on between
batches (a busy lease makes the batch wait and try again). Before each batch the API budget is
asked whether bulk work may go on: it slows the run down, or stops it with its message.

The command line runs a backfill to its end (`Backfill.run` without a deadline); Cloud Tasks
runs it in bounded slices, each queuing the next (`run_slice`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.backfill import RESUMABLE, Checkpoint, Status, new_checkpoint, start_of
from core.errors import CalsyncError, GoogleRefused, PermanentError, RetryableError
from core.ports import (
    ApiBudget,
    BackfillQueue,
    BackfillStore,
    BatchRunner,
    BudgetCheck,
    CalendarPages,
)

log = logging.getLogger("calsync.backfill")

PAGE_SIZE = 200  # a batch: one Salesforce sObject Collection's worth of items
SLICE_SECONDS = 240.0  # a Cloud Tasks slice works this long, then queues the next one
CLI_HOLD = timedelta(minutes=2)  # renewed after every batch; a crashed run's hold lapses soon
TASK_HOLD = timedelta(seconds=SLICE_SECONDS + 120)
RETRY_PAUSES = (1.0, 2.0, 4.0, 8.0, 16.0)  # a busy lease, a rate limit: wait, try again
PAUSED_RETRY = timedelta(minutes=1)  # a paused chain tries again after this long


class BackfillBusy(Exception):
    """Another run holds this user's backfill."""

    def __init__(self, email: str, until: datetime | None) -> None:
        when = until.astimezone(UTC).strftime("%H:%M:%S UTC") if until else "soon"
        super().__init__(f"another backfill run of {email} holds it until {when}")
        self.until = until


class RangeConflict(ValueError):
    """An unfinished backfill of another range exists; the message says what to do."""


class _Pause(Exception):
    """The batch could not run now (retries used up); the run pauses with this message."""


class _Stop(Exception):
    """The batch can never run as it is; the run stops with this message."""


@dataclass
class Backfill:
    store: BackfillStore
    pages_for: Callable[[str], CalendarPages]
    runner: BatchRunner
    budget: ApiBudget
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    timer: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    page_size: int = PAGE_SIZE

    # -- where a run starts --------------------------------------------------------------

    def prepare(
        self, email: str, since: date, until: date, calendars: tuple[str, ...], *,
        restart: bool = False,
    ) -> Checkpoint:  # fmt: skip
        """The stored checkpoint of this range (to resume it), else a new one (not saved yet).
        An unfinished backfill of another range is not replaced unless `restart`."""
        existing = self.store.get(email)
        if existing is not None and not restart:
            if existing.same_range(since, until):
                return existing
            if existing.status in RESUMABLE:
                raise RangeConflict(
                    f"{email} has an unfinished backfill from {existing.since} to "
                    f"{existing.until} ({existing.read:,} items read): run it with those dates "
                    "to resume it, or add --restart to replace it"
                )
        return new_checkpoint(email, since, until, calendars, self.clock())

    # -- a run ---------------------------------------------------------------------------

    def run(
        self,
        cp: Checkpoint,
        *,
        holder: str,
        hold: timedelta = CLI_HOLD,
        dry_run: bool = False,
        deadline: float | None = None,
        progress: Callable[[Checkpoint], None] | None = None,
    ) -> Checkpoint:
        """Work from `cp` until the backfill is done, stopped, paused, or `deadline` (a
        `timer()` value) has passed; returns the checkpoint as saved. A dry run saves nothing
        and holds nothing. Ctrl-C saves the checkpoint as paused and re-raises."""
        if not dry_run and not self.store.claim(cp.email, holder, self.clock(), hold):
            raise BackfillBusy(cp.email, self.store.held_until(cp.email))
        save = (lambda c: None) if dry_run else self.store.save
        try:
            cp = replace(cp, status=Status.RUNNING, message="", updated_at=self.clock())
            if cp.total is None:
                cp = replace(cp, total=self._count(cp))
            save(cp)
            if progress:
                progress(cp)
            while not cp.done:
                if deadline is not None and self.timer() >= deadline:
                    break
                verdict = self.budget.check()
                if not verdict.ok:
                    cp = cp.with_status(Status.STOPPED, self.clock(), verdict.message)
                    break
                if verdict.pause_seconds > 0:
                    self.sleep(verdict.pause_seconds)
                try:
                    cp = self._batch(cp, dry_run)
                except _Pause as why:
                    cp = cp.with_status(Status.PAUSED, self.clock(), str(why))
                    break
                except _Stop as why:
                    cp = cp.with_status(Status.STOPPED, self.clock(), str(why))
                    break
                save(cp)
                if not dry_run:
                    self.store.claim(cp.email, holder, self.clock(), hold)  # renew
                if progress:
                    progress(cp)
        except KeyboardInterrupt:
            save(cp.with_status(Status.PAUSED, self.clock(), "interrupted"))
            raise
        finally:
            if not dry_run:
                self.store.release(cp.email, holder)
        save(cp)
        log.info("backfill run ended", extra={"user": cp.email, "status": cp.status.value,
                                              "count": cp.read})  # fmt: skip
        return cp

    def _count(self, cp: Checkpoint) -> int | None:
        try:
            pages = self.pages_for(cp.email)
            lo, hi = start_of(cp.since), start_of(cp.until)
            return sum(pages.count(calendar, lo, hi) for calendar in cp.calendars)
        except CalsyncError as exc:  # no total: the progress line says "unknown left"
            log.info("backfill count failed", extra={"user": cp.email, "code": exc.code})
            return None

    def _batch(self, cp: Checkpoint, dry_run: bool) -> Checkpoint:
        """One page read and run; retryable failures wait and try again (RETRY_PAUSES)."""
        calendar = cp.calendars[cp.calendar_index]
        lo, hi = start_of(cp.since), start_of(cp.until)
        for pause in (*RETRY_PAUSES, None):
            started = self.timer()
            try:
                page = self.pages_for(cp.email).page(calendar, lo, hi, cp.page_token,
                                                     self.page_size)  # fmt: skip
                result = self.runner.run(cp.email, page.items, dry_run, bounds=(lo, hi))
            except RetryableError as exc:
                if pause is None:
                    raise _Pause(f"{exc.message}; run the backfill again to resume") from exc
                log.info("backfill batch retried", extra={"user": cp.email, "code": exc.code})
                self.sleep(pause)
                continue
            except GoogleRefused as exc:
                if exc.status == 400 and cp.page_token:
                    # The page token is no longer valid: read the calendar again from its
                    # first page (the runner saves nothing twice).
                    log.warning("backfill page token refused", extra={"user": cp.email})
                    cp = replace(cp, page_token="")
                    continue
                raise _Stop(f"Google refused to list {calendar}: {exc.message}") from exc
            except PermanentError as exc:
                raise _Stop(f"{exc.code}: {exc.message}") from exc
            seconds = self.timer() - started
            return cp.after_batch(len(page.items), result, page.next_page_token, self.clock(),
                                  seconds)  # fmt: skip
        raise AssertionError("unreachable")


# --- Cloud Tasks slices --------------------------------------------------------------------


def run_slice(
    engine: Backfill, queue: BackfillQueue, email: str, chain: str, slice_no: int,
    seconds: float = SLICE_SECONDS,
) -> dict[str, Any]:  # fmt: skip
    """One bounded slice of a chain; queues the next while work is left. What it did comes
    back as a small dict (the task's answer: counts and status, no titles)."""
    cp = engine.store.get(email)
    if cp is None or cp.chain != chain:
        return {"ignored": "no backfill of this chain"}
    if cp.done or cp.status is Status.STOPPED:
        return {"ignored": cp.status.value}
    if slice_no < cp.slices:
        return {"ignored": f"slice {slice_no} is stale (slice {cp.slices} ran)"}
    cp = replace(cp, slices=slice_no)
    try:
        cp = engine.run(cp, holder=f"task:{chain}", hold=TASK_HOLD,
                        deadline=engine.timer() + seconds)  # fmt: skip
    except BackfillBusy as busy:
        at = busy.until or engine.clock() + PAUSED_RETRY
        queue.enqueue_slice(email, chain, slice_no + 1, at)
        return {"busy": True, "next_slice": slice_no + 1}
    answer: dict[str, Any] = {"status": cp.status.value, "read": cp.read, "saved": cp.saved,
                              "skipped": cp.skipped, "failed": cp.failed}  # fmt: skip
    if cp.status in (Status.RUNNING, Status.PAUSED):
        at = engine.clock() + (PAUSED_RETRY if cp.status is Status.PAUSED else timedelta(0))
        queue.enqueue_slice(email, chain, slice_no + 1, at)
        answer["next_slice"] = slice_no + 1
    return answer


def queue_chain(engine: Backfill, queue: BackfillQueue, cp: Checkpoint, chain: str) -> Checkpoint:
    """Hand a user's backfill to a new Cloud Tasks chain (a chain left from before stops at
    its next slice: its id is no longer the checkpoint's)."""
    cp = replace(cp, chain=chain, slices=0, status=Status.QUEUED, message="",
                 updated_at=engine.clock())  # fmt: skip
    engine.store.save(cp)
    queue.enqueue_slice(cp.email, chain, 1, engine.clock())
    return cp


# --- the API budget --------------------------------------------------------------------------


@dataclass
class OrgBudget:
    """R-38: a backfill uses at most `share` of the org's daily Salesforce API calls that were
    left when it started, read from `calsync_org/api_budget` (written from each answer's
    Sforce-Limit-Info header, shared-contracts.md). Within the last fifth of its share it
    slows down; past it, it stops with a message. No document: unknown, no limit applied."""

    read: Callable[[], dict[str, Any] | None]
    share: float = 0.5
    slow_pause: float = 2.0
    _baseline: int | None = None

    def check(self) -> BudgetCheck:
        doc = self.read()
        if not doc or not isinstance(doc.get("remaining"), int):
            return BudgetCheck(True)
        remaining = int(doc["remaining"])
        if self._baseline is None:
            self._baseline = remaining
        allowed = self.share * self._baseline
        used = self._baseline - remaining
        if used >= allowed:
            return BudgetCheck(
                False,
                f"stopped to spare the Salesforce API budget: the org has {remaining:,} of "
                f"{int(doc.get('max') or 0):,} daily calls left, and a backfill uses at most "
                f"{self.share:.0%} of what was left when it started ({self._baseline:,}). Run "
                "it again later (the daily allowance renews over 24 hours) to resume",
            )
        if used >= 0.8 * allowed:
            return BudgetCheck(True, "slowing down: near its share of the API budget",
                               self.slow_pause)  # fmt: skip
        return BudgetCheck(True)


def firestore_budget_reader(client: Any) -> Callable[[], dict[str, Any] | None]:
    """The contract document `calsync_org/api_budget` (issue 14 writes it; its reader module
    infra/budget.py is to replace this one when it lands)."""

    def read() -> dict[str, Any] | None:
        snapshot = client.collection("calsync_org").document("api_budget").get()
        return snapshot.to_dict() if snapshot.exists else None

    return read
