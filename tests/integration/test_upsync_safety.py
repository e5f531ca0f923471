"""Up-sync safety nets on the emulators: idempotency (R-29), cost (R-30), dry run (R-36), the
deletion guard (R-37), the sync key on both sides (R-39)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from core.errors import RetryableError
from core.labels import P_KEY
from infra.session import SessionBusy
from tests.fixtures.upsync import ALICE, JANE, LEE

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """Stands in for the process dying between two writes (nothing may catch it)."""


def crash_on_mapping_write(org, nth=2):
    """The process dies at the `nth` mapping write: the first is the intent, written before the
    Salesforce create; the second the mapping written after it."""
    original = org.services.mappings.put
    seen = []

    def put(mappings, fence=None):
        seen.append(1)
        if len(seen) == nth:
            org.services.mappings.put = original  # the next session's process is healthy again
            raise Crash("killed after the Salesforce write")
        return original(mappings, fence)

    org.services.mappings.put = put


@pytest.mark.parametrize(
    "key_field", [True, False], ids=["with Calsync_Key__c", "without the field"]
)
def test_R29_R39_crash_between_salesforce_and_mapping_write_never_duplicates(org, key_field):
    org.set_key_field(key_field)
    org.enable(ALICE)
    event = org.insert(ALICE, "Crash test", attendees=(ALICE, JANE), colorId="9")
    crash_on_mapping_write(org)
    with pytest.raises(Crash):
        org.sync(ALICE)
    assert len(org.events()) == 1  # Salesforce got it; Firestore did not
    org.sync(ALICE)  # the retried task: same changes, since the sync token was not saved
    [sf] = org.events()
    [mapping] = org.services.mappings.for_user(ALICE)
    assert mapping.sf_event_id == sf["Id"]
    assert org.private_props(ALICE, event["id"])[P_KEY] == mapping.sync_key
    if key_field:
        assert sf["Calsync_Key__c"] == mapping.sync_key  # the key on both sides


def test_R29_duplicate_notifications_and_repeated_sessions_create_one_event(org):
    org.enable(ALICE)
    org.insert(ALICE, "Once only", attendees=(ALICE, JANE), colorId="9")
    for _ in range(3):
        org.sync(ALICE)
    assert len(org.events()) == 1


def test_R29_two_sessions_of_one_user_never_overlap(org):
    org.enable(ALICE)
    org.insert(ALICE, "Parallel", attendees=(ALICE, JANE), colorId="9")
    results: list[object] = []

    def run():
        try:
            results.append(org.sync(ALICE))
        except SessionBusy as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert any(not isinstance(r, SessionBusy) for r in results)
    assert len(org.events()) == 1


def test_R29_retryable_salesforce_failure_is_retried_not_lost(org):
    org.enable(ALICE)
    org.insert(ALICE, "Locked row", attendees=(ALICE, JANE), colorId="9")
    org.sf_org.admin(
        "POST", "faults", json={"kind": "503", "count": 1, "methods": ["PATCH", "POST"]}
    )
    with pytest.raises(RetryableError):
        org.sync(ALICE)
    org.sync(ALICE)
    assert len(org.events()) == 1


def test_R30_saving_many_items_costs_few_salesforce_calls(org):
    org.enable(ALICE)
    for n in range(250):
        org.insert(ALICE, f"Item {n}", days=1 + n / 10, attendees=(ALICE, JANE, LEE), colorId="9")
    before = org.sf_calls()
    org.sync(ALICE)
    writes = org.sf_org.calls()["by_kind"]
    assert len(org.events()) == 250
    upserts = writes.get("collections_upsert", 0) + writes.get("collections_create", 0)
    assert upserts == 2  # 250 events in collections of 200
    assert org.sf_calls() - before <= 12  # lookups and relations, not one call per item


def test_R36_dry_run_writes_nothing_anywhere(org):
    org.enable(ALICE)
    event = org.insert(ALICE, "Just looking", attendees=(ALICE, JANE), colorId="9")
    report = org.sync(ALICE, dry_run=True)
    assert "create SF Event" in report.summary()
    assert org.events() == []
    assert P_KEY not in org.private_props(ALICE, event["id"])
    assert org.services.mappings.for_user(ALICE) == []
    assert org.store.get_user(ALICE).state.calendar_sync_token == ""
    org.sync(ALICE)  # the real session still sees the item
    assert len(org.events()) == 1


def test_R37_deletion_guard_holds_mass_deletes_until_confirmed(org):
    org.enable(ALICE)
    org.store.set_org_settings({"max_deletes_per_session": 3})
    ids = [
        org.insert(ALICE, f"Keep {n}", days=1 + n, attendees=(ALICE, JANE), colorId="9")["id"]
        for n in range(5)
    ]
    org.sync(ALICE)
    assert len(org.events()) == 5
    for event_id in ids:  # a wiped calendar
        org.calendar(ALICE).delete(calendarId="primary", eventId=event_id).execute()
    org.sync(ALICE)
    assert len(org.events()) == 5  # nothing deleted
    assert [i.code for i in org.services.issues.open_for_user(ALICE)] == ["CS-009"]
    user = org.store.get_user(ALICE)
    held = user.state.held_deletes
    assert sorted(h.title for h in held) == [f"Keep {n}" for n in range(5)]  # what the admin sees
    assert all(h.sf_event_id and h.start for h in held)
    org.store.set_state_fields(ALICE, {"deletes_release": user.state.held_id})
    org.sync(ALICE, at=org.now + timedelta(minutes=1))
    assert org.events() == []
    assert org.services.issues.open_for_user(ALICE) == []
    state = org.store.get_user(ALICE).state
    assert state.deletes_release == "" and state.held_deletes == ()  # used once
