"""A per-user lease in Firestore, so that one user's sessions never run at the same time (R-29).

A session takes the lease before it reads anything, renews it while it runs, and gives it back
when done; a holder that crashed lets it expire after its time to live. Each acquire increments a
fencing generation: the session's Firestore writes check it in the same transaction (infra/
fencing.py), so a session that overran its lease (Cloud Run keeps running a timed-out request)
writes nothing once another session took over (audit M2). Expiry is judged on Firestore's clock
(the transaction's read time), never on the caller's (audit L9).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.cloud import firestore

from core.ports import Fence
from core.users import normalise_email

LEASES = "calsync_leases"


class FirestoreLease:
    """Implements core.ports.Lease."""

    def __init__(self, client: firestore.Client):
        self._db = client

    def _ref(self, email: str) -> firestore.DocumentReference:
        return self._db.collection(LEASES).document(normalise_email(email))

    def acquire(self, email: str, holder: str, ttl: timedelta) -> Fence | None:
        """Take the lease for `holder` if it is free or expired; a new generation each time."""
        ref = self._ref(email)

        @firestore.transactional
        def take(txn: firestore.Transaction) -> Fence | None:
            snapshot = ref.get(transaction=txn)
            now = _server_time(snapshot)
            current = (snapshot.to_dict() or {}) if snapshot.exists else {}
            busy = current.get("holder") and current.get("expires") and current["expires"] > now
            if busy and current.get("holder") != holder:
                return None
            generation = int(current.get("generation", 0)) + 1
            txn.set(ref, {"holder": holder, "generation": generation, "expires": now + ttl,
                          "taken": now})  # fmt: skip
            return Fence(normalise_email(email), holder, generation)

        result = take(self._db.transaction())
        return result if isinstance(result, Fence) else None

    def renew(self, fence: Fence, ttl: timedelta) -> bool:
        ref = self._ref(fence.email)

        @firestore.transactional
        def extend(txn: firestore.Transaction) -> bool:
            snapshot = ref.get(transaction=txn)
            current = (snapshot.to_dict() or {}) if snapshot.exists else {}
            if not holds(current, fence):
                return False
            txn.update(ref, {"expires": _server_time(snapshot) + ttl})
            return True

        return bool(extend(self._db.transaction()))

    def release(self, fence: Fence) -> None:
        """Give the lease back, only if `fence` still holds it. The document stays (free), so
        the generation only ever grows."""
        ref = self._ref(fence.email)

        @firestore.transactional
        def give_back(txn: firestore.Transaction) -> None:
            snapshot = ref.get(transaction=txn)
            if snapshot.exists and holds(snapshot.to_dict() or {}, fence):
                txn.update(ref, {"holder": "", "expires": _server_time(snapshot)})

        give_back(self._db.transaction())


def holds(document: dict, fence: Fence) -> bool:
    """Whether a lease document is still the one `fence` took."""
    return document.get("holder") == fence.holder and document.get("generation") == fence.generation


def lease_ref(client: firestore.Client, email: str) -> firestore.DocumentReference:
    return client.collection(LEASES).document(normalise_email(email))


def _server_time(snapshot: firestore.DocumentSnapshot) -> datetime:
    """Firestore's clock: the time the transaction read the document."""
    read = snapshot.read_time
    return read if read is not None else datetime.now(UTC)
