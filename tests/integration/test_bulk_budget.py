"""The bulk gate end to end on the emulators: the Salesforce emulator reports its usage in every
answer's Sforce-Limit-Info, the adapter's hook stores it (infra/budget.BudgetRecorder), and
initial syncs and backfills ask infra/budget.BulkBudget before they spend more of the org's
daily calls than `api_budget_share` leaves them; interactive saves never ask (R-30, R-38)."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from core.backfill import Status
from functions.cli import run
from infra.backfill import Backfill
from infra.backfill_runner import SessionBatchRunner
from infra.backfill_store import FirestoreBackfillStore
from infra.budget import INITIAL_SYNC_WAITS, BudgetRecorder, BulkBudget, read_budget
from tests.fixtures.upsync import ALICE, BOB, JANE, LEE, CliConfig

pytestmark = pytest.mark.integration

MAX = 100_000
OLD = -200  # days: far outside the 14-day past window


@dataclass
class Gate:
    budget: BulkBudget
    later: list[timedelta]  # how far the gate's clock is ahead of the wall clock

    def wait(self, minutes: int) -> None:
        """Let time pass for the gate: the stored reading grows stale and is read again."""
        self.later[0] += timedelta(minutes=minutes)


@pytest.fixture
def gate(org, firestore_client) -> Gate:
    adapter = org.services.salesforce()
    ticks = itertools.count(0, 100)  # every answer is stored (the once-a-minute rule passed)
    recorder = BudgetRecorder(firestore_client, clock=lambda: float(next(ticks)))
    adapter.limit_listener = recorder.observe

    def refresh() -> None:
        adapter.read_limits()
        recorder.flush()

    later = [timedelta(0)]
    budget = BulkBudget(firestore_client, share=lambda: 0.5, planned_calls=10,
                        clock=lambda: datetime.now(UTC) + later[0], refresh=refresh)  # fmt: skip
    org.services.bulk_gate = budget.allows
    return Gate(budget, later)


def use(org, used: int) -> None:
    """The org's other integrations have spent `used` of today's calls."""
    org.sf_org.admin("POST", "limits", json={"max": MAX, "used": used})


def subjects(org) -> list[str]:
    return sorted(e["Subject"] for e in org.events())


def test_R30_an_initial_sync_waits_for_the_budget_while_interactive_saves_go(org, gate,
                                                                             firestore_client):  # fmt: skip
    use(org, 90_000)
    org.enable(ALICE, autosave_meetings=True)
    org.insert(ALICE, "customer A", attendees=(ALICE, JANE))
    org.sync(ALICE)  # Alice's initial sync: bulk work, allowed (10,000 left, half for bulk)
    assert subjects(org) == ["customer A"]
    stored = read_budget(firestore_client)
    assert stored is not None and stored.max == MAX and 9_900 < (stored.reference or 0) <= 10_000

    use(org, 95_500)  # only 4,500 left: below the 5,000 kept for saves
    org.insert(ALICE, "customer B", attendees=(ALICE, JANE))
    org.sync(ALICE)  # an interactive save never asks: it goes
    assert subjects(org) == ["customer A", "customer B"]

    org.enable(BOB, autosave_meetings=True)
    org.insert(BOB, "lead meeting", attendees=(BOB, LEE))
    report = org.sync(BOB)  # Bob's initial sync waits
    assert subjects(org) == ["customer A", "customer B"]
    assert any("kept for saves" in p for p in report.problems)
    [waiting] = [i for i in org.services.issues.open_for_user(BOB)]
    assert waiting.code == INITIAL_SYNC_WAITS and "the next session tries again" in waiting.message
    bob = org.store.get_user(BOB)
    assert bob.state.calendar_sync_token == ""  # nothing read is kept: the next session reads all
    assert bob.state.last_session_result == f"waiting {INITIAL_SYNC_WAITS}"
    err = io.StringIO()  # asked again from the command line: still waiting, and it says why
    run(["sync", BOB], lambda: org.store, out=io.StringIO(), err=err,
        services_factory=lambda: org.services, config_factory=CliConfig)  # fmt: skip
    assert "warning: to spare the Salesforce API budget" in err.getvalue()
    [again] = org.services.issues.list_open(BOB)  # the same one issue, seen twice
    assert again["code"] == INITIAL_SYNC_WAITS and again["count"] == 2

    use(org, 20_000)  # the rolling 24 hours gave calls back
    org.sync(BOB)  # the stored reading says "spent": a refusal is checked on a fresh one
    assert subjects(org) == ["customer A", "customer B", "lead meeting"]
    assert org.services.issues.open_for_user(BOB) == []  # closed by the session that went
    assert org.store.get_user(BOB).state.calendar_sync_token != ""


class SpendAfterFirstBatch:
    """The org's other integrations spend most of what is left while the first batch runs; the
    next Salesforce answer (here a limits read) tells calsync."""

    def __init__(self, org, runner: SessionBatchRunner) -> None:
        self.org, self.runner, self.batches = org, runner, 0

    def run(self, email, items, dry_run, bounds):
        result = self.runner.run(email, items, dry_run, bounds)
        self.batches += 1
        if self.batches == 1:
            use(self.org, 95_500)
            self.org.services.salesforce().read_limits()
        return result


def test_R38_a_backfill_stops_at_its_share_and_resumes_where_it_stopped(org, gate,
                                                                       firestore_client):  # fmt: skip
    use(org, 90_000)
    org.enable(ALICE, autosave_meetings=True)
    for n in range(3):
        org.insert(ALICE, f"customer {n}", days=OLD + n, attendees=(ALICE, JANE))
    org.insert(ALICE, "internal", days=OLD + 4, attendees=(ALICE, BOB))
    engine = Backfill(store=FirestoreBackfillStore(firestore_client),
                      pages_for=org.services.calendar_for,
                      runner=SpendAfterFirstBatch(org, SessionBatchRunner(org.services)),
                      budget=gate.budget, sleep=lambda seconds: None, page_size=2)  # fmt: skip
    now = org.now
    since, until = (now + timedelta(days=OLD - 30)).date(), (now - timedelta(days=30)).date()

    cp = engine.run(engine.prepare(ALICE, since, until, (ALICE,)), holder="cli:test")
    assert cp.status is Status.STOPPED and cp.batches == 1 and cp.read == 2
    assert "Salesforce API budget" in cp.message and "again later" in cp.message
    first = subjects(org)
    assert 1 <= len(first) <= 2 and all(s.startswith("customer") for s in first)
    assert engine.store.get(ALICE).status is Status.STOPPED  # the checkpoint says so

    again = engine.run(engine.prepare(ALICE, since, until, (ALICE,)), holder="cli:test")
    assert again.status is Status.STOPPED and again.batches == 1  # still spent: nothing more
    assert subjects(org) == first

    use(org, 20_000)  # the allowance renewed
    gate.wait(minutes=10)
    done = engine.run(engine.prepare(ALICE, since, until, (ALICE,)), holder="cli:test")
    assert done.status is Status.DONE and done.read == 4 and done.batches == 2
    assert subjects(org) == ["customer 0", "customer 1", "customer 2"]  # each once


def test_a_stale_reading_is_refreshed_before_bulk_work_asks(firestore_client):
    """One limits call when the stored reading is older than five minutes (or missing), none
    while it is fresh and allows the work."""
    from infra.budget import BUDGET_DOC

    ref = firestore_client.collection(BUDGET_DOC[0]).document(BUDGET_DOC[1])
    now = datetime.now(UTC)
    refreshes: list[datetime] = []

    def refresh() -> None:
        refreshes.append(now)
        ref.set({"remaining": 9_000, "max": MAX, "read_at": now}, merge=True)

    budget = BulkBudget(firestore_client, share=lambda: 0.5, clock=lambda: now, refresh=refresh)
    assert budget.allows(10).ok and len(refreshes) == 1  # nothing stored: read first
    assert budget.allows(10).ok and len(refreshes) == 1  # fresh: no call
    ref.set({"read_at": now - timedelta(minutes=6)}, merge=True)
    assert budget.allows(10).ok and len(refreshes) == 2
    assert read_budget(firestore_client).remaining == 9_000
