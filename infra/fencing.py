"""Fenced Firestore writes (R-29, audit M2): a batch of a session's writes commits in a
transaction that first checks that the session still holds its lease, and fails with LeaseLost
if not, so a session that outlived its lease changes nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.cloud import firestore

from core.errors import LeaseLost
from core.ports import Fence
from infra.lease import holds, lease_ref

# (document, data): data None deletes the document.
Writes = Sequence[tuple[firestore.DocumentReference, dict[str, Any] | None]]


def commit(client: firestore.Client, fence: Fence | None, writes: Writes,
           merge: bool = False) -> None:  # fmt: skip
    """Apply `writes` in one batch (at most 500), or, under a fence, in one transaction that reads
    the lease first."""
    if not writes:
        return
    if fence is None:
        batch = client.batch()
        _apply(batch, writes, merge)
        batch.commit()
        return
    ref = lease_ref(client, fence.email)

    @firestore.transactional
    def fenced(txn: firestore.Transaction) -> None:
        snapshot = ref.get(transaction=txn)
        if not snapshot.exists or not holds(snapshot.to_dict() or {}, fence):
            raise LeaseLost(f"the lease of {fence.email} was taken over")
        _apply(txn, writes, merge)

    fenced(client.transaction())


def _apply(writer: Any, writes: Writes, merge: bool) -> None:
    for ref, data in writes:
        if data is None:
            writer.delete(ref)
        else:
            writer.set(ref, data, merge=merge)
