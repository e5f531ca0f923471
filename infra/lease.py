"""A per-user lease in Firestore, so that one user's sessions never run at the same time (R-29).

A session takes the lease before it reads anything and gives it back when done. A lease whose
holder crashed expires after its time to live, so a crash never blocks a user for long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from google.cloud import firestore

from core.users import normalise_email

LEASES = "calsync_leases"


class FirestoreLease:
    """Implements core.ports.Lease."""

    def __init__(self, client: firestore.Client):
        self._db = client

    def _ref(self, email: str) -> firestore.DocumentReference:
        return self._db.collection(LEASES).document(normalise_email(email))

    def acquire(self, email: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease for `holder` if it is free, expired, or already theirs."""
        ref = self._ref(email)

        @firestore.transactional
        def take(txn: firestore.Transaction) -> bool:
            snapshot = ref.get(transaction=txn)
            if snapshot.exists:
                current = snapshot.to_dict() or {}
                if current.get("holder") != holder and current["expires"] > now:
                    return False
            txn.set(ref, {"holder": holder, "expires": now + ttl, "taken": now})
            return True

        return bool(take(self._db.transaction()))

    def release(self, email: str, holder: str) -> None:
        """Give the lease back, only if `holder` still has it."""
        ref = self._ref(email)

        @firestore.transactional
        def give_back(txn: firestore.Transaction) -> None:
            snapshot = ref.get(transaction=txn)
            if snapshot.exists and (snapshot.to_dict() or {}).get("holder") == holder:
                txn.delete(ref)

        give_back(self._db.transaction())
