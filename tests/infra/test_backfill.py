"""infra/backfill.py: the backfill's machinery on fakes of its ports (R-38): bounded batches, a
checkpoint after each, resume after a crash or Ctrl-C saving nothing twice, the hold, retries,
the API budget, dry runs and Cloud Tasks slices. The adapters are tested on the emulators
(tests/integration/test_backfill_*.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from core.backfill import Status
from core.model import Item, Span
from core.ports import BudgetCheck
from infra.backfill import (
    TASK_HOLD,
    Backfill,
    BackfillBusy,
    OrgBudget,
    RangeConflict,
    queue_chain,
    run_slice,
)
from tests.fakes import (
    FakeBackfillQueue,
    FakeBatchRunner,
    FakePages,
    FixedBudget,
    InMemoryBackfillStore,
)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ANN = "ann@corp.example"
GROUP = "team@group.calendar.google.com"
SINCE, UNTIL = date(2025, 1, 1), date(2026, 1, 1)


def item(n: int, calendar: str = ANN, title: str = "Meeting") -> Item:
    start = datetime(2025, 1, 1, 9, tzinfo=UTC) + timedelta(hours=n)
    return Item(f"ev{n}", calendar, f"uid{n}@x", span=Span.timed(start, start + timedelta(hours=1)),
                title=title)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now, self.mono, self.slept = NOW, 0.0, []

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.tick(seconds)


@pytest.fixture
def world():
    clock = Clock()
    items = [item(n) for n in range(23)] + [
        item(100, title="[skip] lunch"),
        item(101, title="[fail] x"),
    ]
    pages = FakePages({ANN: items, GROUP: [item(200, GROUP)]})
    runner, store = FakeBatchRunner(), InMemoryBackfillStore()

    def engine(budget=None) -> Backfill:
        return Backfill(store, lambda email: pages, runner, budget or FixedBudget(), clock=lambda: clock.now,
                        timer=lambda: clock.mono, sleep=clock.sleep, page_size=10)  # fmt: skip

    return engine, pages, runner, store, clock


def start(engine: Backfill, calendars=(ANN,)):
    return engine.prepare(ANN, SINCE, UNTIL, calendars)


def test_R38_a_backfill_runs_in_bounded_batches_with_a_checkpoint_after_each(world):
    make, pages, runner, store, _ = world
    seen = []
    cp = make().run(start(make()), holder="cli:1", progress=seen.append)
    assert cp.done and cp.total == 25
    assert (cp.read, cp.saved, cp.skipped, cp.failed, cp.batches) == (25, 23, 1, 1, 3)
    assert [n for _, n, _ in runner.calls] == [10, 10, 5]  # never more than a page
    assert store.get(ANN) == cp and store.saves >= cp.batches  # saved after every batch
    assert [c.read for c in seen] == [0, 10, 20, 25]
    assert store.held_until(ANN) is None  # the hold is given back


def test_R38_group_calendars_follow_the_primary_calendar(world):
    make, pages, runner, _, _ = world
    cp = make().run(start(make(), (ANN, GROUP)), holder="cli:1")
    assert cp.done and cp.read == 26 and pages.reads[-1] == (GROUP, "")


def test_R38_a_crash_resumes_from_the_checkpoint_and_saves_nothing_twice(world):
    """The runner saved batch 2, then the process died before the checkpoint: the next run
    reads batch 2 again, and the runner saves none of it twice."""
    make, _, runner, store, _ = world
    runner.crash_on = 2
    with pytest.raises(RuntimeError):
        make().run(start(make()), holder="cli:1")
    assert store.get(ANN).batches == 1 and store.held_until(ANN) is None
    runner.crash_on = None
    cp = make().run(start(make()), holder="cli:2")
    assert cp.done and len(runner.saved) == len(set(runner.saved)) == 23
    assert cp.read == 25 and cp.saved == 23 - 10  # batch 2's items were saved by the crashed run


def test_R38_ctrl_c_pauses_and_the_same_command_resumes(world):
    make, pages, runner, store, _ = world
    runner.interrupt_on = 2
    with pytest.raises(KeyboardInterrupt):
        make().run(start(make()), holder="cli:1")
    paused = store.get(ANN)
    assert (paused.status, paused.message, paused.read) == (Status.PAUSED, "interrupted", 10)
    runner.interrupt_on = None
    cp = make().run(start(make()), holder="cli:2")
    assert cp.done and cp.read == 25 and pages.reads[-3:] == [(ANN, "10"), (ANN, "10"), (ANN, "20")]


def test_R38_a_finished_backfill_is_not_run_again_and_other_dates_need_restart(world):
    make, _, runner, _, _ = world
    make().run(start(make()), holder="cli:1")
    again = start(make())
    assert again.done  # the command says "nothing to do"
    runner.crash_on = len(runner.calls) + 1
    with pytest.raises(RuntimeError):
        make().run(make().prepare(ANN, SINCE, date(2025, 6, 1), (ANN,)), holder="cli:2")
    with pytest.raises(RangeConflict, match="run it with those dates to resume it"):
        make().prepare(ANN, SINCE, UNTIL, (ANN,))
    fresh = make().prepare(ANN, SINCE, UNTIL, (ANN,), restart=True)
    assert fresh.read == 0 and fresh.status is Status.QUEUED


def test_R38_two_runs_never_work_at_once(world):
    make, _, _, store, clock = world
    assert store.claim(ANN, "task:other", clock.now, timedelta(minutes=2))
    with pytest.raises(BackfillBusy, match="holds it until 12:02:00 UTC"):
        make().run(start(make()), holder="cli:1")
    clock.tick(121)  # a crashed run's hold lapses by itself
    assert make().run(start(make()), holder="cli:1").done


def test_R38_a_busy_session_lease_makes_the_batch_wait_and_try_again(world):
    """The runner takes the user's session lease per batch: a live session makes it wait."""
    make, _, runner, _, clock = world
    runner.busy = 2
    cp = make().run(start(make()), holder="cli:1")
    assert cp.done and clock.slept == [1.0, 2.0]


def test_R38_retries_used_up_pause_the_backfill(world):
    make, _, runner, _, clock = world
    runner.busy = 99
    cp = make().run(start(make()), holder="cli:1")
    assert cp.status is Status.PAUSED and "run the backfill again" in cp.message
    assert clock.slept == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_R38_the_api_budget_slows_then_stops_the_backfill(world):
    make, _, runner, store, clock = world
    budget = FixedBudget(BudgetCheck(True), BudgetCheck(True, "slow", 3.0),
                         BudgetCheck(False, "stopped to spare the Salesforce API budget"))  # fmt: skip
    cp = make(budget).run(start(make()), holder="cli:1")
    assert cp.status is Status.STOPPED and cp.message.startswith("stopped to spare")
    assert cp.batches == 2 and clock.slept == [3.0] and store.get(ANN) == cp


def test_R38_an_expired_page_token_reads_the_calendar_again(world):
    make, pages, runner, _, _ = world
    pages.refuse_tokens = True
    cp = make().run(start(make()), holder="cli:1")
    assert cp.done and len(set(runner.saved)) == 23  # the items read twice are skipped


def test_R38_a_dry_run_writes_nothing(world):
    make, _, runner, store, _ = world
    cp = make().run(start(make()), holder="cli:1", dry_run=True)
    assert cp.done and cp.saved == 23 and runner.saved == []
    assert all(dry for _, _, dry in runner.calls)
    assert store.get(ANN) is None and store.saves == 0 and store.holds == {}


def test_R38_cloud_tasks_slices_queue_each_other_until_done(world):
    make, _, _, store, clock = world
    queue = FakeBackfillQueue()
    engine = make()
    cp = queue_chain(engine, queue, start(engine), "c1")
    assert cp.status is Status.QUEUED and queue.slices == [(ANN, "c1", 1, NOW)]
    engine.runner = Slow(engine.runner, clock)  # each batch takes 100 s: two per 150 s slice
    answer = run_slice(engine, queue, ANN, "c1", 1, seconds=150)
    assert answer["status"] == "running" and answer["next_slice"] == 2
    assert store.get(ANN).batches == 2 and store.get(ANN).slices == 1
    assert queue.slices[-1][2:] == (2, clock.now)
    done = run_slice(engine, queue, ANN, "c1", 2, seconds=150)
    assert done["status"] == "done" and "next_slice" not in done and done["read"] == 25
    assert [s[2] for s in queue.slices] == [1, 2]
    assert run_slice(engine, queue, ANN, "c1", 3) == {"ignored": "done"}


def test_R38_stale_and_superseded_slices_do_nothing(world):
    make, _, _, store, _ = world
    queue, engine = FakeBackfillQueue(), make()
    queue_chain(engine, queue, start(engine), "c1")
    store.save(replace(store.get(ANN), slices=3))
    assert "stale" in run_slice(engine, queue, ANN, "c1", 2)["ignored"]
    assert run_slice(engine, queue, ANN, "old-chain", 9) == {"ignored": "no backfill of this chain"}
    assert run_slice(engine, queue, "nobody@corp.example", "c1", 1)["ignored"]


def test_R38_a_held_backfill_queues_its_slice_for_when_the_hold_ends(world):
    make, _, _, store, clock = world
    queue, engine = FakeBackfillQueue(), make()
    queue_chain(engine, queue, start(engine), "c1")
    store.claim(ANN, "cli:someone", clock.now, timedelta(minutes=2))
    answer = run_slice(engine, queue, ANN, "c1", 1)
    assert answer == {"busy": True, "next_slice": 2}
    assert queue.slices[-1] == (ANN, "c1", 2, NOW + timedelta(minutes=2))
    assert timedelta(seconds=240) < TASK_HOLD


def test_R38_a_paused_chain_tries_again_later_and_a_stopped_one_waits(world):
    make, _, runner, store, clock = world
    queue, engine = FakeBackfillQueue(), make()
    queue_chain(engine, queue, start(engine), "c1")
    runner.busy = 99  # the user's sessions keep the lease: the slice pauses
    paused = run_slice(engine, queue, ANN, "c1", 1)
    assert paused["status"] == "paused" and queue.slices[-1][2] == 2
    assert queue.slices[-1][3] == clock.now + timedelta(minutes=1)
    runner.busy = 0
    engine.budget = FixedBudget(BudgetCheck(False, "stopped to spare the budget"))
    stopped = run_slice(engine, queue, ANN, "c1", 2)
    assert stopped["status"] == "stopped" and "next_slice" not in stopped
    assert run_slice(engine, queue, ANN, "c1", 3) == {"ignored": "stopped"}


def test_R38_the_budget_allows_a_share_of_what_was_left_at_the_start():
    docs = iter([{"remaining": 10_000, "max": 15_000}, {"remaining": 6_500, "max": 15_000},
                 {"remaining": 5_800, "max": 15_000}, {"remaining": 5_000, "max": 15_000}])  # fmt: skip
    budget = OrgBudget(lambda: next(docs), share=0.5)
    assert budget.check() == BudgetCheck(True)
    assert budget.check() == BudgetCheck(True)
    slow = budget.check()
    assert slow.ok and slow.pause_seconds > 0
    stop = budget.check()
    assert not stop.ok and "5,000 of 15,000" in stop.message and "50%" in stop.message
    assert OrgBudget(lambda: None).check() == BudgetCheck(True)  # no document: unknown


class Slow:
    """A runner whose batches take 100 s of the fake clock."""

    def __init__(self, inner, clock) -> None:
        self.inner, self.clock = inner, clock

    def run(self, email, items, dry_run, bounds=None):
        self.clock.tick(100)
        return self.inner.run(email, items, dry_run)
