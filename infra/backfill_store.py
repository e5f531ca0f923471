"""Backfill checkpoints on Firestore (R-38): one document per user in `calsync_backfill`.

The checkpoint is written after every batch. The same document holds the run's hold (`holder`,
`held_until`), taken in a transaction, so that a command-line run and a Cloud Tasks slice (or
two slices) never work on one user's backfill at the same time; a run that crashed loses its
hold when it expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from google.cloud import firestore

from core.backfill import Checkpoint, Status
from core.users import normalise_email

BACKFILL = "calsync_backfill"
_DATES = ("since", "until")
_TIMES = ("started_at", "updated_at", "finished_at")


def checkpoint_to_doc(cp: Checkpoint) -> dict[str, Any]:
    doc: dict[str, Any] = {name: getattr(cp, name) for name in Checkpoint.__dataclass_fields__}
    doc.update({name: getattr(cp, name).isoformat() for name in _DATES})
    doc["calendars"] = list(cp.calendars)
    doc["status"] = cp.status.value
    return doc


def checkpoint_from_doc(doc: Mapping[str, Any]) -> Checkpoint | None:
    """None for a document that holds no checkpoint yet (only a hold)."""
    if not doc.get("since") or not doc.get("email"):
        return None
    known = {k: v for k, v in doc.items() if k in Checkpoint.__dataclass_fields__}
    known.update({name: date.fromisoformat(doc[name]) for name in _DATES})
    known["calendars"] = tuple(doc.get("calendars") or ())
    known["status"] = Status(doc.get("status", Status.QUEUED.value))
    for name in _TIMES:
        value = doc.get(name)
        known[name] = value if isinstance(value, datetime) else None
    return Checkpoint(**known)


class FirestoreBackfillStore:
    """Implements core.ports.BackfillStore."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client
        self._col = client.collection(BACKFILL)

    def _ref(self, email: str) -> firestore.DocumentReference:
        return self._col.document(normalise_email(email))

    def get(self, email: str) -> Checkpoint | None:
        snapshot = self._ref(email).get()
        return checkpoint_from_doc(snapshot.to_dict() or {}) if snapshot.exists else None

    def list(self) -> list[Checkpoint]:
        found = (checkpoint_from_doc(doc.to_dict() or {}) for doc in self._col.stream())
        return sorted((cp for cp in found if cp is not None), key=lambda cp: cp.email)

    def save(self, checkpoint: Checkpoint) -> None:
        """The checkpoint's fields only: the hold fields stay as they are."""
        self._ref(checkpoint.email).set(checkpoint_to_doc(checkpoint), merge=True)

    def claim(self, email: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        ref = self._ref(email)
        transaction = self._db.transaction()

        @firestore.transactional
        def take(txn: firestore.Transaction) -> bool:
            snapshot = ref.get(transaction=txn)
            data = (snapshot.to_dict() or {}) if snapshot.exists else {}
            current, until = data.get("holder"), data.get("held_until")
            if current and current != holder and isinstance(until, datetime) and until > now:
                return False
            txn.set(ref, {"holder": holder, "held_until": now + ttl}, merge=True)
            return True

        return bool(take(transaction))

    def release(self, email: str, holder: str) -> None:
        ref = self._ref(email)
        transaction = self._db.transaction()

        @firestore.transactional
        def drop(txn: firestore.Transaction) -> None:
            snapshot = ref.get(transaction=txn)
            if snapshot.exists and (snapshot.to_dict() or {}).get("holder") == holder:
                txn.set(ref, {"holder": "", "held_until": None}, merge=True)

        drop(transaction)

    def held_until(self, email: str) -> datetime | None:
        snapshot = self._ref(email).get()
        data = (snapshot.to_dict() or {}) if snapshot.exists else {}
        until = data.get("held_until")
        return until if data.get("holder") and isinstance(until, datetime) else None
