"""core/coalesce.py: when a user's sessions run (R-27), and the guarantee that every push is read
by a session that begins after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import coalesce
from core.coalesce import MAX_WAIT, QUIET, SETTLE, STALE, Phase, QueueState

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
    state, _ = coalesce.on_begin(state, at(0.1), first.task, "b")
    for t in (0.2, 0.3):
        state, start = coalesce.on_push(state, at(t), "x")
        assert start is None
    assert state.dirty and state.pushes == 2
    state, follow_up = coalesce.on_finish(state, at(0.5), first.task, "n3", own_writes=5)
    assert follow_up is not None and follow_up.task == "2-n3"
    assert follow_up.run_at == at(0.3) + QUIET  # 2 pushes, 5 echoes due: the rest may follow
    assert state.phase is Phase.QUEUED


def test_R27_no_push_while_running_means_idle_after():
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_begin(state, at(0.1), first.task, "b")
    state, follow_up = coalesce.on_finish(state, at(0.5), first.task, "n2", own_writes=1)
    assert follow_up is None and state.phase is Phase.IDLE and state.seq == 1


def busy_follow_up(pushes: int, own_writes: int, finish: float = 0.4) -> QueueState:
    """A session that began at 0, saw `pushes` pushes from 0.1 on, wrote `own_writes` copies and
    finished at `finish`; its follow-up is queued."""
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_begin(state, at(0.01), first.task, "b")
    for k in range(pushes):
        state, _ = coalesce.on_push(state, at(0.1 + 0.2 * k / max(pushes, 1)), "x")
    state, follow_up = coalesce.on_finish(state, at(finish), first.task, "f", own_writes)
    assert follow_up is not None
    return state


def test_R26_R27_a_follow_up_that_only_reads_our_own_echo_goes_SETTLE_after_it():
    """One label written, one push back: a quiet user; the follow-up is queued for SETTLE
    after that push (at once when that has passed), and begins then without snoozing."""
    state = busy_follow_up(pushes=1, own_writes=1, finish=0.12)  # the echo came at 0.1
    assert state.run_at == at(0.1) + SETTLE and not state.busy
    _, begun = coalesce.on_begin(state, at(0.1) + SETTLE, state.task, "t")
    assert begun.snooze is None
    assert busy_follow_up(pushes=1, own_writes=1, finish=0.4).run_at == at(0.4)


def test_R26_R27_a_follow_up_waits_for_echoes_still_on_their_way():
    """Five labels written, one push back so far: the follow-up waits for the rest (a pause of
    QUIET), so that one session reads them all."""
    state = busy_follow_up(pushes=1, own_writes=5, finish=0.2)
    assert state.run_at == at(0.1) + QUIET
    state, _ = coalesce.on_push(state, at(0.5), "p")  # a late echo while queued
    _, begun = coalesce.on_begin(state, at(0.6), state.task, "s")
    assert begun.snooze is not None and begun.snooze.run_at == at(0.5) + QUIET


def test_R27_a_busy_users_follow_up_snoozes_until_they_pause():
    """More pushes than the session's own writes: the user is busy; while pushes keep coming
    less than QUIET apart, the follow-up snoozes (a successor task each time), then runs."""
    state = busy_follow_up(pushes=3, own_writes=1)
    task, t, snoozes = state.task, 0.42, 0
    begun = None
    while t < 3.0:  # a push every 0.1 s until 3 s
        state, _ = coalesce.on_push(state, at(t - 0.02), "p")
        state, begun = coalesce.on_begin(state, at(t), task, f"s{snoozes}")
        assert begun.snooze is not None
        assert begun.snooze.run_at == at(t - 0.02) + QUIET
        snoozes, task, t = snoozes + 1, begun.snooze.task, t + 0.5
    state, begun = coalesce.on_begin(state, at(3.6), task, "last")  # quiet now
    assert begun.snooze is None and state.phase is Phase.RUNNING
    assert snoozes == 6


def test_R27_a_follow_up_waits_at_most_MAX_WAIT():
    state = busy_follow_up(pushes=3, own_writes=0)
    task, t = state.task, 0.42
    for k in range(100):
        state, _ = coalesce.on_push(state, at(t - 0.05), "p")  # pushes never stop
        state, begun = coalesce.on_begin(state, at(t), task, f"s{k}")
        if begun.snooze is None:
            break
        task, t = begun.snooze.task, t + 0.45
    assert state.phase is Phase.RUNNING
    assert at(0.4) + MAX_WAIT <= at(t) <= at(0.4) + MAX_WAIT + timedelta(seconds=0.5)


def test_R27_a_quiet_users_first_session_never_snoozes():
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_push(state, at(0.01), "n2")
    _, begun = coalesce.on_begin(state, at(0.02), first.task, "b")
    assert begun.snooze is None


def test_R27_a_state_older_than_a_session_can_live_counts_as_idle():
    """A task that was dropped or a function that was killed never holds changes back for
    longer than STALE."""
    state, first = coalesce.on_push(QueueState(), at(0), "n1")
    assert first is not None
    state, _ = coalesce.on_begin(state, at(1), first.task, "b")  # ... and never finishes
    late = at(1) + STALE + timedelta(seconds=1)
    state, start = coalesce.on_push(state, late, "n2")
    assert start is not None and start.run_at == late


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
    state, _ = coalesce.on_begin(state, at(0.1), first.task, "b")
    state, _ = coalesce.on_begin(state, at(0.2), "other", "b2")  # a retried older task began
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
    snoozes: int = 0

    def tick(self) -> datetime:
        self.now += 0.05
        return at(self.now)

    def push(self) -> None:
        self.state, start = coalesce.on_push(self.state, self.tick(), f"p{self.pushes}")
        self.uncovered.add(self.pushes)
        self.pushes += 1
        if start is not None:
            self.pending.append(start.task)

    def dispatch(self, index: int, snooze_fails: bool = False) -> None:
        if not self.pending:
            return
        task = self.pending.pop(index % len(self.pending))
        self.state, begun = coalesce.on_begin(self.state, self.tick(), task, f"b{self.now}")
        if begun.snooze is not None:  # no read: the successor (if created) begins later
            self.pending.append(task if snooze_fails else begun.snooze.task)
            self.snoozes += 1
            return
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
        for _ in range(10_000):
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
        st.tuples(st.just("dispatch, its snooze not created"), st.integers(0, 5)),
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
            world.push()
        elif name == "dispatch":
            world.dispatch(int(arg))
        elif name.startswith("dispatch,"):
            world.dispatch(int(arg), snooze_fails=True)
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


# -- what the policy costs, simulated on a clock --------------------------------------------


def simulate(change_times: list[float], dispatch: float = 0.02, duration: float = 0.1,
             echo_after: float = 0.08, echo_gap: float = 0.0) -> tuple[int, list[float]]:  # fmt: skip
    """One user's changes at `change_times`; every task begins `dispatch` after its run time;
    a session lasts `duration`, reads every change pushed before it began, writes one label per
    change it saved, and its labels come back as pushes from `echo_after` into the session on,
    `echo_gap` apart. Returns the sessions run and each change's wait from its push to a
    session's begin."""
    events: list[tuple[float, int, str, object]] = [(t, i, "change", i) for i, t in
                                                   enumerate(change_times)]  # fmt: skip
    state, order, sessions, unread, waits = QueueState(), len(change_times), 0, {}, {}
    while events:
        events.sort(key=lambda e: (e[0], e[1]))
        t, _, kind, arg = events.pop(0)
        order += 1
        if kind in ("change", "echo"):
            if kind == "change":
                unread[arg] = t
            state, start = coalesce.on_push(state, at(t), f"n{order}")
        elif kind == "task":
            state, begun = coalesce.on_begin(state, at(t), str(arg), f"n{order}")
            if begun.snooze is not None:
                start = begun.snooze
            else:
                sessions += 1
                read, unread = unread, {}
                waits.update({i: t - pushed for i, pushed in read.items()})
                events += [(t + echo_after + k * echo_gap, order + k, "echo", None)
                           for k in range(len(read))]  # fmt: skip
                events.append((t + duration, order, "finish", (str(arg), len(read))))
                start = None
        else:
            task, writes = arg  # type: ignore[misc]
            state, start = coalesce.on_finish(state, at(t), task, f"n{order}", writes)
        if start is not None:
            run = max(t, (start.run_at - T0).total_seconds())
            events.append((run + dispatch, order, "task", start.task))
    assert not unread
    return sessions, [waits[i] for i in range(len(change_times))]


@pytest.mark.parametrize("echo_gap", [0.0, 0.015, 0.05], ids=["echoes at once",
                         "echoes trickling in", "echoes slow"])  # fmt: skip
def test_R27_a_burst_of_30_changes_costs_at_most_3_sessions(echo_gap):
    """Issue 14's target, on the policy alone: 30 changes 0.1 s apart from one user, however
    fast calsync's own label writes come back."""
    sessions, waits = simulate([0.1 * i for i in range(30)], echo_gap=echo_gap)
    assert sessions <= 3
    assert waits[0] < 0.05  # the first change of the burst goes at once


def test_R27_changes_one_at_a_time_never_wait():
    sessions, waits = simulate([1.0 * i for i in range(20)])
    assert max(waits) < 0.05
    assert sessions == 40  # each change's session, and the one that reads its label back
