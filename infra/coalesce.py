"""Coalescing state in Firestore (one document per user, `calsync_queue/<email>`), moved by
core/coalesce.py's transitions inside transactions, and the count of calendar copies a session
wrote (its own pushes to expect, R-26).

Each transition is one transaction: one document read, and one write when the state changes (a
push that finds a session queued writes nothing).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from google.cloud import firestore

from core import coalesce
from core.coalesce import Phase, QueueState, Start
from core.ports import Calendar, WriteResult
from core.users import normalise_email

QUEUE = "calsync_queue"
T = TypeVar("T")


def _load(data: dict[str, Any] | None) -> QueueState:
    if not data:
        return QueueState()
    try:
        phase = Phase(data.get("phase", "idle"))
    except ValueError:
        phase = Phase.IDLE  # an unknown phase counts as idle: the next push queues a session
    return QueueState(
        phase=phase,
        since=data.get("since"),
        task=str(data.get("task", "")),
        run_at=data.get("run_at"),
        seq=int(data.get("seq", 0)),
        dirty=bool(data.get("dirty", False)),
        pushes=int(data.get("pushes", 0)),
        sweep=bool(data.get("sweep", False)),
        chain=int(data.get("chain", 0)),
    )


def _dump(state: QueueState) -> dict[str, Any]:
    return {
        "phase": state.phase.value,
        "since": state.since,
        "task": state.task,
        "run_at": state.run_at,
        "seq": state.seq,
        "dirty": state.dirty,
        "pushes": state.pushes,
        "sweep": state.sweep,
        "chain": state.chain,
    }


class FirestoreCoalescer:
    """The user's coalescing state, moved one transition at a time."""

    def __init__(self, client: firestore.Client):
        self._db = client

    def _ref(self, email: str) -> firestore.DocumentReference:
        return self._db.collection(QUEUE).document(normalise_email(email))

    def _step(self, email: str, move: Callable[[QueueState], tuple[QueueState, T]]) -> T:
        ref = self._ref(email)

        @firestore.transactional
        def step(txn: firestore.Transaction) -> T:
            snapshot = ref.get(transaction=txn)
            before = _load(snapshot.to_dict() if snapshot.exists else None)
            after, out = move(before)
            if after != before:
                txn.set(ref, _dump(after))
            return out

        return step(self._db.transaction())

    def state(self, email: str) -> QueueState:
        snapshot = self._ref(email).get()
        return _load(snapshot.to_dict() if snapshot.exists else None)

    def push(self, email: str, now: datetime, sweep: bool = False) -> Start | None:
        nonce = secrets.token_hex(4)
        return self._step(email, lambda s: coalesce.on_push(s, now, nonce, sweep))

    def begin(self, email: str, task: str, now: datetime) -> bool:
        return self._step(email, lambda s: coalesce.on_begin(s, now, task))

    def finish(self, email: str, task: str, now: datetime, own_writes: int) -> Start | None:
        nonce = secrets.token_hex(4)
        return self._step(email, lambda s: coalesce.on_finish(s, now, task, nonce, own_writes))

    def start_failed(self, email: str, task: str) -> None:
        self._step(email, lambda s: (coalesce.on_start_failed(s, task), None))


# -- the session's own calendar writes ------------------------------------------------------


@dataclass
class WriteCount:
    """Calendar copies written successfully through the wrapped calendars (labels, field
    patches, deletes): each one makes Google push once (R-26)."""

    count: int = 0

    def add(self, results: Sequence[WriteResult]) -> Sequence[WriteResult]:
        self.count += sum(1 for r in results if r.ok)
        return results


class _CountingCalendar:
    """A Calendar port that counts what its writes changed; everything else passes through."""

    def __init__(self, inner: Calendar, counter: WriteCount):
        self._inner = inner
        self._counter = counter

    def apply_labels(self, patches: Sequence[Any]) -> Sequence[WriteResult]:
        return self._counter.add(self._inner.apply_labels(patches))

    def apply_patches(self, patches: Sequence[Any]) -> Sequence[WriteResult]:
        return self._counter.add(self._inner.apply_patches(patches))

    def delete_events(self, targets: Sequence[tuple[str, str]]) -> Sequence[WriteResult]:
        return self._counter.add(self._inner.delete_events(targets))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def counting(services: Any) -> tuple[Any, WriteCount]:
    """The session's services with calendars that count their writes, and the counter."""
    counter = WriteCount()
    inner = services.calendar_for
    return replace(
        services, calendar_for=lambda email: _CountingCalendar(inner(email), counter)
    ), counter
