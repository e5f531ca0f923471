"""R-26: when both sides changed a field, the losing value is kept in the event's history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.cloud import firestore

from core.actions import HistoryNote

HISTORY = "calsync_history"


class FirestoreHistory:
    def __init__(self, client: firestore.Client):
        self._col = client.collection(HISTORY)

    def record(self, notes: Sequence[HistoryNote], user: str, now: datetime) -> None:
        for note in notes:
            c = note.conflict
            self._col.add(
                {
                    "user_email": user,
                    "key": str(note.key),
                    "field": c.field,
                    "winner": c.winner,
                    "lost_value": c.loser_value,
                    "at": now,
                }
            )

    def for_key(self, key: str) -> list[dict]:
        query = self._col.where(filter=firestore.FieldFilter("key", "==", key))
        return [d.to_dict() or {} for d in query.stream()]

    def for_item(self, user: str, key: str) -> list[dict]:
        """One user's history of one item, oldest first (`python main.py history`)."""
        query = self._col.where(filter=firestore.FieldFilter("user_email", "==", user)).where(
            filter=firestore.FieldFilter("key", "==", key)
        )
        rows = [d.to_dict() or {} for d in query.stream()]
        return sorted(rows, key=lambda r: (r.get("at") is None, r.get("at"), r.get("field", "")))

    def keys_for(self, user: str) -> list[str]:
        """The items of a user that have a history (what `history` suggests when one has none)."""
        query = self._col.where(filter=firestore.FieldFilter("user_email", "==", user))
        return sorted({str((d.to_dict() or {}).get("key", "")) for d in query.stream()} - {""})
