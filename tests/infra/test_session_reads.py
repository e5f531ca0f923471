"""Issue 14: a session reads the mappings its observations name, never all of the user's.

The planner says what it needs (core.planner.wanted); the store answers by document id and by
queries on the user's documents (tests/integration/test_sync_store.py runs those on Firestore).
What these tests pin down is that nothing is lost by not reading the rest: the deletion guard
still weighs deletes against every saved SF Event (R-37), a series still finds its instances
(R-17), a Salesforce change still finds its copy (R-22), a pending create is still resolved
(R-29), and a full resync still checks every mapped copy (M4).
"""

from __future__ import annotations

from core.model import MappingQuery
from tests.infra.test_session_state import with_saved
from tests.session_kit import ALICE, JANE, Kit


def no_full_read(kit: Kit) -> None:
    def refuse(email: str) -> list:
        raise AssertionError("a session read all of the user's mappings")

    kit.mappings.for_user = refuse  # type: ignore[method-assign]


def found(kit: Kit) -> set[str]:
    """The mappings the sessions' queries since the last call could have returned."""
    wanted = list(kit.mappings.reads)
    kit.mappings.reads.clear()
    return {m.event_id for m in kit.mappings.docs.values() if any(q.wants(m) for q in wanted)}


def test_issue14_R30_an_edit_reads_the_mapping_of_the_edited_item_alone():
    kit = Kit()
    items = with_saved(kit, 30)
    kit.sync(ALICE)  # the labels' echoes
    no_full_read(kit)
    kit.mappings.reads.clear()
    kit.edit(items[7], title="Renamed")
    kit.sync(ALICE)
    assert found(kit) == {items[7].id}
    assert [e.subject for e in kit.events(ALICE)].count("Renamed") == 1
    kit.sync(ALICE, sweep=True)  # nothing changed: the pending query alone
    assert kit.mappings.reads == [MappingQuery(pending=True)]


def test_issue14_R37_the_guard_counts_every_saved_event_not_those_read():
    """Four unsyncs of ten saved: 8 > 10 is false, so they go, though the session read only
    the four mappings; six are more than half, and are held (CS-009)."""
    kit = Kit()
    items = with_saved(kit, 10)
    no_full_read(kit)
    for item in items[:4]:
        kit.unsync(item)
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 6 and kit.codes(ALICE) == []
    kit.later(days=2)  # the day's deletes are forgotten
    for item in items[4:10]:
        kit.unsync(item)
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 6 and kit.codes(ALICE) == ["CS-009"]


def test_issue14_R17_a_series_edit_reads_its_instances_mappings():
    """A series saved instance by instance (an EXDATE): renaming it updates every instance,
    and shortening it deletes the instances it lost, with only the series' mappings read."""
    kit = Kit()
    kit.store.set_org_settings({"recurring_enabled": True, "internal_domains": ["corp.example"]})
    kit.user(ALICE)
    kit.contact(JANE)
    daily = ("RRULE:FREQ=DAILY;COUNT=6", "EXDATE:20261211T090000Z")
    parent = kit.meeting(ALICE, "Stand-up", recurrence=daily)
    kit.meeting(ALICE, "Another meeting")
    kit.sync(ALICE)

    def instances() -> list[str]:
        return [e.subject for e in kit.events(ALICE) if e.subject != "Another meeting"]

    assert instances() == ["Stand-up"] * 5
    kit.sync(ALICE)
    no_full_read(kit)
    kit.edit(parent, title="Daily stand-up")
    kit.sync(ALICE)
    assert instances() == ["Daily stand-up"] * 5
    kit.edit(parent, recurrence=("RRULE:FREQ=DAILY;COUNT=3", "EXDATE:20261211T090000Z"))
    kit.sync(ALICE)
    assert instances() == ["Daily stand-up"] * 2 and len(kit.events(ALICE)) == 3


def test_issue14_R05_R28_an_item_entering_the_window_is_found_once_a_day():
    """The far edge is the end of the day 60 days ahead (Settings.window): an autosaved meeting
    61 days ahead is left alone today; the first sweep of tomorrow saves it; idle sweeps of the
    same day list only the sync token's changes (one Calendar call each)."""
    kit = Kit()
    kit.user(ALICE, autosave_meetings=True)
    kit.contact(JANE)
    kit.now = kit.now.replace(hour=23, minute=0)
    near = kit.meeting(ALICE, "Near", days=30, tag=False)
    far = kit.meeting(ALICE, "Far", days=61, tag=False)
    kit.sync(ALICE)
    kit.sync(ALICE)
    assert len(kit.events_for(ALICE, near)) == 1 and kit.events_for(ALICE, far) == []
    kit.later(minutes=30)  # 23:30: the same day
    calls = kit.google.calls
    kit.sync(ALICE, sweep=True)
    assert kit.google.calls - calls == 1 and kit.events_for(ALICE, far) == []
    kit.later(minutes=40)  # 00:10, the next day: "Far" is 60 days and 23 hours ahead
    kit.sync(ALICE, sweep=True)
    assert len(kit.events_for(ALICE, far)) == 1


def test_issue14_R28_an_idle_sweep_looks_without_the_lease_and_writes_nothing():
    """Nothing changed: the sweep's look reads the user, one pending query, the open issues
    and one listing, takes no lease and writes nothing; a change the push missed is still
    found by the next sweep (R-28)."""
    kit = Kit()
    items = with_saved(kit, 3)
    kit.sync(ALICE)
    kit.mappings.reads.clear()
    writes, calls = len(kit.faults.log), kit.google.calls
    report = kit.sync(ALICE, sweep=True)
    assert report.quiet and kit.faults.log[writes:] == [] and kit.google.calls - calls == 1
    assert kit.mappings.reads == [MappingQuery(pending=True)]
    kit.edit(items[1], title="Moved without a push")
    report = kit.sync(ALICE, sweep=True)
    assert not report.quiet and [e.subject for e in kit.events(ALICE)].count(
        "Moved without a push") == 1  # fmt: skip


def test_issue14_R28_a_quiet_user_still_gets_a_session_every_six_hours():
    kit = Kit()
    with_saved(kit, 2)
    kit.sync(ALICE)
    kit.later(hours=5)
    assert kit.sync(ALICE, sweep=True).quiet
    kit.later(hours=1, minutes=1)
    last = kit.store.get_user(ALICE).state.last_session_at
    assert not kit.sync(ALICE, sweep=True).quiet
    assert kit.store.get_user(ALICE).state.last_session_at > last
    assert kit.sync(ALICE, sweep=True).quiet


def test_issue14_R28_the_look_reuses_the_org_settings_for_their_ttl_only():
    """A warm instance reads the org settings once per `org_settings_ttl` for its looks (a
    session always reads them afresh)."""
    kit = Kit()
    with_saved(kit, 1)
    kit.sync(ALICE)
    reads = []
    real = kit.store.org_settings
    kit.store.org_settings = lambda: reads.append(1) or real()  # type: ignore[method-assign]
    kit.services.org_settings_ttl = 60.0
    assert kit.sync(ALICE, sweep=True).quiet and kit.sync(ALICE, sweep=True).quiet
    assert len(reads) == 1
    kit.services.org_settings_ttl = 0.0
    assert kit.sync(ALICE, sweep=True).quiet and len(reads) == 2


def test_R21_R30_the_first_session_matches_a_rep_whose_calendar_is_empty():
    """A rep who works in Salesforce alone: their first session stores their SF User id (the
    poll routes their Events by it); later idle sessions make no Salesforce call."""
    kit = Kit()
    kit.user(ALICE)
    assert kit.store.get_user(ALICE).sf_user_id == ""
    calls = kit.sf.calls
    kit.sync(ALICE)
    assert kit.store.get_user(ALICE).sf_user_id == kit.sf_ids[ALICE] and kit.sf.calls > calls
    calls = kit.sf.calls
    kit.sync(ALICE)
    assert kit.sf.calls == calls
