"""When a user's next sync session runs (R-27): at once for a quiet user; a push that arrives while
a session is queued joins it, and pushes that arrive while one runs make one follow-up, which
waits for a busy user to pause.

The guarantee, for every push: some session *begins* (starts reading the calendar) after the push
arrived, so it reads the change the push announced. Why this holds, by the state the push finds
(transitions are serialised on one Firestore document; docs/decisions.md has the long form):

- IDLE: a session is queued now; it begins after the push.
- QUEUED: the queued session has not begun; it begins after the push. When its task comes and
  pushes are still arriving, it *snoozes* instead of beginning: it queues its successor and
  ends; the successor begins later still.
- RUNNING: the running session may have read before the change: `dirty` is set, and the
  session's finish queues a follow-up, which begins after it, hence after the push.

A task that begins while another is recorded (a retried attempt of an older task) simply runs:
an extra session is harmless, a skipped one would not be. A state that stayed QUEUED or RUNNING
longer than a session can live (its task dropped, its function killed) counts as IDLE, so a lost
task never holds a user's changes back for longer than STALE; the periodic sweep is the second
net (R-28). The sweep's own sessions do not pass through here (infra/tasks.py): they run
whatever else is queued, so their work (items that slid into the window, items that wait) is
never folded into a push's session and lost (audit L5).

Debounce: a session's own calendar writes come back as pushes (R-26), one per copy written. When
a follow-up's task arrives and the pushes since the last session began are not exactly the
echoes it wrote (more: the user is busy; fewer: echoes are still on their way), it snoozes until
QUIET after the last push; when they are, until SETTLE after it (a change may hide behind an
echo that has not come yet); never longer than MAX_WAIT in all. A burst of changes then costs
one session for the burst plus the one that reads calsync's own labels coming back, while a
quiet user's change and its echo run at once. Snoozing only moves sessions later; the guarantee
does not depend on it.

Pure: the caller passes the time and a nonce, and stores the state (infra/coalesce.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

STALE = timedelta(minutes=15)  # longer than a session can run (sync_user's timeout is 10 min)
QUIET = timedelta(milliseconds=500)  # a busy user's pause that lets their follow-up run
SETTLE = timedelta(milliseconds=150)  # a follow-up begins no sooner after the last push
MAX_WAIT = timedelta(seconds=5)  # the longest a follow-up waits for that pause


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
    last_push: datetime | None = None  # the latest push
    follow_up: bool = False  # the queued task is a follow-up (it may snooze)
    pushes: int = 0  # pushes since the last session began (while it ran, then while queued)
    echoes: int = 0  # calendar copies the last session wrote: pushes to expect from it
    busy: bool = False  # the follow-up snoozed once already
    waiting_since: datetime | None = None  # when the follow-up was first queued

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


@dataclass(frozen=True)
class Begin:
    """What a task does when it arrives: run the session (`snooze` None), or snooze: end at
    once, after creating `snooze` (the same session, later)."""

    snooze: Start | None = None


def _queue(state: QueueState, now: datetime, run_at: datetime, nonce: str, follow_up: bool,
           waiting_since: datetime | None = None) -> tuple[QueueState, Start]:  # fmt: skip
    seq = state.seq + 1
    task = f"{seq}-{nonce}"
    new = replace(state, phase=Phase.QUEUED, since=now, task=task, run_at=run_at, seq=seq,
                  dirty=False, follow_up=follow_up,
                  waiting_since=(waiting_since or now) if follow_up else None)  # fmt: skip
    return new, Start(task, run_at)


def on_push(state: QueueState, now: datetime, nonce: str) -> tuple[QueueState, Start | None]:
    """A push (or a confirmation) for this user arrived at `now`."""
    if not state.live(now):
        fresh = replace(state, last_push=now, pushes=0, echoes=0, busy=False)
        return _queue(fresh, now, now, nonce, follow_up=False)
    if state.phase is Phase.RUNNING:
        return replace(state, dirty=True, last_push=now, pushes=state.pushes + 1), None
    if not state.follow_up:  # a quiet user's first session, about to begin: nothing to note
        return state, None
    return replace(state, last_push=now, pushes=state.pushes + 1), None


def on_begin(state: QueueState, now: datetime, task: str, nonce: str) -> tuple[QueueState, Begin]:
    """A task arrived, before its session reads anything."""
    until = _snooze_until(state, now, task)
    if until is not None:
        busy = state.busy or state.pushes != state.echoes
        new, start = _queue(replace(state, busy=busy), now, until, nonce, follow_up=True,
                            waiting_since=state.waiting_since)  # fmt: skip
        return new, Begin(snooze=start)
    new = replace(state, phase=Phase.RUNNING, since=now, task=task, run_at=None, dirty=False,
                  follow_up=False, pushes=0, echoes=0, busy=False, waiting_since=None)  # fmt: skip
    return new, Begin()


def _snooze_until(state: QueueState, now: datetime, task: str) -> datetime | None:
    """When the queued follow-up should begin instead of now, or None to begin now: QUIET after
    the last push when the pushes are not exactly the last session's echoes (or it snoozed
    for that before); SETTLE after it otherwise; never later than MAX_WAIT after it was first
    queued."""
    if (state.phase is not Phase.QUEUED or state.task != task or not state.follow_up
            or state.last_push is None or state.waiting_since is None):  # fmt: skip
        return None
    pause = QUIET if state.busy or state.pushes != state.echoes else SETTLE
    if now - state.last_push >= pause or now - state.waiting_since >= MAX_WAIT:
        return None
    return min(state.last_push + pause, state.waiting_since + MAX_WAIT)


def on_finish(state: QueueState, now: datetime, task: str, nonce: str,
              own_writes: int) -> tuple[QueueState, Start | None]:  # fmt: skip
    """The session of `task` has finished, having written `own_writes` calendar copies."""
    if state.phase is not Phase.RUNNING or state.task != task:
        return state, None  # a later session began meanwhile: what comes next is its business
    if not state.dirty:
        return QueueState(seq=state.seq, last_push=state.last_push), None
    queued, start = _queue(replace(state, echoes=own_writes), now, now, nonce, follow_up=True)
    until = _snooze_until(queued, now, queued.task)  # scheduled where it would snooze to
    if until is None:
        return queued, start
    return replace(queued, run_at=until), replace(start, run_at=until)


def on_start_failed(state: QueueState, task: str) -> QueueState:
    """Creating `task` failed: the user is idle again, so that the next push queues anew."""
    if state.phase is Phase.QUEUED and state.task == task:
        return QueueState(seq=state.seq, last_push=state.last_push)
    return state
