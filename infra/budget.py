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
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from core.actions import Plan, SfCreate, SfDelete, SfUpdate, StoreAttachments
from core.budget import Budget, Verdict, bulk_verdict, parse_limit_info
from core.issues import Issue
from core.ports import BudgetCheck, Fence, IssueStore, SettingsStore

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


STALE = timedelta(minutes=5)  # an older reading is refreshed (one call) before bulk work asks
INITIAL_SYNC_WAITS = "CS-026"  # core/issues.py: an initial sync waits for the API budget
PER_COLLECTION = 200  # records per sObject Collection call (infra/salesforce.py)


class BulkBudget:
    """core.ports.ApiBudget for bulk work: the backfill (R-38) asks `check` before each batch
    (`planned_calls` each), a user's initial sync asks `allows` with its plan's calls
    (`planned_calls(plan)`). Within the last fifth of what the share allows it slows down (a
    pause between batches), past it it refuses with a message that says when to go on. `share`
    is read each time (the org setting `api_budget_share`). `refresh` (one Salesforce call whose
    answer the recorder stores) runs when the stored reading is missing or older than STALE, and
    before a refusal is final, so that a stale reading neither stops nor lets through bulk work
    by mistake."""

    def __init__(self, db: firestore.Client, share: Callable[[], float],
                 planned_calls: int = 10, slow_pause: float = 2.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 refresh: Callable[[], None] | None = None) -> None:  # fmt: skip
        self._db = db
        self._share = share
        self._planned = planned_calls
        self._pause = slow_pause
        self._clock = clock
        self._refresh = refresh

    def check(self) -> BudgetCheck:
        verdict = self.allows(self._planned)
        if verdict.ok:
            return verdict
        return replace(verdict, message=f"stopped {verdict.message}. Run it again later (the "
                       "daily allowance renews over 24 hours) to resume")  # fmt: skip

    def allows(self, planned_calls: int) -> BudgetCheck:
        now = self._clock()
        stored = read_budget(self._db)
        refreshed = (stored is None or now - stored.read_at >= STALE) and self._refreshed()
        verdict = bulk_may_proceed(self._db, planned_calls, self._share(), now)
        if not verdict.allowed and not refreshed and self._refreshed():
            # A refusal is asked again on a fresh reading (a stored one lags by up to a minute,
            # and a run started again right after a refusal would otherwise see the same one).
            verdict = bulk_may_proceed(self._db, planned_calls, self._share(), now)
        if not verdict.allowed:
            return BudgetCheck(False, f"to spare the Salesforce API budget ({verdict.reason})")
        if (
            verdict.headroom is not None
            and verdict.allowance
            and (verdict.headroom < 0.2 * verdict.allowance)
        ):
            return BudgetCheck(True, "slowing down: near its share of the API budget", self._pause)
        return BudgetCheck(True)

    def _refreshed(self) -> bool:
        if self._refresh is None:
            return False
        try:
            self._refresh()
        except Exception as exc:  # the budget is advisory: ask with what is stored
            log.warning("API budget not refreshed: %s", type(exc).__name__)
            return False
        return True


def planned_calls(plan: Plan) -> int:
    """The Salesforce calls a plan will take, about: its record writes go in sObject Collections
    of PER_COLLECTION per kind, each attachment takes two (the file, its link), and one more for
    the people records the session may create."""
    kinds: dict[type, int] = {}
    attachments = 0
    for unit in plan.units:
        for write in unit.writes:
            if isinstance(write, StoreAttachments):
                attachments += len(write.attachments)
            elif isinstance(write, (SfCreate, SfUpdate, SfDelete)):
                kinds[type(write)] = kinds.get(type(write), 0) + 1
    collections = sum(-(-n // PER_COLLECTION) for n in kinds.values())
    return collections + 2 * attachments + 1


def wait_for_budget(issues: IssueStore, settings: SettingsStore, email: str, message: str,
                    now: datetime, fence: Fence | None) -> None:  # fmt: skip
    """An initial sync refused by the budget (`message`, from BulkBudget.allows): nothing was written and the sync tokens are not
    saved, so the user's next session (a push, the hourly sweep) reads everything again and asks
    again. The admin sees why in the user's CS-026, closed by the session that goes."""
    log.warning("initial sync waits for the Salesforce budget", extra={"user": email,
                                                                       "code": INITIAL_SYNC_WAITS})  # fmt: skip
    message = f"the initial sync waits {message}; the next session tries again"
    issues.record(
        [Issue(INITIAL_SYNC_WAITS, email, "", message)], [], now, fence
    )  # counts attempts
    settings.set_state_fields(email, {"last_session_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                      "last_session_result": f"waiting {INITIAL_SYNC_WAITS}"},
                              fence=fence)  # fmt: skip
