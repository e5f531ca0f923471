"""R-29: the per-user lease on the Firestore emulator keeps one user's sessions apart, with a
fencing generation that refuses a stale holder's writes (audit M2), on Firestore's clock (L9)."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from core.errors import LeaseLost
from core.issues import Issue
from core.model import ItemKey, Mapping
from core.users import SyncState
from infra.firestore_store import FirestoreSettingsStore
from infra.lease import FirestoreLease
from infra.sync_store import FirestoreIssueStore, FirestoreMappingStore

pytestmark = pytest.mark.integration
TTL = timedelta(minutes=5)


def test_R29_second_holder_waits_until_release(firestore_client):
    lease = FirestoreLease(firestore_client)
    first = lease.acquire("ann@example.com", "session-1", TTL)
    assert first is not None
    assert lease.acquire("ann@example.com", "session-2", TTL) is None
    assert lease.acquire("bob@example.com", "session-2", TTL) is not None  # others not blocked
    lease.release(first)
    second = lease.acquire("ann@example.com", "session-2", TTL)
    assert second is not None and second.generation == first.generation + 1


def test_R29_M2_a_crashed_holders_lease_expires_and_its_fence_is_refused(firestore_client):
    """A holder that stopped renewing loses the lease after its TTL (judged on Firestore's own
    clock, L9); its writes are then refused, the new holder's go through."""
    lease = FirestoreLease(firestore_client)
    store = FirestoreSettingsStore(firestore_client)
    store.enable_user("ann@example.com")
    stale = lease.acquire("ann@example.com", "overran", timedelta(seconds=1))
    assert stale is not None
    assert lease.acquire("ann@example.com", "next", TTL) is None
    time.sleep(1.5)
    fresh = lease.acquire("ann@example.com", "next", TTL)
    assert fresh is not None
    assert not lease.renew(stale, TTL)
    with pytest.raises(LeaseLost):
        store.set_state_fields("ann@example.com", {"calendar_sync_token": "old"}, fence=stale)
    with pytest.raises(LeaseLost):
        FirestoreMappingStore(firestore_client).put(
            [Mapping("ann@example.com", ItemKey("u1"), "c", "e", "005", "", "k")], fence=stale
        )
    with pytest.raises(LeaseLost):
        FirestoreIssueStore(firestore_client).record([Issue("CS-010", "ann@example.com", "u1")],
                                                     [], _now(), fence=stale)  # fmt: skip
    assert store.set_state_fields("ann@example.com", {"calendar_sync_token": "new"}, fence=fresh)
    assert store.get_user("ann@example.com").state.calendar_sync_token == "new"
    assert FirestoreMappingStore(firestore_client).for_user("ann@example.com") == []
    lease.release(stale)  # not the holder any more: no effect
    assert lease.renew(fresh, TTL)


def test_R29_renewal_keeps_the_lease(firestore_client):
    lease = FirestoreLease(firestore_client)
    fence = lease.acquire("ann@example.com", "long", timedelta(seconds=1))
    for _ in range(3):
        time.sleep(0.5)
        assert lease.renew(fence, timedelta(seconds=1))
    assert lease.acquire("ann@example.com", "other", TTL) is None


def test_R29_parallel_sessions_get_exactly_one_lease(firestore_client):
    lease = FirestoreLease(firestore_client)
    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(lambda i: lease.acquire("ann@example.com", f"s{i}", TTL), range(8)))
    assert sum(w is not None for w in won) == 1


def test_M1_expect_writes_only_when_the_value_still_holds(firestore_client):
    """A used confirmation is cleared only if it is still the one read (audit M1, M5)."""
    store = FirestoreSettingsStore(firestore_client)
    store.enable_user("ann@example.com")
    store.save_sync_state("ann@example.com", SyncState(deletes_release="h2"))
    assert not store.set_state_fields("ann@example.com", {"deletes_release": ""},
                                      expect={"deletes_release": "h1"})  # fmt: skip
    assert store.get_user("ann@example.com").state.deletes_release == "h2"
    assert store.set_state_fields("ann@example.com", {"deletes_release": ""},
                                  expect={"deletes_release": "h2"})  # fmt: skip
    assert store.get_user("ann@example.com").state.deletes_release == ""


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
