"""The user's state, deletions and settings across sessions: the findings M1, M4, M5 and M6 of the
session audit (/work/shared/audits/2026-12-session-audit.md, at commit 4df574a) on the real
`infra.session.Session` over the in-memory fakes.

Each test's docstring says what the pre-rebuild session did (the audit's "Repro" line).
"""

from __future__ import annotations

import pytest

from core.settings import resolve
from core.users import normalise_email
from infra.channels import open_channel
from tests.session_kit import ALICE, JANE, Kit

URL = "https://functions.example"


def with_saved(kit: Kit, n: int, **org_settings):
    kit.store.set_org_settings(org_settings)
    kit.user(ALICE)
    kit.contact(JANE)
    items = [kit.meeting(ALICE, f"Meeting {i}", days=1 + i / 10) for i in range(n)]
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == n
    return items


def confirm(kit: Kit) -> str:
    """`python main.py deletes confirm EMAIL`: release exactly the held set (functions/cli)."""
    held_id = kit.store.get_user(ALICE).state.held_id
    assert held_id
    kit.store.set_state_fields(ALICE, {"deletes_release": held_id})
    return held_id


def during_session(kit: Kit, action) -> None:
    """Run `action()` while the next session of ALICE runs (after it read the user document)."""
    calendar = kit.google.calendar(ALICE)
    original = calendar.changes
    fired: list[bool] = []

    def changes(*args):
        if not fired:
            fired.append(True)
            action()
        return original(*args)

    calendar.changes = changes  # type: ignore[method-assign]
    kit.services.calendar_for = lambda email: (
        calendar if email == ALICE else kit.google.calendar(email)
    )


# -- M1: state written field by field -----------------------------------------------------


def test_M1_R27_a_channel_renewed_during_a_session_survives_it():
    """Old code: the session wrote its whole `state` from the snapshot read at its start, putting
    the old channel back ("after the session: stored channel = calsync-old | push on the new
    channel accepted: False")."""
    kit = Kit()
    with_saved(kit, 1)
    open_channel(kit.store, kit.google.calendar(ALICE), kit.store.get_user(ALICE), URL)
    old = kit.store.get_user(ALICE).state.channel_id
    renewed = []
    during_session(kit, lambda: renewed.append(open_channel(
        kit.store, kit.google.calendar(ALICE), kit.store.get_user(ALICE), URL)))  # fmt: skip
    kit.meeting(ALICE, "New one")
    kit.sync(ALICE)
    state = kit.store.get_user(ALICE).state
    assert state.channel_id == renewed[0].id != old
    assert state.channel_token == renewed[0].token
    assert state.calendar_sync_token == str(kit.google.last - 1)  # the session's own, written


def test_M1_M5_R37_a_used_confirmation_never_comes_back_from_a_stale_snapshot():
    """Old code: the sweep's channel renewal wrote back the `deletes_confirmed=True` of its
    snapshot after a session had used it, reopening the guard without an admin ("deletes_confirmed
    after use = False; after the sweep's renewal = True")."""
    kit = Kit()
    items = with_saved(kit, 6, max_deletes_per_session=2)
    for item in items[:3]:
        kit.cancel(item)
    kit.sync(ALICE)
    assert kit.codes(ALICE) == ["CS-009"]
    confirm(kit)
    snapshot = kit.store.get_user(ALICE)  # the sweep read its users here
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 3 and kit.store.get_user(ALICE).state.deletes_release == ""
    token = kit.store.get_user(ALICE).state.calendar_sync_token
    open_channel(kit.store, kit.google.calendar(ALICE), snapshot, URL)
    state = kit.store.get_user(ALICE).state
    assert state.deletes_release == "" and state.calendar_sync_token == token
    for item in items[3:]:
        kit.cancel(item)
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 3  # judged again, held again
    assert kit.codes(ALICE) == ["CS-009"]


def test_M1_R37_a_confirmation_given_during_a_session_is_kept_for_the_next():
    """`deletes confirm` while a session runs: that session read no confirmation, so it must not
    clear the one given meanwhile; the next session carries it out."""
    kit = Kit()
    items = with_saved(kit, 6, max_deletes_per_session=2)
    for item in items[:3]:
        kit.cancel(item)
    kit.sync(ALICE)
    during_session(kit, lambda: confirm(kit))
    kit.sync(ALICE, sweep=True)
    assert (
        kit.store.get_user(ALICE).state.deletes_release == kit.store.get_user(ALICE).state.held_id
    )
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 3 and kit.codes(ALICE) == []


# -- M4: deletions in a 410 gap ------------------------------------------------------------


@pytest.mark.parametrize("change", ["time", "location"])
def test_R26_R15_a_change_undone_after_calsync_carried_it_reaches_salesforce(change):
    """Found by the fault run (seed 58): a saved item was moved, the session carried the move to
    Salesforce (an update, no label write), then the rep moved it back. The copy was then exactly
    as calsync's last label write had left it, so its digest took the move back for calsync's
    own echo and dropped it: Salesforce kept the wrong time for good. An echo of a saved copy
    now also needs the synced fields its mapping recorded."""
    kit = Kit()
    [item] = with_saved(kit, 1)
    first = kit.current(item)
    if change == "time":
        kit.move(item, hours=1)
    else:
        kit.edit(item, location="Room 9")
    kit.sync(ALICE)
    [event] = kit.events(ALICE)
    assert (event.start, event.location) != (first.span.start_utc, first.location)
    kit.edit(item, span=first.span, location=first.location)  # undone
    kit.sync(ALICE)
    assert (event.start, event.location) == (first.span.start_utc, first.location)


def test_R29_R15_a_change_undone_after_a_lost_update_answer_reaches_salesforce():
    """Found by the fault run (seed 714): an update carrying a move was applied by Salesforce
    but its answer lost; the mapping kept its old fingerprint (as if nothing was sent); the rep
    moved the item back; the copy then matched that fingerprint and the move back was never
    sent: Salesforce kept the moved time. A lost answer now leaves the field unknown."""
    kit = Kit()
    [item] = with_saved(kit, 1)
    first = kit.current(item)
    kit.move(item, hours=-1)
    kit.faults.lose.append(("sf_update", lambda u: True))
    assert kit.attempt(ALICE) == "retry"
    [event] = kit.events(ALICE)
    assert event.start != first.span.start_utc  # applied, answer lost
    kit.faults.lose.clear()
    kit.edit(item, span=first.span)  # moved back before the retry
    assert kit.attempt(ALICE) == "ok"
    assert event.start == first.span.start_utc and kit.open_issues() == []


def test_R26_R04_a_tag_given_again_after_an_unsync_whose_label_was_lost_saves_the_item():
    """Found by the fault run (seed 758): an unsync deleted the Event and forgot the mapping, and
    the process died before the label write; the user then gave the save colour again, which
    put the copy back exactly as calsync's last label write had left it ("Tracked
    successfully"). Its digest took that for calsync's own echo and the item was never saved
    again, while its label said it was. A copy labelled saved that no mapping knows is no echo."""
    kit = Kit()
    [item] = with_saved(kit, 1)
    kit.unsync(item)
    kit.crash_at(3)  # sf_delete, mappings.delete, then the label write never happens
    assert kit.attempt(ALICE) == "crash"
    kit.lease.leases.clear()
    assert kit.events(ALICE) == [] and kit.mappings.for_user(ALICE) == []
    kit.tag(item)  # before the retry: the copy is as the first save's label left it
    kit.sync(ALICE)
    assert len(kit.events_for(ALICE, item)) == 1 and kit.label_of(item) == "Tracked successfully"
    [mapping] = kit.mappings.for_user(ALICE)
    assert mapping.sf_event_id == kit.events(ALICE)[0].id


def test_M4_R31_an_unsaved_item_cancelled_while_the_token_was_invalid_closes_its_issue():
    """Found by the fault run (seeds 10, 88, 105, 138, 153, 167, 177): a tagged item's create
    was refused (CS-010; no mapping), then it was cancelled while the sync token was invalid.
    The full listing left cancelled events out and `_gap` reads mapped items only, so the
    cancel was never seen and CS-010 stayed open for good. The full listing now shows deleted
    events (showDeleted), and the cancelled copy closes its issue."""
    kit = Kit()
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Refused")
    kit.faults.refuse.append(("sf_create", lambda c: True))
    kit.sync(ALICE)
    assert kit.codes(ALICE) == ["CS-010"] and kit.mappings.for_user(ALICE) == []
    kit.faults.refuse.clear()
    kit.cancel(item)
    kit.google.expired_before = kit.google.last + 1
    assert kit.sync(ALICE).full_sync
    assert kit.open_issues() == [] and kit.events(ALICE) == []


@pytest.mark.parametrize("how", ["cancelled", "gone"])
def test_M4_R18_a_deletion_made_while_the_token_was_invalid_reaches_salesforce(how):
    """Old code: after a 410 the full listing (without showDeleted) left the cancelled item out
    and nothing compared it with the mappings ("item deleted during a 410 gap: SF Events = 2
    (expected 1)")."""
    kit = Kit()
    keep, drop = with_saved(kit, 2)
    if how == "cancelled":
        kit.cancel(drop)
    else:
        del kit.google.items[(drop.calendar_id, drop.id)]  # purged: events.get says 404
    kit.google.expired_before = kit.google.last + 1  # every stored token answers 410
    report = kit.sync(ALICE)
    assert report.full_sync
    assert kit.events_for(ALICE, drop) == [] and len(kit.events_for(ALICE, keep)) == 1
    assert [m.key for m in kit.mappings.for_user(ALICE)] == [keep.key]


def test_M4_R05_a_410_resync_leaves_items_before_the_window_alone():
    """The gap check reads mapped items that may still matter: one that started before the
    window happened; its SF Event stays even though the window listing leaves it out."""
    kit = Kit()
    with_saved(kit, 1)
    kit.later(days=30)  # the item is now well before the window (14 days back)
    kit.google.expired_before = kit.google.last + 1
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 1


# -- M5: the deletion guard -----------------------------------------------------------------


def test_M5_R37_a_confirmation_releases_exactly_the_held_deletes():
    """Old code: `deletes_confirmed` was a bare boolean, so the next session deleted anything
    ("25 deletes held (40 live), admin confirms, 15 more vanish: SF Events left = 0")."""
    kit = Kit()
    items = with_saved(kit, 10, max_deletes_per_session=3)
    for item in items[:5]:
        kit.cancel(item)
    kit.sync(ALICE)
    state = kit.store.get_user(ALICE).state
    assert len(state.held_deletes) == 5 and kit.codes(ALICE) == ["CS-009"]
    confirm(kit)
    for item in items[5:9]:  # more deletes arrive before the released session runs
        kit.cancel(item)
    kit.sync(ALICE)
    assert {e.subject for e in kit.events(ALICE)} == {f"Meeting {i}" for i in range(5, 10)}
    state = kit.store.get_user(ALICE).state
    assert {h.item_key for h in state.held_deletes} == {str(i.key) for i in items[5:9]}
    assert kit.codes(ALICE) == ["CS-009"] and state.deletes_release == ""


def test_M5_R22_R37_a_salesforce_edit_of_an_item_whose_delete_is_held_is_not_dropped():
    """Found by the fault run: while the guard held an unsync, the session cleared the SF Event
    from the user's inbox; when the user saved the item again instead, the edit made in
    Salesforce meanwhile was never merged and the two sides stayed different for good."""
    kit = Kit()
    items = with_saved(kit, 4, max_deletes_per_session=0)
    kit.unsync(items[0])
    kit.sync(ALICE)
    assert kit.codes(ALICE) == ["CS-009"]
    event = kit.events_for(ALICE, items[0])[0]
    kit.later(minutes=1)
    event.subject, event.modified = "Renamed in Salesforce", kit.now
    kit.store.add_sf_changes(ALICE, [event.id])
    kit.sync(ALICE)
    kit.tag(items[0])  # the user changes their mind: saved after all
    kit.sync(ALICE)
    assert kit.current(items[0]).title == "Renamed in Salesforce" == event.subject
    assert kit.codes(ALICE) == [] and kit.store.get_user(ALICE).state.sf_changed == ()


def test_M5_R37_held_deletes_stay_held_across_sessions_until_confirmed():
    """Found by this suite: a session whose plan held every change (the CS-009 issue already
    open) was taken for an empty plan (`report.plan or Plan()`): it cleared the held set and saved
    the sync token, so the cancels were never read again, the Events stayed, and `deletes
    confirm` said nothing was held."""
    kit = Kit()
    items = with_saved(kit, 10, max_deletes_per_session=3)
    for item in items[:5]:
        kit.cancel(item)
    kit.sync(ALICE)
    held = kit.store.get_user(ALICE).state
    for _ in range(2):
        kit.later(minutes=10)
        kit.sync(ALICE, sweep=True)
        kit.sync(ALICE)
    state = kit.store.get_user(ALICE).state
    assert (state.held_id, state.held_deletes) == (held.held_id, held.held_deletes)
    assert state.calendar_sync_token == held.calendar_sync_token  # the cancels come again
    assert len(kit.events(ALICE)) == 10 and kit.codes(ALICE) == ["CS-009"]
    confirm(kit)
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 5 and kit.codes(ALICE) == []


def test_M5_R37_a_wipe_spread_over_many_small_sessions_is_held():
    """Old code: the guard counted one session, and sessions are coalesced per second ("40
    deletes over 20 sessions: SF Events left = 0, CS-009 opened = 0"). Now the deletes of the
    last 24 hours count too."""
    kit = Kit()
    items = with_saved(kit, 40)
    for n in range(20):
        for item in items[2 * n : 2 * n + 2]:
            kit.cancel(item)
        kit.later(minutes=5)
        kit.sync(ALICE)
    assert len(kit.events(ALICE)) >= 20
    assert "CS-009" in kit.codes(ALICE)
    kit.later(hours=25)  # a day later the same pace is judged afresh, but the held ones wait
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) >= 20


def test_M5_R37_a_day_of_ordinary_deletes_stays_under_the_rolling_guard():
    kit = Kit()
    items = with_saved(kit, 40)
    for item in items[:6]:
        kit.cancel(item)
        kit.later(hours=2)
        kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 34 and kit.codes(ALICE) == []


# -- M6: settings keep their last valid value ------------------------------------------------


def test_M6_R37_an_org_typo_keeps_the_last_valid_value_not_the_default():
    """Old code: `resolve` started from the defaults every time, so `max_deletes_per_session: 5`
    then `"5"` gave 20 and loosened the guard ("after the typo ... max_deletes=20"). Found by
    this suite on the rebuilt code: nothing ever recorded the org's last valid settings, so
    the org's typo still fell back to the default."""
    kit = Kit()
    kit.store.set_org_settings({"max_deletes_per_session": 5})
    items = with_saved(kit, 30)
    kit.store.set_org_settings({"max_deletes_per_session": "5"})
    for item in items[:6]:
        kit.cancel(item)
    kit.sync(ALICE)
    assert len(kit.events(ALICE)) == 30  # 6 > 5: held, as the last valid value says
    assert kit.codes(ALICE) == ["CS-009"]


def test_M6_R01_R04_a_typo_in_save_color_keeps_the_last_valid_colour():
    """Old code: `save_color: "5"` then `"blue"` fell back to the default "9", so every item a
    user had coloured Blueberry for their own reasons became a manual save, private ones too."""
    kit = Kit()
    kit.store.set_org_settings({"save_color": "5"})
    kit.user(ALICE)
    kit.contact(JANE)
    kit.sync(ALICE)  # a session that read clean settings remembers them
    kit.store.set_org_settings({"save_color": "blue"})
    own = kit.meeting(ALICE, "Personal, coloured Blueberry", tag=False, color_id="9")
    wanted = kit.meeting(ALICE, "Saved with colour 5", tag=False, color_id="5")
    kit.sync(ALICE)
    assert kit.events_for(ALICE, own) == [] and len(kit.events_for(ALICE, wanted)) == 1
    # (the org's CS-018 is the sweep's to open: tests/integration/test_audit_documents.py)


def test_M6_R31_a_users_own_bad_setting_is_reported_to_the_admin_and_keeps_its_last_value():
    kit = Kit()
    kit.user(ALICE, autosave_meetings=True)
    kit.contact(JANE)
    kit.sync(ALICE)
    kit.store.set_user_settings(ALICE, {"autosave_meetings": "yes"})
    auto = kit.meeting(ALICE, "Autosaved", tag=False)
    kit.sync(ALICE)
    assert len(kit.events_for(ALICE, auto)) == 1  # the last valid value: on
    [issue] = kit.open_issues(ALICE)
    assert issue.code == "CS-018" and "autosave_meetings" in issue.message
    kit.store.set_user_settings(ALICE, {"autosave_meetings": True})
    kit.sync(ALICE)
    assert kit.codes(ALICE) == []


def test_M6_an_integral_double_is_a_whole_number():
    """Firestore's console stores 30 as the double 30.0; it was refused and the default used."""
    settings, problems = resolve({"window_future_days": 30.0, "max_deletes_per_session": 5.0})
    assert problems == [] and settings.window_future_days == 30
    assert settings.max_deletes_per_session == 5
    _, problems = resolve({"window_future_days": 30.5})
    assert [p.name for p in problems] == ["window_future_days"]


def test_M6_a_broken_user_document_is_left_out_of_the_sweep_not_raised():
    """On the fake: an unreadable document is reported, the others listed (the Firestore
    parsing itself is tested on the emulator, tests/integration/test_audit_documents.py)."""
    kit = Kit()
    kit.user(ALICE)
    kit.store.broken[normalise_email("bob@corp.example")] = "settings is not a map"
    problems: list = []
    assert [u.email for u in kit.store.list_users(problems)] == [ALICE]
    assert [p.doc_id for p in problems] == ["bob@corp.example"]
