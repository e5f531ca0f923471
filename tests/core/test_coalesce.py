"""core/coalesce.py: when a user's sessions run (R-27), and the guarantee that every push is read
by a session that begins after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import coalesce
from core.coalesce import BUSY_PACE, STALE, Phase, QueueState

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_R27_a_quiet_users_session_is_queued_at_once():
    state, start = coalesce.on_push(QueueState(), at(0), "n1")
    assert start is not None and start.run_at == at(0)
    assert state.phase is Phase.QUEUED and state.task == start.task == "1-n1"


def test_R27_a_push_while_queued_joins_the_queued_session():
    state, _ = coalesce.on_push(QueueState(), at(0), "n1")
    again, start = coalesce.on_push(state, at(0.3), "n2")
    assert start is None and again == state  # nothing written either


def test_R27_a_push_while_running_makes_one_follow_up_after_the_session():
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_begin(state, at(0.1), first.task)
    for t in (0.2, 0.3):
        state, start = coalesce.on_push(state, at(t), "x")
        assert start is None
    assert state.dirty and state.pushes == 2
    state, follow_up = coalesce.on_finish(state, at(0.5), first.task, "n3", own_writes=5)
    assert follow_up is not None and follow_up.run_at == at(0.5)  # likely echoes: at once
    assert state.phase is Phase.QUEUED and follow_up.task == "2-n3"


def test_R27_no_push_while_running_means_idle_after():
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_begin(state, at(0.1), first.task)
    state, follow_up = coalesce.on_finish(state, at(0.5), first.task, "n2", own_writes=1)
    assert follow_up is None and state.phase is Phase.IDLE and state.seq == 1


def test_R27_a_busy_users_follow_ups_are_paced_doubling():
    """More pushes during a session than copies it wrote: the user is busy; follow-ups wait
    until BUSY_PACE, then 2, 4, 8 x BUSY_PACE after the previous session began."""
    state, start = coalesce.on_push(QueueState(), at(0), "n")
    began = at(0)
    paces = []
    for _ in range(5):
        assert start is not None
        state, _ = coalesce.on_begin(state, began, start.task)
        for k in range(3):
            state, _ = coalesce.on_push(state, began + timedelta(seconds=0.1 * (k + 1)), "x")
        state, start = coalesce.on_finish(state, began + timedelta(seconds=0.4), start.task, "n",
                                          own_writes=1)  # fmt: skip
        assert start is not None
        paces.append((start.run_at - began) / BUSY_PACE)
        began = start.run_at
    assert paces == [1, 2, 4, 8, 8]


def test_R27_a_state_older_than_a_session_can_live_counts_as_idle():
    """A task that was dropped or a function that was killed never holds changes back for
    longer than STALE."""
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_begin(state, at(1), first.task)  # ... and never finishes
    late = at(1) + STALE + timedelta(seconds=1)
    state, start = coalesce.on_push(state, late, "n2")
    assert start is not None and start.run_at == late


def test_R28_a_sweep_that_meets_a_queued_push_is_owed_by_the_next_session():
    """Audit L5: the sweep's work (slid-in and waiting items) is not dropped when a push got
    there first."""
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None and not first.sweep
    state, start = coalesce.on_push(state, at(0.2), "n2", sweep=True)
    assert start is None and state.sweep
    state, owed = coalesce.on_begin(state, at(0.5), first.task)
    assert owed and not state.sweep


def test_R28_a_sweep_during_a_session_is_owed_by_the_follow_up():
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_begin(state, at(0.1), first.task)
    state, _ = coalesce.on_push(state, at(0.2), "x", sweep=True)
    state, follow_up = coalesce.on_finish(state, at(0.3), first.task, "n2", own_writes=0)
    assert follow_up is not None and follow_up.sweep


def test_a_failed_create_returns_the_user_to_idle():
    state, start = coalesce.on_push(QueueState(), at(0), "n1")
    assert start is not None
    state = coalesce.on_start_failed(state, start.task)
    assert state.phase is Phase.IDLE
    _, again = coalesce.on_push(state, at(0.1), "n2")
    assert again is not None and again.task == "2-n2"  # a new name: the failed one may exist


def test_the_finish_of_an_older_session_leaves_a_newer_one_alone():
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_begin(state, at(0.1), first.task)
    state, _ = coalesce.on_begin(state, at(0.2), "other")  # a retried older task began
    state, _ = coalesce.on_push(state, at(0.3), "x")
    after, follow_up = coalesce.on_finish(state, at(0.4), first.task, "n2", own_writes=0)
    assert follow_up is None and after == state  # the newer session's finish decides


# -- the guarantee, over random interleavings ------------------------------------------------


@dataclass
class World:
    """One user's pushes, Cloud Tasks and sessions, in the order Firestore serialises them.

    A session that begins and then reads covers every push before its begin. A begin that is
    refused by the lease (another session runs) reads nothing: Cloud Tasks retries its task.
    """

    state: QueueState = QueueState()
    now: float = 0.0
    pending: list[str] = field(default_factory=list)  # tasks Cloud Tasks will dispatch
    running: str | None = None
    uncovered: set[int] = field(default_factory=set)  # pushes no reading session began after
    pushes: int = 0
    sessions: int = 0

    def tick(self) -> datetime:
        self.now += 0.05
        return at(self.now)

    def push(self, sweep: bool = False) -> None:
        self.state, start = coalesce.on_push(self.state, self.tick(), f"p{self.pushes}", sweep)
        self.uncovered.add(self.pushes)
        self.pushes += 1
        if start is not None:
            self.pending.append(start.task)

    def dispatch(self, index: int) -> None:
        if not self.pending:
            return
        task = self.pending.pop(index % len(self.pending))
        self.state, _ = coalesce.on_begin(self.state, self.tick(), task)
        if self.running is not None:  # the lease is held: 503, Cloud Tasks retries later
            self.pending.append(task)
            return
        self.running, self.uncovered, self.sessions = task, set(), self.sessions + 1

    def finish(self, own_writes: int) -> None:
        if self.running is None:
            return
        task, self.running = self.running, None
        self.state, start = coalesce.on_finish(self.state, self.tick(), task, f"f{self.now}",
                                               own_writes)  # fmt: skip
        if start is not None:
            self.pending.append(start.task)

    def crash(self) -> None:
        """The running attempt dies (5xx, timeout): no finish; Cloud Tasks retries the task."""
        if self.running is not None:
            self.pending.append(self.running)
            self.running = None

    def drain(self) -> None:
        for _ in range(1000):
            if self.running is not None:
                self.finish(own_writes=0)
            elif self.pending:
                self.dispatch(0)
            else:
                return
        raise AssertionError("sessions never stopped")


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.booleans()),
        st.tuples(st.just("dispatch"), st.integers(0, 5)),
        st.tuples(st.just("finish"), st.integers(0, 3)),
        st.tuples(st.just("crash"), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(OPS)
def test_R27_every_push_is_read_by_a_session_that_begins_after_it(ops):
    world = World()
    for name, arg in ops:
        if name == "push":
            world.push(sweep=bool(arg))
        elif name == "dispatch":
            world.dispatch(int(arg))
        elif name == "finish":
            world.finish(int(arg))
        else:
            world.crash()
    world.drain()
    assert world.uncovered == set()
    assert world.state.phase is Phase.IDLE


@pytest.mark.parametrize("pushes", [1, 5, 30])
def test_R27_pushes_while_queued_cost_no_extra_session(pushes):
    world = World()
    for _ in range(pushes):
        world.push()
    world.drain()
    assert world.sessions == 1
