"""The org's Salesforce API budget in Firestore (`calsync_org/api_budget`): written from the
`Sforce-Limit-Info` header of Salesforce's answers, read by `status`, the dashboard and the bulk
gate (core/budget.py decides).

The document is `{"remaining", "max", "read_at"}` (plus the bulk reference, `reference` and
`reference_at`); no document means the budget is not known yet. Each instance writes what it
saw at most once every WRITE_EVERY, so the budget costs one Firestore write a minute per busy
instance, not one per Salesforce call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from core.budget import Budget, Verdict, bulk_verdict, parse_limit_info
from core.ports import BudgetCheck

log = logging.getLogger(__name__)
BUDGET_DOC = ("calsync_org", "api_budget")
WRITE_EVERY = timedelta(seconds=60)


def _ref(db: firestore.Client) -> firestore.DocumentReference:
    return db.collection(BUDGET_DOC[0]).document(BUDGET_DOC[1])


def read_budget(db: firestore.Client) -> Budget | None:
    """The last stored reading, or None when Salesforce was not called yet."""
    snapshot = _ref(db).get()
    data: dict[str, Any] = snapshot.to_dict() or {} if snapshot.exists else {}
    if not isinstance(data.get("remaining"), int) or not isinstance(data.get("max"), int):
        return None
    return Budget(
        remaining=data["remaining"],
        max=data["max"],
        read_at=data.get("read_at") or datetime.fromtimestamp(0, UTC),
        reference=data.get("reference") if isinstance(data.get("reference"), int) else None,
        reference_at=data.get("reference_at"),
    )


def bulk_may_proceed(db: firestore.Client, planned_calls: int, share: float,
                     now: datetime) -> Verdict:  # fmt: skip
    """What the session and the backfill ask before bulk work (initial syncs, backfills): may
    it spend `planned_calls` more Salesforce calls? Interactive saves never ask."""
    stored = read_budget(db)
    verdict = bulk_verdict(stored, planned_calls, share, now)
    after = verdict.budget
    if after is not None and stored is not None and after.reference_at != stored.reference_at:
        _ref(db).set({"reference": after.reference, "reference_at": after.reference_at},
                     merge=True)  # fmt: skip
    if not verdict.allowed:
        log.warning("bulk work paused for the Salesforce budget", extra={"count": planned_calls})
    return verdict


class BudgetRecorder:
    """Takes every `Sforce-Limit-Info` header seen; stores the latest reading now and then."""

    def __init__(self, db: firestore.Client, clock: Callable[[], float] = time.monotonic):
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._written_at: float | None = None
        self.latest: Budget | None = None

    def observe(self, header: str) -> None:
        parsed = parse_limit_info(header)
        if parsed is None:
            return
        used, most = parsed
        now = self._clock()
        with self._lock:
            self.latest = Budget(max(0, most - used), most, datetime.now(UTC))
            due = self._written_at is None or now - self._written_at >= WRITE_EVERY.total_seconds()
            if due:
                self._written_at = now
        if due:
            self.flush()

    def flush(self) -> None:
        """Store the latest reading (a failure is logged: the budget is advisory)."""
        with self._lock:
            latest = self.latest
        if latest is None:
            return
        try:
            _ref(self._db).set({"remaining": latest.remaining, "max": latest.max,
                                "read_at": latest.read_at}, merge=True)  # fmt: skip
        except Exception as exc:  # recorded; never fatal to the Salesforce call it rode on
            log.warning("API budget not stored: %s", type(exc).__name__)


class BulkBudget:
    """core.ports.ApiBudget for bulk work (the backfill, R-38): before each batch, asks
    `bulk_may_proceed` for `planned_calls`; within the last fifth of what the share allows it
    slows down (a pause between batches), past it it stops with a message that says when to go
    on. `share` is read each time (the org setting `api_budget_share`)."""

    def __init__(self, db: firestore.Client, share: Callable[[], float],
                 planned_calls: int = 10, slow_pause: float = 2.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self._db = db
        self._share = share
        self._planned = planned_calls
        self._pause = slow_pause
        self._clock = clock

    def check(self) -> BudgetCheck:
        verdict = bulk_may_proceed(self._db, self._planned, self._share(), self._clock())
        if not verdict.allowed:
            return BudgetCheck(False, f"stopped to spare the Salesforce API budget ({verdict.reason}). "
                               "Run it again later (the daily allowance renews over 24 hours) to "
                               "resume")  # fmt: skip
        if (
            verdict.headroom is not None
            and verdict.allowance
            and (verdict.headroom < 0.2 * verdict.allowance)
        ):
            return BudgetCheck(True, "slowing down: near its share of the API budget", self._pause)
        return BudgetCheck(True)
