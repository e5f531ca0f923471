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
