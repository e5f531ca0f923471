"""When a user's next sync session runs (R-27): at once for a quiet user; a push that arrives while
a session is queued joins it, and pushes that arrive while one runs make one follow-up.

The guarantee, for every push: some session *begins* (starts reading the calendar) after the push
arrived, so it reads the change the push announced. Why this holds, case by case, where the state
is what the push finds (transitions are serialised, docs/decisions.md has the long form):

- IDLE: a new session is queued now; it begins after the push.
- QUEUED: the queued session has not begun; it begins after the push.
- RUNNING: the running session may have read before the change; `dirty` is set, and the session's
  `finish` queues a follow-up, which begins after it, hence after the push.

A state that stayed QUEUED or RUNNING for longer than a session can live (its task was dropped,
its function was killed) counts as IDLE, so a lost task never holds a user's changes for longer
than STALE; the periodic sweep is the second net (R-28).

Follow-ups are paced only for a busy user: when more pushes came during a session than the
session itself wrote copies (each label write of calsync's comes back as one push, R-26), the
follow-up waits until BUSY_PACE after the previous session began (doubling while the burst lasts),
so a burst of changes costs a few sessions instead of one per push. Pacing moves sessions later,
never skips one: the guarantee does not depend on it.

Pure: the caller passes the time and a nonce, and stores the state (infra/coalesce.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

STALE = timedelta(minutes=15)  # longer than a session can run (sync_user's timeout is 10 min)
BUSY_PACE = timedelta(seconds=1)
MAX_DOUBLINGS = 3  # paces of 1, 2, 4, 8 s while a burst goes on


class Phase(Enum):
    IDLE = "idle"
    QUEUED = "queued"  # a task exists that has not begun its session
    RUNNING = "running"  # a session began and has not finished


@dataclass(frozen=True)
class QueueState:
    """One user's coalescing state (a Firestore document in production)."""

    phase: Phase = Phase.IDLE
    since: datetime | None = None  # when the phase began
    task: str = ""  # id of the queued or running session's task
    run_at: datetime | None = None  # when the queued task is scheduled
    seq: int = 0  # tasks queued so far: part of each task's id
    dirty: bool = False  # a push arrived while the session ran
    pushes: int = 0  # how many
    sweep: bool = False  # the next session owes a sweep's work
    chain: int = 0  # paced follow-ups in a row

    def live(self, now: datetime) -> bool:
        """QUEUED or RUNNING, and not so old that its session must be gone."""
        if self.phase is Phase.IDLE or self.since is None:
            return False
        start = max(self.since, self.run_at) if self.run_at is not None else self.since
        return now - start <= STALE


@dataclass(frozen=True)
class Start:
    """Create this task: a session for the user, scheduled at `run_at`."""

    task: str
    run_at: datetime
    sweep: bool


def _queue(state: QueueState, now: datetime, run_at: datetime, nonce: str,
           chain: int = 0) -> tuple[QueueState, Start]:  # fmt: skip
    seq = state.seq + 1
    task = f"{seq}-{nonce}"
    new = QueueState(Phase.QUEUED, now, task, run_at, seq, False, 0, state.sweep, chain)
    return new, Start(task, run_at, state.sweep)


def on_push(state: QueueState, now: datetime, nonce: str,
            sweep: bool = False) -> tuple[QueueState, Start | None]:  # fmt: skip
    """A push (or the sweep, or a confirmation) for this user arrived at `now`."""
    state = replace(state, sweep=state.sweep or sweep)
    if not state.live(now):
        return _queue(state, now, now, nonce)
    if state.phase is Phase.RUNNING:
        return replace(state, dirty=True, pushes=state.pushes + 1), None
    return state, None  # QUEUED: the queued session begins after this push


def on_begin(state: QueueState, now: datetime, task: str) -> tuple[QueueState, bool]:
    """A session begins, before it reads anything: what arrives from now on needs a follow-up.
    Returns whether it owes a sweep's work."""
    owed = state.sweep
    chain = state.chain if state.phase is Phase.QUEUED else 0
    new = QueueState(Phase.RUNNING, now, task, None, state.seq, False, 0, False, chain)
    return new, owed


def on_finish(state: QueueState, now: datetime, task: str, nonce: str,
              own_writes: int) -> tuple[QueueState, Start | None]:  # fmt: skip
    """The session of `task` has finished, having written `own_writes` calendar copies."""
    if state.phase is not Phase.RUNNING or state.task != task:
        return state, None  # a later session began meanwhile: what comes next is its business
    if not state.dirty:
        return QueueState(seq=state.seq, sweep=state.sweep), None
    if state.pushes <= own_writes:  # likely only our own echoes: a cheap session, at once
        return _queue(state, now, now, nonce, chain=state.chain)
    began = state.since or now
    pace = BUSY_PACE * 2 ** min(state.chain, MAX_DOUBLINGS)
    return _queue(state, now, max(now, began + pace), nonce, chain=state.chain + 1)


def on_start_failed(state: QueueState, task: str) -> QueueState:
    """Creating `task` failed: the user is idle again, so that the next push queues anew."""
    if state.phase is Phase.QUEUED and state.task == task:
        return QueueState(seq=state.seq, sweep=state.sweep)
    return state
