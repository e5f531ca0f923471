"""core/budget.py: reading Sforce-Limit-Info, and when bulk work may spend the org's daily
Salesforce calls (interactive saves always go)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.budget import PERIOD, Budget, bulk_verdict, parse_limit_info

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        pytest.param("api-usage=18/15000", (18, 15000), id="plain"),
        pytest.param("api-usage=25/5000, per-app-api-usage=17/250(appName=x)", (25, 5000),
                     id="with per-app usage"),
        pytest.param(" api-usage = 7 / 100 ", (7, 100), id="spaces"),
        pytest.param("per-app-api-usage=1/2", None, id="no org usage"),
        pytest.param("api-usage=a/b", None, id="garbled"),
        pytest.param("", None, id="empty"),
    ],
)  # fmt: skip
def test_limit_info_header(header, parsed):
    assert parse_limit_info(header) == parsed


def budget(remaining: int, most: int = 100_000, **extra) -> Budget:
    return Budget(remaining, most, NOW, **extra)


def test_unknown_budget_lets_bulk_work_go():
    assert bulk_verdict(None, 500, 0.5, NOW).allowed


def test_bulk_work_takes_at_most_its_share_of_what_remained_when_it_began():
    """Share 0.5 of 80,000 remaining: 40,000 calls for bulk work, then it pauses."""
    first = bulk_verdict(budget(80_000), 1_000, 0.5, NOW)
    assert first.allowed and first.budget is not None and first.budget.reference == 80_000
    ref = {"reference": 80_000, "reference_at": NOW}
    assert bulk_verdict(budget(41_000, **ref), 1_000, 0.5, NOW).allowed
    paused = bulk_verdict(budget(40_500, **ref), 1_000, 0.5, NOW)
    assert not paused.allowed and "40000 kept for saves" in paused.reason


def test_many_bulk_jobs_share_one_reference():
    """Fifty initial syncs at once take no more than one would be allowed."""
    state = budget(10_000)
    for _ in range(50):
        verdict = bulk_verdict(state, 150, 0.5, NOW)
        if not verdict.allowed:
            break
        assert verdict.budget is not None
        state = Budget(verdict.budget.remaining - 150, state.max, NOW,
                       verdict.budget.reference, verdict.budget.reference_at)  # fmt: skip
    assert state.remaining >= 5_000 and state.reference == 10_000


def test_a_new_period_begins_a_day_after_the_reference_or_when_calls_came_back():
    old = {"reference": 80_000, "reference_at": NOW}
    later = bulk_verdict(budget(40_000, **old), 1_000, 0.5, NOW + PERIOD)
    assert later.allowed and later.budget is not None and later.budget.reference == 40_000
    grown = bulk_verdict(budget(90_000, **old), 1_000, 0.5, NOW + timedelta(hours=1))
    assert grown.allowed and grown.budget is not None and grown.budget.reference == 90_000


def test_share_one_lets_bulk_work_use_everything_left():
    assert bulk_verdict(budget(1_000, reference=1_000, reference_at=NOW), 1_000, 1.0, NOW).allowed
    assert not bulk_verdict(budget(999, reference=1_000, reference_at=NOW), 1_000, 1.0,
                            NOW).allowed  # fmt: skip
