"""Coalescing state in Firestore (one document per user, `calsync_queue/<email>`), moved by
core/coalesce.py's transitions inside transactions, and the count of calendar copies a session
wrote (its own pushes to expect, R-26).

Each transition is one document read, and one conditional write when the state changes (a push
that finds a session queued writes nothing).
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore

from core import coalesce
from core.coalesce import Begin, Phase, QueueState, Start
from core.errors import ServerError
from core.ports import Calendar, WriteResult
from core.users import normalise_email

QUEUE = "calsync_queue"
ATTEMPTS = 20
T = TypeVar("T")


_TIMES = ("since", "run_at", "last_push", "waiting_since")
_COUNTS = ("seq", "pushes", "echoes")
_FLAGS = ("dirty", "follow_up", "busy")


def _load(data: dict[str, Any] | None) -> QueueState:
    if not data:
        return QueueState()
    try:
        phase = Phase(data.get("phase", "idle"))
    except ValueError:
        phase = Phase.IDLE  # an unknown phase counts as idle: the next push queues a session
    values: dict[str, Any] = {name: data.get(name) for name in _TIMES}
    values.update({name: int(data.get(name) or 0) for name in _COUNTS})
    values.update({name: bool(data.get(name, False)) for name in _FLAGS})
    return QueueState(phase=phase, task=str(data.get("task", "")), **values)


def _dump(state: QueueState) -> dict[str, Any]:
    fields = ("task", *_TIMES, *_COUNTS, *_FLAGS)
    return {"phase": state.phase.value, **{name: getattr(state, name) for name in fields}}


class FirestoreCoalescer:
    """The user's coalescing state, moved one transition at a time."""

    def __init__(self, client: firestore.Client):
        self._db = client

    def _ref(self, email: str) -> firestore.DocumentReference:
        return self._db.collection(QUEUE).document(normalise_email(email))

    def _step(self, email: str, move: Callable[[QueueState], tuple[QueueState, T]]) -> T:
        """Read, decide, and write only if the document is still what was read (an update-time
        precondition; a missing document is created, which fails if it appeared meanwhile).
        Optimistic rather than a transaction: pushes arrive in bursts, and contended
        transactions wait on locks (about 2 s each on the emulator) where a refused
        precondition is answered at once and simply read again."""
        ref = self._ref(email)
        for _ in range(ATTEMPTS):
            snapshot = ref.get()
            before = _load(snapshot.to_dict() if snapshot.exists else None)
            after, out = move(before)
            if after == before:
                return out
            try:
                if snapshot.exists:
                    when = self._db.write_option(last_update_time=snapshot.update_time)
                    ref.update(_dump(after), option=when)
                else:
                    ref.create(_dump(after))
            except (gexc.FailedPrecondition, gexc.Conflict, gexc.NotFound):
                time.sleep(random.uniform(0, 0.01))  # someone else moved it: decide again
                continue
            return out
        raise ServerError(f"the session state of {email} kept changing under {ATTEMPTS} writes")

    def state(self, email: str) -> QueueState:
        snapshot = self._ref(email).get()
        return _load(snapshot.to_dict() if snapshot.exists else None)

    def push(self, email: str, now: datetime) -> Start | None:
        nonce = secrets.token_hex(4)
        return self._step(email, lambda s: coalesce.on_push(s, now, nonce))

    def begin(self, email: str, task: str, now: datetime) -> Begin:
        nonce = secrets.token_hex(4)
        return self._step(email, lambda s: coalesce.on_begin(s, now, task, nonce))

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
