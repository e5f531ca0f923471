"""Exactly once (R-29, R-39): the findings H1, M2, M3 and M8 of the session audit
(/work/shared/audits/2026-12-session-audit.md, at commit 4df574a), each on the real
`infra.session.Session` over the in-memory fakes, with crashes between writes.

Each test's docstring says what the pre-rebuild session did (the audit's "Repro" line); the
assertion is the one that catches exactly that.
"""

from __future__ import annotations

import pytest

from core.actions import MappingPut, Plan, PlanError, SfCreate, Unit
from core.settings import SettingError, validate
from infra import session as session_module
from tests.fakes import Crash
from tests.session_kit import ALICE, BOB, GROUP, JANE, Kit

KEY_MODES = [pytest.param(True, id="with Calsync_Key__c"),
             pytest.param(False, id="without the field")]  # fmt: skip


def saved_once(kit: Kit, owner: str, item) -> None:
    """One live SF Event of `owner` for `item`, one settled mapping pointing at it."""
    [event] = kit.events_for(owner, item)
    [mapping] = [m for m in kit.mappings.for_user(owner) if m.key == item.key]
    assert mapping.sf_event_id == event.id and not mapping.pending_create
    assert kit.duplicates() == {}


# -- H1a: one meeting twice in one plan ----------------------------------------------------


@pytest.mark.parametrize("keyed", KEY_MODES)
def test_H1a_R19_R29_same_meeting_on_primary_and_group_calendar_makes_one_event(keyed):
    """Old code: `_observe` concatenated both calendars and `plan()` planned each copy: two
    SfCreate with one sync key ("SF Events = 2, mappings = 1" without the field)."""
    kit = Kit(keyed=keyed)
    kit.user(ALICE, group_calendars=[GROUP])
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Pipeline review")
    copy = kit.copy_on(item, GROUP)
    report = kit.sync(ALICE)
    assert report.plan is not None and len(report.plan.of(SfCreate)) == 1
    saved_once(kit, ALICE, item)
    assert len(kit.events(ALICE)) == 1
    # Both copies say the meeting is saved, with the one sync key.
    assert kit.label_of(item) == kit.label_of(copy) == "Tracked successfully"
    assert kit.props(item)["calsync_key"] == kit.props(copy)["calsync_key"]
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 1


def test_H1a_R23_an_event_deleted_in_salesforce_is_planned_once_for_both_copies():
    """Found by the fault run (seed 170): the Event of a meeting on the primary and a group
    calendar was deleted in Salesforce while the meeting changed in Google. The deletion was
    planned for the mapping's copy and the item again through its other copy, whose update
    re-wrote the mapping after the deletion forgot it: the mapping pointed at a deleted Event,
    every later update was refused (ENTITY_IS_DELETED, CS-010) and nothing settled."""
    kit = Kit()
    kit.user(ALICE, group_calendars=[GROUP])
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Pipeline review")
    copy = kit.copy_on(item, GROUP)
    kit.sync(ALICE)
    [event] = kit.events(ALICE)
    kit.later(seconds=5)
    event.deleted, event.modified = True, kit.now
    kit.store.add_sf_changes(ALICE, [event.id])
    kit.edit(item, title="Pipeline review (moved)")
    kit.edit(copy, title="Pipeline review (moved)")
    kit.sync(ALICE)
    assert kit.mappings.for_user(ALICE) == [] and kit.open_issues() == []
    assert kit.events(ALICE) == []  # not created again
    kit.sync(ALICE)
    assert kit.events(ALICE) == [] and kit.open_issues() == []


@pytest.mark.parametrize("keyed", KEY_MODES)
def test_H1a_R19_meeting_tagged_only_on_the_group_calendar_copy_saves_once(keyed):
    """The tag on the group calendar's copy is the user's wish for the meeting: one Event."""
    kit = Kit(keyed=keyed)
    kit.user(ALICE, group_calendars=[GROUP])
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Pipeline review", tag=False)
    kit.copy_on(kit.tag(item), GROUP)
    kit.edit(item, color_id=None)
    kit.sync(ALICE)
    saved_once(kit, ALICE, item)


def test_H1a_R19_group_calendars_naming_the_primary_are_refused_or_read_once():
    """Old code: `group_calendars: ["primary"]` (or the user's own address) was accepted and the
    primary calendar read twice, each copy planned as a create. Now "primary" is refused when
    set, and an own address that is stored anyway is not read a second time."""
    with pytest.raises(SettingError, match="group_calendars"):
        validate("group_calendars", ["primary"], for_user=True)
    kit = Kit(keyed=False)
    kit.user(ALICE, group_calendars=[ALICE.upper()])
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Once")
    read: list[str] = []
    calendar = kit.google.calendar(ALICE)
    original = calendar.changes

    def changes(calendar_id, *args):
        read.append(calendar_id)
        return original(calendar_id, *args)

    calendar.changes = changes  # type: ignore[method-assign]
    kit.services.calendar_for = lambda email: calendar
    kit.sync(ALICE)
    assert read.count(ALICE) == 1 and len(read) == 1
    saved_once(kit, ALICE, item)


def test_H1a_R29_a_plan_refuses_two_creates_with_one_key():
    """The invariant behind H1a, checked by the plan itself: never carried out."""
    kit = Kit()
    kit.user(ALICE)
    kit.contact(JANE)
    kit.meeting(ALICE, "x")
    report = kit.sync(ALICE, dry_run=True)
    assert report.plan is not None
    [unit] = [u for u in report.plan.units if any(isinstance(w, SfCreate) for w in u.writes)]
    twin = Unit(unit.key + "-twin", unit.item, unit.decision, unit.writes,
                tuple(m for m in unit.mappings if isinstance(m, MappingPut)))  # fmt: skip
    with pytest.raises(PlanError, match="two creates"):
        Plan((unit, twin))


# -- H1b, M3: a crash after the Salesforce create -----------------------------------------

# The writes of a first save, in order: the intent (a pending mapping), the Salesforce create,
# the mapping, the label, the state. Crashing before write 3 is "after the SF create, before
# the mapping write": the window of H1b and M3.
AFTER_CREATE = 3


def first_save_crashes(kit: Kit, title: str = "Acme call"):
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, title)
    kit.crash_at(AFTER_CREATE)
    with pytest.raises(Crash):
        kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 1  # Salesforce has it; the mapping does not
    [intent] = kit.mappings.for_user(ALICE)
    assert intent.pending_create and not intent.sf_event_id
    kit.lease.leases.clear()  # the dead process's lease has expired
    return item


@pytest.mark.parametrize("keyed", KEY_MODES)
@pytest.mark.parametrize("change", ["title", "time"])
def test_H1b_R39_crash_after_create_then_an_edit_before_the_retry_makes_one_event(keyed, change):
    """Old code, without the field: the retry looked the Event up by owner, start and subject as
    the item says *now*; after a title edit or a move it missed and created a second Event
    ("crash after SF create, title edited before retry: SF Events = 2")."""
    kit = Kit(keyed=keyed)
    item = first_save_crashes(kit)
    if change == "title":
        kit.edit(item, title="Acme call (moved to Tuesday)")
    else:
        kit.move(item, hours=26)
    kit.later(seconds=10)  # Cloud Tasks' retry, after the edit
    assert kit.attempt(ALICE) == "ok"
    saved_once(kit, ALICE, item)
    [event] = kit.events(ALICE)
    now = kit.current(item)
    assert event.subject == now.title and event.start == now.span.start_utc


@pytest.mark.parametrize("down_between", [False, True], ids=["lost twice", "lost, down, lost"])
def test_H1b_R39_retries_whose_answers_are_lost_while_the_item_moves_make_one_event(down_between):
    """Found by the fault run (seed 81, no key field): a create's answer is lost; the item moves,
    the retry finds the Event and moves it there, and that answer is lost too; the item moves
    again: the next retry looked at the intent's start and the start now only, missed the Event
    where the first retry had put it, and made a second one. The intent now records every start
    a retry moved its Event to (Mapping.tried_starts), before the retry is sent. A retry that
    never reached Salesforce (a 503 before anything was applied) must not hide the Event either."""
    kit = Kit(keyed=False)
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Acme call")
    kit.faults.lose.append(("sf_create", lambda c: True))
    assert kit.attempt(ALICE) == "retry"
    kit.move(item, hours=24)
    if down_between:
        kit.faults.lose.clear()
        kit.faults.down.append(("sf_create", lambda c: True))
        assert kit.attempt(ALICE) == "retry"
        kit.faults.down.clear()
        kit.faults.lose.append(("sf_create", lambda c: True))
        kit.move(item, hours=2)
    assert kit.attempt(ALICE) == "retry"
    assert len(kit.events(ALICE)) == 1
    kit.move(item, hours=24)
    kit.faults.lose.clear()
    assert kit.attempt(ALICE) == "ok"
    saved_once(kit, ALICE, item)
    [event] = kit.events(ALICE)
    assert event.start == kit.current(item).span.start_utc


@pytest.mark.parametrize("keyed", KEY_MODES)
def test_H1b_R29_a_crash_at_any_write_of_a_busy_session_never_duplicates(keyed):
    """The crash window of H1b also covered the updates and deletes sent after the creates; a
    session with a create, an update and a delete is crashed before each of its writes in turn,
    then retried until it settles: one Event per item, every time."""
    for n in range(1, 12):
        kit = Kit(keyed=keyed)
        kit.user(ALICE)
        kit.contact(JANE)
        moved = kit.meeting(ALICE, "Moved")
        gone = kit.meeting(ALICE, "Gone")
        kit.sync(ALICE)
        kit.move(moved, hours=1)
        kit.cancel(gone)
        new = kit.meeting(ALICE, "New")
        kit.crash_at(n)
        outcome = kit.attempt(ALICE)
        kit.edit(new, title="New (renamed before the retry)")
        kit.quiesce(ALICE)
        assert kit.duplicates() == {}, (n, outcome)
        assert [e.subject for e in kit.events_for(ALICE, new)] == ["New (renamed before the retry)"]
        assert kit.events_for(ALICE, gone) == []
        assert kit.events_for(ALICE, moved)[0].start == kit.current(moved).span.start_utc
        assert kit.dangling() == [] and kit.open_issues() == []


@pytest.mark.parametrize("keyed", KEY_MODES)
@pytest.mark.parametrize("change", ["cancel", "unsync"])
def test_M3_R18_crash_after_create_then_cancel_or_unsync_leaves_no_event(keyed, change):
    """Old code: with no mapping, a cancelled item was SKIP and an unsync found nothing to
    delete, so the Event made before the crash stayed for good ("item deleted before retry
    (with Calsync_Key__c): SF Events = 1 (expected 0)"). Now the intent is deleted by its key."""
    kit = Kit(keyed=keyed)
    item = first_save_crashes(kit)
    if change == "cancel":
        kit.cancel(item)
    else:
        kit.unsync(item)
    assert kit.attempt(ALICE) == "ok"
    assert kit.events(ALICE) == []
    assert kit.mappings.for_user(ALICE) == []
    assert kit.open_issues() == []
    if change == "unsync":
        assert kit.props(item).get("calsync_unsynced") == "1"


@pytest.mark.parametrize("keyed", KEY_MODES)
def test_M3_R29_an_intent_is_settled_even_when_the_item_does_not_change_again(keyed):
    """A create whose answer was lost leaves an intent; the next session resolves it by its key
    although the item is not in the changes any more (its sync token moved on)."""
    kit = Kit(keyed=keyed)
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Lost answer")
    kit.faults.lose.append(("sf_create", lambda c: True))
    assert kit.attempt(ALICE) == "retry"
    assert kit.codes(ALICE) == ["CS-011"]
    kit.faults.lose.clear()
    assert kit.attempt(ALICE) == "ok"
    saved_once(kit, ALICE, item)
    assert kit.open_issues() == []


# -- M8: hand-made Events ----------------------------------------------------------------


@pytest.mark.parametrize("change", ["unsync", "cancel"])
def test_M8_R39_R14_a_hand_made_event_is_never_adopted_nor_deleted(change):
    """Old code, without the field: `find_events` matched any Event of the owner with the same
    start and subject, adopted it and deleted it on unsync ("hand-made SF Event adopted and
    then deleted by the unsync colour: True"), notes typed in Salesforce with it."""
    kit = Kit(keyed=False)
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Acme call")
    typed = kit.hand_made(ALICE, item, description="notes typed in Salesforce")
    kit.crash_at(AFTER_CREATE)  # a retry is the path that looks Events up
    with pytest.raises(Crash):
        kit.sync(ALICE)
    kit.lease.leases.clear()
    kit.sync(ALICE)
    [mapping] = kit.mappings.for_user(ALICE)
    assert mapping.sf_event_id != typed.id
    kit.unsync(item) if change == "unsync" else kit.cancel(item)
    kit.sync(ALICE)
    assert [e.id for e in kit.events(ALICE)] == [typed.id]
    assert typed.description == "notes typed in Salesforce"


# -- M2, H1c: a session that outlived its lease ---------------------------------------------


def stall_in(kit: Kit, method: str, during) -> None:
    """Run `during()` (another session) when the Salesforce fake's `method` is called the first
    time: the session calling it has stalled there past its lease."""
    original = getattr(kit.sf, method)
    fired: list[bool] = []

    def stalled(*args, **kw):
        if not fired:
            fired.append(True)
            if method == "create_events":  # the write reaches Salesforce, then the stall
                result = original(*args, **kw)
                during()
                return result
            during()
        return original(*args, **kw)

    setattr(kit.sf, method, stalled)


@pytest.mark.parametrize("keyed", KEY_MODES)
@pytest.mark.parametrize("where", ["search_people", "create_events"])
def test_M2_H1c_R29_a_session_past_its_lease_writes_nothing_more(keyed, where):
    """Old code: no fencing and no renewal; a session that overran kept writing after the retried
    task took the expired lease: two Events without the field, and its last state write put the
    older sync token back ("tok-3 after B saved tok-4"). Now its writes are refused by the fence
    and it stops; the newer session's token stays."""
    kit = Kit(keyed=keyed)
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Overlap")
    results: list[str] = []
    added = []

    def second_session():
        kit.later(minutes=session_module.LEASE_TTL.total_seconds() / 60 + 1)
        added.append(kit.meeting(ALICE, "Added meanwhile"))  # B's token is newer than A's
        results.append(kit.attempt(ALICE))
        results.append(kit.store.get_user(ALICE).state.calendar_sync_token)

    stall_in(kit, where, second_session)
    stale = kit.sync(ALICE)
    assert results[0] == "ok" and results[1]
    assert stale.superseded
    saved_once(kit, ALICE, item)
    saved_once(kit, ALICE, added[0])
    assert kit.store.get_user(ALICE).state.calendar_sync_token == results[1]
    assert kit.store.get_user(ALICE).state.last_session_result == "ok"
    kit.sync(ALICE)
    saved_once(kit, ALICE, item)


def test_M2_R29_a_long_session_renews_its_lease_and_keeps_others_out(monkeypatch):
    """Old code: one lease of 10 minutes, never renewed. Now a session renews while it writes:
    its Salesforce rounds take longer than the lease's time to live, and a second session
    started meanwhile is refused (it would run beside it) until the first is done."""
    kit = Kit()
    kit.user(ALICE)
    kit.contact(JANE)
    saved = [kit.meeting(ALICE, f"Item {n}") for n in range(3)]
    kit.sync(ALICE)
    for item in saved:
        kit.move(item, hours=1)
    kit.cancel(saved[0])
    new = kit.meeting(ALICE, "New")
    clock = [0.0]
    monkeypatch.setattr(session_module.time, "monotonic", lambda: clock[0])
    refused = []
    original = kit.sf.update_events

    def slow_update(updates):
        # 90 s of Salesforce (the lease lives 120 s): the session must renew between rounds.
        clock[0] += 90
        kit.later(seconds=90)
        refused.append(kit.lease.acquire(ALICE, "other", session_module.LEASE_TTL) is None)
        return original(updates)

    def slow_create(creates, original=kit.sf.create_events):
        clock[0] += 90
        kit.later(seconds=90)
        refused.append(kit.lease.acquire(ALICE, "other", session_module.LEASE_TTL) is None)
        return original(creates)

    kit.sf.update_events = slow_update  # type: ignore[method-assign]
    kit.sf.create_events = slow_create  # type: ignore[method-assign]
    report = kit.sync(ALICE)
    assert not report.superseded and refused and all(refused)
    assert len(kit.events_for(ALICE, new)) == 1 and kit.duplicates() == {}


def test_M2_L9_R29_the_lease_is_shorter_than_the_function_and_renewed_within_a_call():
    """Old code: TTL = function timeout = Cloud Tasks' deadline (10 minutes), so a timed-out
    request kept running beside its retry. Now the lease lives shorter than the session's budget
    and is renewed more often than one Salesforce call can last; no phase starts after the
    budget, which ends before the function's timeout (terraform/functions.tf)."""
    import re
    from pathlib import Path

    from infra.credentials import SF_TIMEOUT

    ttl = session_module.LEASE_TTL.total_seconds()
    assert session_module.RENEW_EVERY + SF_TIMEOUT < ttl < session_module.BUDGET
    tf = (Path(__file__).parents[2] / "terraform" / "functions.tf").read_text()
    timeout = int(re.search(r"sync_user\s*=\s*\{[^}]*timeout_seconds\s*=\s*(\d+)", tf).group(1))
    assert timeout > session_module.BUDGET + SF_TIMEOUT


def test_H1_R12_R29_two_owners_of_one_external_meeting_get_one_event_each():
    """R-12: one SF Event per internal owner; never two for the same owner."""
    kit = Kit(keyed=False)
    kit.user(ALICE)
    kit.user(BOB)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Vendor pitch", with_=(JANE, BOB), organizer=JANE)
    kit.invite(item, BOB)
    for _ in range(2):
        kit.sync(ALICE)
        kit.sync(BOB)
    assert len(kit.events(ALICE)) == 1 and len(kit.events(BOB)) == 1
    assert kit.duplicates() == {}
