"""R-38 end to end on the emulators: the backfill engine reads a user's older items in pages and
runs each page through the session's batch runner (the autosave rules without the sliding
window, the lease, intents, labels, attachments), with checkpoints in Firestore. A second run,
a crash between a batch and its checkpoint, and a busy session never make a duplicate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.backfill import Status
from infra.backfill import Backfill, OrgBudget, firestore_budget_reader
from infra.backfill_runner import SessionBatchRunner
from infra.backfill_store import FirestoreBackfillStore
from infra.lease import FirestoreLease
from tests.fixtures.upsync import ALICE, BOB, JANE, LEE, NOBODY

pytestmark = pytest.mark.integration

OLD = -200  # days: far outside the 14-day past window


@pytest.fixture
def engine(org, firestore_client):
    return Backfill(
        store=FirestoreBackfillStore(firestore_client),
        pages_for=org.services.calendar_for,
        runner=SessionBatchRunner(org.services),
        budget=OrgBudget(firestore_budget_reader(firestore_client)),
        sleep=lambda seconds: None,
        page_size=2,
    )


def since_until(org) -> tuple[date, date]:
    return (org.now + timedelta(days=OLD - 30)).date(), (org.now - timedelta(days=30)).date()


def start(engine, org, **kw):
    since, until = since_until(org)
    return engine.prepare(ALICE, since, until, (ALICE,), **kw)


def old_meetings(org) -> dict[str, dict[str, Any]]:
    """Six items long past: three autosave saves, three it leaves."""
    made = {}
    for n in range(3):
        made[f"customer {n}"] = org.insert(ALICE, f"customer {n}", days=OLD + n,
                                           attendees=(ALICE, JANE))  # fmt: skip
    made["internal"] = org.insert(ALICE, "internal", days=OLD + 4, attendees=(ALICE, BOB))
    made["stranger"] = org.insert(ALICE, "stranger", days=OLD + 5, attendees=(ALICE, NOBODY))
    made["alone"] = org.insert(ALICE, "alone", days=OLD + 6)
    return made


def subjects(org) -> list[str]:
    return sorted(e["Subject"] for e in org.events())


def test_R38_older_items_are_saved_by_the_autosave_rules_and_never_twice(org, engine):
    org.enable(ALICE, autosave_meetings=True)
    made = old_meetings(org)
    org.sync(ALICE)
    assert org.events() == []  # the session reads the window only
    cp = engine.run(start(engine, org), holder="cli:test")
    assert cp.status is Status.DONE and cp.total == 6 and cp.batches == 3
    assert (cp.read, cp.saved, cp.skipped, cp.failed) == (6, 3, 3, 0)
    assert subjects(org) == ["customer 0", "customer 1", "customer 2"]
    mappings = {m.event_id: m for m in org.services.mappings.for_user(ALICE)}
    for title in ("customer 0", "customer 1", "customer 2"):
        google_id = made[title]["id"]
        key = mappings[google_id].sync_key
        assert org.private_props(ALICE, google_id)["calsync_key"] == key  # labelled
    again = engine.run(start(engine, org, restart=True), holder="cli:test")
    assert (again.read, again.saved) == (6, 0)
    assert subjects(org) == ["customer 0", "customer 1", "customer 2"]


def test_R38_a_dry_run_counts_what_it_would_save_and_writes_nothing(org, engine):
    org.enable(ALICE, autosave_meetings=True)
    old_meetings(org)
    calls = org.calendar_calls()
    cp = engine.run(start(engine, org), holder="cli:test", dry_run=True)
    assert (cp.read, cp.saved, cp.skipped) == (6, 3, 3)
    assert org.events() == [] and org.services.mappings.for_user(ALICE) == []
    assert engine.store.get(ALICE) is None  # no checkpoint either
    assert org.calendar_calls() > calls  # it did read the calendar


class CrashAfter:
    """A batch runner that crashes after its nth batch ran, before the checkpoint is written."""

    def __init__(self, runner: SessionBatchRunner, n: int) -> None:
        self.runner, self.n, self.calls = runner, n, 0

    def run(self, email, items, dry_run, bounds):
        result = self.runner.run(email, items, dry_run, bounds)
        self.calls += 1
        if self.calls == self.n:
            raise SystemExit("the process died")
        return result


def test_R38_a_crashed_run_resumes_at_its_checkpoint_and_saves_nothing_twice(org, engine):
    org.enable(ALICE, autosave_meetings=True)
    old_meetings(org)
    real = engine.runner
    engine.runner = CrashAfter(real, 2)
    with pytest.raises(SystemExit):
        engine.run(start(engine, org), holder="cli:one")
    saved = subjects(org)
    assert saved == ["customer 0", "customer 1", "customer 2"]  # the first two pages ran
    checkpoint = engine.store.get(ALICE)
    assert checkpoint.batches == 1  # the second batch's checkpoint was never written
    engine.runner = real
    engine.store.release(ALICE, "cli:one")  # a dead process's hold lapses; here at once
    cp = engine.run(start(engine, org), holder="cli:two")
    assert cp.status is Status.DONE and cp.read == 6
    assert subjects(org) == saved  # the second page ran again: nothing twice


def test_R38_a_batch_waits_while_the_users_session_runs(org, engine):
    org.enable(ALICE, autosave_meetings=True)
    old_meetings(org)
    lease = org.services.lease
    assert isinstance(lease, FirestoreLease)
    fence = lease.acquire(ALICE, "a running session", timedelta(minutes=2))
    assert fence is not None
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the session ends while the backfill waits
        waits.append(seconds)
        lease.release(fence)

    engine.sleep = sleep
    cp = engine.run(start(engine, org), holder="cli:test")
    assert waits and cp.status is Status.DONE and cp.saved == 3


def test_R38_a_manual_save_outside_the_window_before_the_first_session_is_picked_up(org, engine):
    """docs/decisions.md, "Tagged before the first session": autosave off, one tagged item."""
    tagged = org.insert(ALICE, "old deal review", days=OLD, attendees=(ALICE, LEE), colorId="9")
    org.insert(ALICE, "untagged", days=OLD + 1, attendees=(ALICE, JANE))
    org.enable(ALICE)
    org.sync(ALICE)
    assert org.events() == []
    cp = engine.run(start(engine, org), holder="cli:test")
    assert (cp.saved, cp.skipped) == (1, 1)
    [event] = org.events()
    assert event["Subject"] == "old deal review" and event["WhoId"] == org.ids["lee"]
    assert org.private_props(ALICE, tagged["id"])["calsync_key"]


def test_R38_a_series_saved_instance_by_instance_is_saved_over_the_backfills_range(org, engine):
    """R-17 + R-38: a series Salesforce cannot express (an EXDATE) is saved one instance at a
    time; in a backfill, the instances inside its range, not those inside the window."""
    org.store.set_org_settings({"recurring_enabled": True})
    org.enable(ALICE, autosave_meetings=True)
    first = (org.now + timedelta(days=OLD)).replace(minute=0, second=0, microsecond=0)
    skipped = first + timedelta(days=7)
    org.insert(ALICE, "weekly with a gap", days=OLD, attendees=(ALICE, JANE),
               recurrence=["RRULE:FREQ=WEEKLY;COUNT=4",
                           f"EXDATE:{skipped.astimezone(UTC):%Y%m%dT%H%M%SZ}"])  # fmt: skip
    cp = engine.run(start(engine, org), holder="cli:test")
    assert cp.saved == 1
    starts = sorted(datetime.fromisoformat(e["StartDateTime"].replace("+0000", "+00:00"))
                    for e in org.events())  # fmt: skip
    assert starts == [first, first + timedelta(days=14), first + timedelta(days=21)]


def test_R38_a_user_disabled_meanwhile_stops_the_backfill_with_the_reason(org, engine):
    """Its items are not counted as skipped and the backfill does not end as done: it stops,
    saying why, and resumes when the admin enables the user again."""
    org.enable(ALICE, autosave_meetings=True)
    old_meetings(org)
    cp = start(engine, org)
    org.store.disable_user(ALICE)
    cp = engine.run(cp, holder="cli:test")
    assert cp.status is Status.STOPPED and "not enabled" in cp.message
    assert (cp.saved, cp.skipped) == (0, 0) and org.events() == []
    org.enable(ALICE)
    cp = engine.run(cp, holder="cli:test")
    assert cp.status is Status.DONE and cp.saved == 3


def test_R38_a_user_without_a_salesforce_user_stops_with_cs012(org, engine):
    dave = "dave@example.com"  # a Google user with no Salesforce User
    org.enable(dave, autosave_meetings=True)
    org.insert(dave, "customer", days=OLD, attendees=(dave, JANE))
    since, until = since_until(org)
    cp = engine.run(engine.prepare(dave, since, until, (dave,)), holder="cli:test")
    assert cp.status is Status.STOPPED and cp.message.startswith("CS-012")
    assert cp.skipped == 0 and org.events() == []
    assert [i.code for i in org.services.issues.open_for_user(dave)] == ["CS-012"]
