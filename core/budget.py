"""The org's daily Salesforce API budget, and whether bulk work may spend more of it.

Salesforce counts API calls over a rolling 24 hours and tells every answer how many are used
(`Sforce-Limit-Info: api-usage=USED/MAX`). Interactive saves always go. Bulk work (initial
syncs, backfills) may take at most `api_budget_share` of what remained when it began: the first
bulk step of a 24-hour period sets a *reference* (the remaining calls then), and bulk work
pauses while a step would bring the remaining calls below (1 - share) x reference. A new
period starts 24 hours after the reference was set, or when the remaining calls have grown
above it (the rolling window gave calls back). Several jobs at once share the one reference,
so fifty initial syncs together take no more than one would be allowed.

Pure: the caller passes the last reading and the time (infra/budget.py stores them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

PERIOD = timedelta(hours=24)


@dataclass(frozen=True)
class Budget:
    """The last reading of the org's daily API calls, and the bulk reference if one is set."""

    remaining: int
    max: int
    read_at: datetime
    reference: int | None = None  # remaining calls when the bulk period began
    reference_at: datetime | None = None

    @property
    def used(self) -> int:
        return self.max - self.remaining


def parse_limit_info(header: str) -> tuple[int, int] | None:
    """(used, max) from `api-usage=18/15000` (other parts, such as per-app usage, ignored)."""
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip() == "api-usage":
            used, _, most = value.partition("/")
            if used.strip().isdigit() and most.strip().isdigit():
                return int(used), int(most)
    return None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str  # for logs, the CLI and the dashboard
    budget: Budget | None  # the budget with the reference it used (store it when it changed)
    headroom: int | None = None  # calls bulk work may still take after this step (None: unknown)
    allowance: int | None = None  # what the share allows bulk work in this period


def bulk_verdict(budget: Budget | None, planned_calls: int, share: float,
                 now: datetime) -> Verdict:  # fmt: skip
    """May bulk work spend `planned_calls` more calls now?"""
    if budget is None:
        return Verdict(True, "budget not read yet", None)
    fresh = (
        budget.reference is None
        or budget.reference_at is None
        or now - budget.reference_at >= PERIOD
        or budget.remaining > budget.reference
    )
    if fresh:
        budget = replace(budget, reference=budget.remaining, reference_at=now)
    assert budget.reference is not None
    floor = int((1 - share) * budget.reference)
    left = budget.remaining - planned_calls
    allowance = budget.reference - floor
    if left < floor:
        return Verdict(False, f"bulk work paused: {budget.remaining} calls left, {floor} kept "
                       f"for saves ({share:.0%} of {budget.reference} may go to bulk work)",
                       budget, left - floor, allowance)  # fmt: skip
    return Verdict(True, f"{left - floor} calls left for bulk work", budget, left - floor,
                   allowance)  # fmt: skip
