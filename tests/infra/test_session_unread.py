"""Issue 10 on the real session over the fakes: a change made in Salesforce to a saved item whose
copy's etag calsync knows is written without reading the copy, each write conditional on that
etag (If-Match). A copy changed in Google since is refused by Google (412) and nothing of its
unit is recorded: the session then lists the calendar's changes, reads the copy and plans it
again, merging both sides' changes (R-22, R-23, R-26)."""

from __future__ import annotations

from dataclasses import replace

from core import fields
from core.actions import HistoryNote
from core.labels import P_KEY, P_UNSYNCED
from tests.session_kit import ALICE, GROUP, JANE, Kit


def known(kit: Kit, groups: tuple[str, ...] = (), **settings):
    """A saved meeting whose mapping knows its copy's etag: an SF edit was carried down once
    (that patch's answer gave the etag; the label write of the first save does not)."""
    if settings:
        kit.store.set_org_settings(settings)
    kit.user(ALICE, group_calendars=list(groups)) if groups else kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Quarterly review")
    kit.sync(ALICE)
    kit.sync(ALICE)  # the label's echo
    [event] = kit.events_for(ALICE, item)
    sf_edit(kit, event, location="Room 1")
    kit.sync(ALICE)  # read first: the mapping has no etag yet
    [m] = kit.mappings.for_user(ALICE)
    assert m.etag == kit.current(item).etag and kit.current(item).location == "Room 1"
    kit.sync(ALICE)  # the patch's push: its own write, known by the etag
    notes: list[HistoryNote] = []
    kit.services.history = lambda got, user, now: notes.extend(got)
    return item, event, notes


def sf_edit(kit: Kit, event, **values) -> None:
    """A rep edits the Event in Salesforce; the poll or the Flow puts it in the inbox."""
    kit.later(seconds=5)
    for name, value in values.items():
        setattr(event, name, value)
    event.modified = kit.now
    kit.store.add_sf_changes(ALICE, [event.id])


def sf_delete(kit: Kit, event) -> None:
    kit.later(seconds=5)
    event.deleted, event.modified = True, kit.now
    kit.store.add_sf_changes(ALICE, [event.id])


def test_R22_an_sf_edit_is_written_unread_and_its_push_is_an_echo():
    kit = Kit()
    item, event, _ = known(kit)
    sf_edit(kit, event, subject="Renamed in Salesforce")
    reads = kit.google.calls
    report = kit.sync(ALICE)
    assert kit.google.calls == reads  # neither listed nor read: the etag vouches for the copy
    assert not report.listed and report.failed == []
    assert kit.current(item).title == "Renamed in Salesforce"
    [m] = kit.mappings.for_user(ALICE)
    assert m.etag == kit.current(item).etag  # the patch's answer
    assert kit.store.get_user(ALICE).state.sf_changed == ()
    calls = kit.sf.calls
    echo = kit.sync(ALICE)  # the push of calsync's own patch
    assert echo.items_seen == 0 and kit.sf.calls == calls


def test_R22_R26_a_copy_changed_in_google_meanwhile_is_read_and_both_changes_kept():
    kit = Kit()
    item, event, notes = known(kit)
    kit.later(seconds=5)
    kit.edit(item, location="Room 7")  # in Google, not listed yet
    sf_edit(kit, event, subject="Renamed in Salesforce")
    report = kit.sync(ALICE)
    assert report.listed and report.failed == [] and kit.open_issues() == []
    copy = kit.current(item)
    assert (copy.title, copy.location) == ("Renamed in Salesforce", "Room 7")
    assert (event.subject, event.location) == ("Renamed in Salesforce", "Room 7")
    assert notes == []  # different fields: no conflict
    assert kit.store.get_user(ALICE).state.sf_changed == ()
    assert kit.sync(ALICE).plan.units == ()  # converged, no echo


def test_R26_the_same_field_changed_on_both_sides_the_later_wins_through_the_refusal():
    kit = Kit()
    item, event, notes = known(kit)
    kit.later(seconds=5)
    kit.edit(item, title="Renamed in Google")  # t1
    sf_edit(kit, event, subject="Renamed in Salesforce")  # t2 > t1: the most recent
    kit.sync(ALICE)
    assert kit.current(item).title == "Renamed in Salesforce" == event.subject
    assert [(n.conflict.field, n.conflict.winner, n.conflict.loser_value) for n in notes] == [
        (fields.SUBJECT, "salesforce", "Renamed in Google")
    ]


def test_R22_an_etag_gone_stale_without_a_write_is_read_again():
    """The copy changed in a way calsync does not carry (its mapping is not rewritten), and a
    session listed it: the mapping's etag is old, the listing has nothing, the copy is read."""
    kit = Kit()
    item, event, _ = known(kit)
    kit.later(seconds=5)
    kit.edit(item, description="Notes the rep typed")  # not synced (Safe Description, R-14)
    kit.sync(ALICE)
    [m] = kit.mappings.for_user(ALICE)
    assert m.etag and m.etag != kit.current(item).etag  # stale, and nothing to list any more
    sf_edit(kit, event, subject="Renamed in Salesforce")
    report = kit.sync(ALICE)
    assert report.listed  # refused (412), then read
    assert report.failed == [] and kit.current(item).title == "Renamed in Salesforce"
    [m] = kit.mappings.for_user(ALICE)
    assert m.etag == kit.current(item).etag


def test_R23_an_sf_delete_unlabels_the_copy_unread():
    kit = Kit()
    item, event, _ = known(kit)
    sf_delete(kit, event)
    reads = kit.google.calls
    report = kit.sync(ALICE)
    assert kit.google.calls == reads and not report.listed
    props = kit.props(item)
    assert P_KEY not in props and props[P_UNSYNCED] == "1"
    assert kit.current(item).color_id is None  # the user's own colour (none) back
    assert kit.mappings.for_user(ALICE) == [] and kit.open_issues() == []


def test_R23_an_sf_delete_of_a_copy_changed_meanwhile_is_read_and_unlabelled():
    kit = Kit()
    item, event, _ = known(kit)
    kit.later(seconds=5)
    kit.edit(item, title="Renamed in Google")
    sf_delete(kit, event)
    report = kit.sync(ALICE)
    assert report.listed and report.failed == []
    copy = kit.current(item)
    assert copy.title == "Renamed in Google" and P_KEY not in copy.props
    assert kit.mappings.for_user(ALICE) == [] and kit.events(ALICE) == []


def test_R23_delete_from_calendar_deletes_the_copy_only_if_unchanged():
    kit = Kit()
    item, event, _ = known(kit, delete_from_calendar=True)
    sf_delete(kit, event)
    kit.sync(ALICE)
    assert kit.current(item).status.value == "cancelled"
    assert kit.mappings.for_user(ALICE) == []


def test_R22_R26_with_group_calendars_the_changes_are_listed_first():
    """Another copy of the meeting may sit on a group calendar, changed there: it must be merged
    with Salesforce's change in the same plan, not read after the write as a newer change."""
    kit = Kit()
    item, event, _ = known(kit, groups=(GROUP,))
    sf_edit(kit, event, subject="Renamed in Salesforce")
    report = kit.sync(ALICE)
    assert report.listed and kit.current(item).title == "Renamed in Salesforce"


def test_R22_an_sf_change_kept_for_an_unreadable_calendar_stays_through_a_refusal():
    """The second pass after a 412 must not drop from the inbox a change kept because its copy's
    calendar cannot be read now (a group calendar left out of the user's settings)."""
    kit = Kit()
    item, event, _ = known(kit)
    other = kit.meeting(ALICE, "On the team calendar")
    kit.sync(ALICE)
    [away] = kit.events_for(ALICE, other)
    m = next(m for m in kit.mappings.for_user(ALICE) if m.sf_event_id == away.id)
    kit.mappings.put([replace(m, calendar_id=GROUP)])  # its copy's calendar: not synced now
    kit.later(seconds=5)
    kit.edit(item, location="Room 7")  # makes the unread patch below refused (412)
    sf_edit(kit, event, subject="Renamed in Salesforce")
    sf_edit(kit, away, subject="Renamed too")
    report = kit.sync(ALICE)
    assert report.listed and kit.current(item).title == "Renamed in Salesforce"
    assert kit.store.get_user(ALICE).state.sf_changed == (away.id,)


def test_R15_R26_a_failed_upload_leaves_no_etag_so_its_retry_carries_the_change():
    """A Google edit whose Salesforce update fails (503) keeps its mapping's old fingerprints,
    so the retry sends it again; that mapping does not describe the copy, and must not make the
    copy's listing look like calsync's own write."""
    kit = Kit()
    item, event, _ = known(kit)
    kit.faults.down.append(("sf_update", lambda _: True))
    kit.later(seconds=5)
    kit.edit(item, title="Renamed in Google")
    assert kit.attempt(ALICE) == "retry"
    assert event.subject == "Quarterly review"
    [m] = kit.mappings.for_user(ALICE)
    assert m.etag == ""
    kit.faults.down.clear()
    kit.sync(ALICE)  # the task's retry lists the same changes (its token did not move)
    assert event.subject == "Renamed in Google"


def test_R37_held_deletes_stay_held_while_a_salesforce_change_is_carried():
    """A user whose deletes are held (R-37) is never planned without the listing: the plan that
    holds them again needs it, or the stored set and CS-009 would go until the next session."""
    kit = Kit()
    kit.store.set_org_settings({"max_deletes_per_session": 2})
    item, event, _ = known(kit)
    others = [kit.meeting(ALICE, f"Meeting {i}", days=1 + i / 10) for i in range(4)]
    kit.sync(ALICE)
    for other in others[:3]:
        kit.cancel(other)
    kit.sync(ALICE)
    held = kit.store.get_user(ALICE).state.held_deletes
    assert len(held) == 3 and kit.codes(ALICE) == ["CS-009"]
    sf_edit(kit, event, subject="Renamed in Salesforce")
    report = kit.sync(ALICE)
    assert report.listed and kit.current(item).title == "Renamed in Salesforce"
    state = kit.store.get_user(ALICE).state
    assert state.held_deletes == held and kit.codes(ALICE) == ["CS-009"]
    assert report.plan.deletes_held == 3  # once each, not twice


def test_R22_R37_a_refusal_in_a_listed_session_does_not_plan_its_listing_twice():
    """A session that listed (held deletes keep the token, so it lists the same changes again)
    meets a stale etag: its second pass reads that copy only, and holds each delete once."""
    kit = Kit()
    kit.store.set_org_settings({"max_deletes_per_session": 2})
    item, event, _ = known(kit)
    kit.later(seconds=5)
    kit.edit(item, description="Notes the rep typed")  # the etag goes stale, nothing to write
    others = [kit.meeting(ALICE, f"Meeting {i}", days=1 + i / 10) for i in range(4)]
    kit.sync(ALICE)
    for other in others[:3]:
        kit.cancel(other)
    kit.sync(ALICE)
    sf_edit(kit, event, subject="Renamed in Salesforce")
    reads = kit.google.calls
    report = kit.sync(ALICE)
    assert report.listed and kit.current(item).title == "Renamed in Salesforce"
    assert kit.google.calls - reads == 2  # one listing, one read of the refused copy
    assert report.plan.deletes_held == 3
    assert len(kit.store.get_user(ALICE).state.held_deletes) == 3


def test_R23_delete_from_calendar_leaves_a_copy_changed_meanwhile_and_reads_it():
    kit = Kit()
    item, event, _ = known(kit, delete_from_calendar=True)
    kit.later(seconds=5)
    kit.edit(item, title="Renamed in Google")
    sf_delete(kit, event)
    report = kit.sync(ALICE)
    assert report.listed and report.failed == []
    assert kit.mappings.for_user(ALICE) == [] and kit.events(ALICE) == []
    assert kit.store.get_user(ALICE).state.sf_changed == ()


def test_R21_R28_changes_left_for_a_push_are_listed_when_every_write_was_refused():
    """A session leaves the calendar's changes to the push of its own writes; when Google
    refused them all (nothing changed, so no push comes), it lists the changes itself: a tag the
    rep gave meanwhile is saved now, not at the next sweep."""
    kit = Kit()
    item, event, _ = known(kit)
    kit.later(seconds=5)
    other = kit.meeting(ALICE, "Tagged meanwhile")  # its push joined this session
    kit.faults.refuse.append(("label", lambda p: p.event_id == item.id))
    sf_delete(kit, event)
    report = kit.sync(ALICE)
    assert report.listed and len(kit.events_for(ALICE, other)) == 1
    assert [i.code for i in kit.open_issues()] == ["CS-014"]  # Google refused the unlabel
