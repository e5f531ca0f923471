"""Mappings and issues on the Firestore emulator: idempotent writes (R-29), issue lifecycle (R-31)."""

from datetime import UTC, datetime, timedelta

import pytest

from core.issues import Issue
from core.model import ItemKey, Mapping, MappingQuery, Role, StoredFile, saved_count
from infra.sync_store import FirestoreIssueStore, FirestoreMappingStore

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def mapping(user: str, uid: str, instance: str = "", **kw) -> Mapping:
    values = {"calendar_id": user, "event_id": "ev" + uid, "owner_sf_id": "005A",
              "sf_event_id": "00UA", "sync_key": "cs1-" + uid, **kw}  # fmt: skip
    return Mapping(user_email=user, key=ItemKey(uid, instance), **values)


def test_R29_mapping_writes_are_idempotent_and_round_trip(firestore_client):
    store = FirestoreMappingStore(firestore_client)
    full = mapping(
        "ann@example.com",
        "uid-1",
        role=Role.INVITEE,
        google_fp=(("summary", "h1"),),
        sf_fp=(("Subject", "h2"),),
        prev_color="5",
        linked=("x@acme.com",),
        files=(StoredFile("F1", "069A", "md5-1", "00UA"),),  # where each file is stored
        pending_create=True,
        start="20261201T090000Z",
        tried_starts=("20261202T090000Z",),  # audit H1b: where retries moved the Event
    )
    store.put([full, full])
    store.put([full])
    assert store.for_user("ann@example.com") == [full]


def test_instances_are_separate_mappings(firestore_client):
    store = FirestoreMappingStore(firestore_client)
    store.put(
        [mapping("ann@example.com", "s"), mapping("ann@example.com", "s", "20261201T090000Z")]
    )
    assert len(store.for_user("ann@example.com")) == 2
    store.delete("ann@example.com", [ItemKey("s", "20261201T090000Z")])
    assert [m.key for m in store.for_user("ann@example.com")] == [ItemKey("s")]


def test_R11_mappings_of_other_users_are_found_by_ical_uid(firestore_client):
    store = FirestoreMappingStore(firestore_client)
    uids = [f"uid-{i}" for i in range(45)]  # more than one `in` query
    store.put([mapping("org@example.com", u) for u in uids] + [mapping("ann@example.com", "other")])
    found = store.for_ical_uids(uids + ["missing"])
    assert sorted(m.key.ical_uid for m in found) == sorted(uids)
    assert {m.user_email for m in found} == {"org@example.com"}


def test_R29_R37_a_session_reads_only_the_mappings_its_query_names(firestore_client):
    """Issue 14: the session asks for mappings by item key (one batch read), by the copy's
    id, by iCalUID (a series and its instances), by SF Event id, by sync key and for pending
    ones, each on this user's documents alone; the guard's count is the store's (R-37)."""
    store = FirestoreMappingStore(firestore_client)
    ann, bob = "ann@example.com", "bob@example.com"
    plain = [mapping(ann, f"u{i}", sf_event_id=f"00U{i:03d}", sync_key=f"cs1-k{i}")
             for i in range(40)]  # fmt: skip
    series = [mapping(ann, "series", pattern="RRULE:FREQ=DAILY"),
              mapping(ann, "series", "20261201T090000Z", occurrence_of="00US")]  # fmt: skip
    pending = [mapping(ann, "p1", sf_event_id="", pending_create=True),
               mapping(ann, "p2", pending_delete=True)]  # fmt: skip
    others = [mapping(bob, "u1", sf_event_id="00U001"), mapping(bob, "series")]
    store.put(plain + series + pending + others)

    def keys(query: MappingQuery) -> set[tuple[str, str]]:
        found = store.for_query(ann, query)
        assert all(m.user_email == ann for m in found)
        return {(m.key.ical_uid, m.key.instance) for m in found}

    assert keys(MappingQuery()) == set()
    assert keys(MappingQuery(keys=frozenset({ItemKey("u3"), ItemKey("nowhere")}))) == {("u3", "")}
    assert keys(MappingQuery(event_ids=frozenset({"evu4"}))) == {("u4", "")}
    assert keys(MappingQuery(ical_uids=frozenset({"series"}))) == {
        ("series", ""), ("series", "20261201T090000Z")}  # fmt: skip
    ids = frozenset(f"00U{i:03d}" for i in range(35))  # more than one `in` query
    assert keys(MappingQuery(sf_event_ids=ids)) == {(f"u{i}", "") for i in range(35)}
    assert keys(MappingQuery(sync_keys=frozenset({"cs1-k7"}))) == {("u7", "")}
    assert keys(MappingQuery(pending=True)) == {("p1", ""), ("p2", "")}
    both = MappingQuery(keys=frozenset({ItemKey("u1")}), sf_event_ids=frozenset({"00U001"}))
    assert len(store.for_query(ann, both)) == 1  # each mapping once
    # 40 plain + the series + p2 are saved; the occurrence and the pending create are not.
    assert store.count_saved(ann) == saved_count(store.for_user(ann)) == 42
    assert store.count_saved("nobody@example.com") == 0


def test_R31_issue_counts_and_first_seen_then_closes(firestore_client):
    store = FirestoreIssueStore(firestore_client)
    issue = Issue(
        "CS-002", "ann@example.com", key="uid-1", message="No attendee is known", title="Demo"
    )
    store.record([issue], [], NOW)
    store.record([issue], [], NOW + timedelta(minutes=5))
    [row] = store.list_open(email="ann@example.com")
    assert (row["count"], row["first_seen"], row["last_seen"]) == (
        2,
        NOW,
        NOW + timedelta(minutes=5),
    )
    assert store.open_for_user("ann@example.com") == [issue]
    store.record([], [issue], NOW + timedelta(minutes=10))
    assert store.list_open() == []
    store.record([issue], [], NOW + timedelta(minutes=20))  # a new occurrence starts afresh
    [row] = store.list_open(code="CS-002")
    assert (row["count"], row["first_seen"]) == (1, NOW + timedelta(minutes=20))
