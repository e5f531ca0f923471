"""R-29: the per-user lease on the Firestore emulator keeps one user's sessions apart."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from infra.lease import FirestoreLease

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)


def test_R29_second_holder_waits_until_release(firestore_client):
    lease = FirestoreLease(firestore_client)
    assert lease.acquire("ann@example.com", "session-1", NOW, TTL)
    assert not lease.acquire("ann@example.com", "session-2", NOW, TTL)
    assert lease.acquire("bob@example.com", "session-2", NOW, TTL)  # other users are not blocked
    assert lease.acquire("ann@example.com", "session-1", NOW, TTL)  # re-entrant for its holder
    lease.release("ann@example.com", "session-2")  # not theirs: no effect
    assert not lease.acquire("ann@example.com", "session-2", NOW, TTL)
    lease.release("ann@example.com", "session-1")
    assert lease.acquire("ann@example.com", "session-2", NOW, TTL)


def test_R29_a_crashed_holders_lease_expires(firestore_client):
    lease = FirestoreLease(firestore_client)
    assert lease.acquire("ann@example.com", "crashed", NOW, TTL)
    assert not lease.acquire("ann@example.com", "next", NOW + TTL - timedelta(seconds=1), TTL)
    assert lease.acquire("ann@example.com", "next", NOW + TTL + timedelta(seconds=1), TTL)


def test_R29_parallel_sessions_get_exactly_one_lease(firestore_client):
    lease = FirestoreLease(firestore_client)
    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(
            pool.map(lambda i: lease.acquire("ann@example.com", f"s{i}", NOW, TTL), range(8))
        )
    assert won.count(True) == 1
