"""R-38: the backfill's per-batch work (core.ports.BatchRunner) on the session: each batch of a
user's older items is planned by the autosave rules without the sliding window and carried out
exactly as a session carries out its items (intents, the deletion guard, attachments, issues)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.actions import SfCreate
from core.backfill import BatchResult
from core.model import Item
from core.policy import Verdict
from infra.session import Report, Services, Session


class SessionBatchRunner:
    """Implements core.ports.BatchRunner: `run` raises SessionBusy (a LockError) while the
    user's session runs, and RetryableError when a retry can fix what failed."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def run(
        self, email: str, items: Sequence[Item], dry_run: bool, bounds: tuple[datetime, datetime]
    ) -> BatchResult:
        report = Session(self.services, email, datetime.now(UTC)).run_items(items, bounds, dry_run)
        return counts(report, items)


def counts(report: Report, items: Sequence[Item]) -> BatchResult:
    """Of the batch's items: saved, those whose SF Event was created (planned, in a dry run);
    failed, those with an issue (refused, or a write that failed); skipped, the rest (autosave
    leaves them, or they were saved already). Parents read for the batch's instances count not."""
    plan = report.plan
    if plan is None:
        return BatchResult(0, len(items), 0)
    ours = {(i.calendar_id, i.id) for i in items}
    saved = failed = 0
    if report.dry_run or report.executed is None:
        for u in plan.units:
            if u.item is None or (u.item.calendar_id, u.item.id) not in ours:
                continue
            if u.decision is not None and u.decision.verdict is Verdict.FAIL:
                failed += 1
            elif any(isinstance(w, SfCreate) for w in u.writes):
                saved += 1
    else:
        for o in report.executed.outcomes:
            item, decision = o.unit.item, o.unit.decision
            if item is None or (item.calendar_id, item.id) not in ours:
                continue
            if not o.ok or (decision is not None and decision.verdict is Verdict.FAIL):
                failed += 1
            elif o.created:
                saved += 1
    return BatchResult(saved, max(0, len(items) - saved - failed), failed)
