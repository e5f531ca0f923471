"""R-26 on the real session over the fakes: an edit made in Salesforce that the inbox has not
brought yet (the poll runs once a minute, the Flow's callout a second later) when a Google edit
of the same item starts a session. The session reads the mapped Events it is about to update
and merges what changed there, field by field, the most recent change winning."""

from __future__ import annotations

from core import fields
from core.actions import HistoryNote
from core.sf_routing import echo
from tests.session_kit import ALICE, JANE, Kit


def saved(kit: Kit):
    kit.user(ALICE)
    kit.contact(JANE)
    item = kit.meeting(ALICE, "Quarterly review")
    kit.sync(ALICE)
    [event] = kit.events_for(ALICE, item)
    notes: list[HistoryNote] = []
    kit.services.history = lambda got, user, now: notes.extend(got)
    return item, event, notes


def sf_edit(kit: Kit, event, **values) -> None:
    """A rep edits the Event in Salesforce; nobody puts it in the inbox (not polled yet)."""
    kit.later(seconds=5)
    for name, value in values.items():
        setattr(event, name, value)
    event.modified = kit.now


def google_edit(kit: Kit, item, **changes):
    kit.later(seconds=5)
    return kit.edit(item, **changes)


def polled_as_echo(kit: Kit, event) -> bool:
    """What the later poll decides for a row calsync wrote last: dropped when its values are
    those the mapping recorded (core/sf_routing.echo)."""
    [state] = kit.sf.event_states([event.id])
    return echo(state, kit.mappings.for_user(ALICE))


def test_R26_google_edit_after_an_unpolled_sf_edit_wins_and_keeps_sfs_value_in_history():
    kit = Kit()
    item, event, notes = saved(kit)
    sf_edit(kit, event, subject="Renamed in Salesforce")  # t1
    google_edit(kit, item, title="Renamed in Google")  # t2 > t1
    assert kit.store.get_user(ALICE).state.sf_changed == ()
    kit.sync(ALICE)
    assert event.subject == "Renamed in Google" == kit.current(item).title
    assert [(n.conflict.field, n.conflict.winner, n.conflict.loser_value) for n in notes] == [
        (fields.SUBJECT, "google", "Renamed in Salesforce")
    ]
    assert polled_as_echo(kit, event)  # merged: the poll may drop it now


def test_R26_an_unpolled_sf_edit_after_the_google_edit_wins_and_reaches_the_copy():
    kit = Kit()
    item, event, notes = saved(kit)
    google_edit(kit, item, title="Renamed in Google")  # t2
    sf_edit(kit, event, subject="Renamed in Salesforce")  # t1 > t2: the most recent
    kit.sync(ALICE)
    assert event.subject == "Renamed in Salesforce" == kit.current(item).title
    assert [(n.conflict.field, n.conflict.winner, n.conflict.loser_value) for n in notes] == [
        (fields.SUBJECT, "salesforce", "Renamed in Google")
    ]
    assert polled_as_echo(kit, event)
    before = len(kit.faults.log)
    kit.sync(ALICE)  # the patch of the copy comes back: an echo, nothing written
    assert [w for w in kit.faults.log[before:] if w != "state"] == []
    assert event.subject == "Renamed in Salesforce"


def test_R26_R22_fields_changed_on_different_sides_both_survive():
    kit = Kit()
    item, event, notes = saved(kit)
    sf_edit(kit, event, location="Room 2")
    google_edit(kit, item, title="Renamed in Google")
    kit.sync(ALICE)
    assert (event.subject, event.location) == ("Renamed in Google", "Room 2")
    copy = kit.current(item)
    assert (copy.title, copy.location) == ("Renamed in Google", "Room 2")
    assert notes == []  # no field changed on both sides
    assert polled_as_echo(kit, event)


def test_R26_R23_an_unpolled_sf_delete_unlabels_instead_of_failing_the_update():
    kit = Kit()
    item, event, _ = saved(kit)
    sf_edit(kit, event, deleted=True)
    google_edit(kit, item, title="Renamed in Google")
    kit.sync(ALICE)
    assert kit.open_issues() == []  # no ENTITY_IS_DELETED update attempted
    assert kit.current(item).color_id != "9"
    assert not [m for m in kit.mappings.for_user(ALICE) if m.sf_event_id == event.id]


def test_R26_R30_an_event_unchanged_in_salesforce_is_read_in_the_search_call_and_not_merged():
    kit = Kit()
    item, event, notes = saved(kit)
    asked: list[list[str]] = []
    real = kit.sf.search_people_and_events

    def reads(emails, ids):
        asked.append(list(ids))
        return real(emails, ids)

    kit.sf.search_people_and_events = reads
    google_edit(kit, item, title="Renamed in Google")
    calls = kit.sf.calls
    kit.sync(ALICE)
    assert asked == [[event.id]]
    assert kit.sf.calls - calls == 2  # the search with the Event's state, then the update
    assert event.subject == "Renamed in Google" and notes == []


def test_R26_an_echo_of_calsyncs_own_label_write_reads_no_event():
    kit = Kit()
    item, event, _ = saved(kit)
    asked: list[list[str]] = []
    real = kit.sf.search_people_and_events
    kit.sf.search_people_and_events = lambda e, ids: asked.append(list(ids)) or real(e, ids)
    kit.sync(ALICE)  # the first session's label write comes back: dropped as an echo
    assert asked == []


def test_R26_R14_a_google_change_of_no_synced_field_reads_no_event():
    """Only a session that writes fields to the Event reads it first: a description edit
    (R-14: not carried after the first save) writes nothing there, so there is nothing to race."""
    kit = Kit()
    item, event, _ = saved(kit)
    kit.sync(ALICE)  # the label's echo
    asked: list[list[str]] = []
    real = kit.sf.search_people_and_events
    kit.sf.search_people_and_events = lambda e, ids: asked.append(list(ids)) or real(e, ids)
    sf_edit(kit, event, subject="Renamed in Salesforce")
    google_edit(kit, item, description="my own notes")
    kit.sync(ALICE)
    assert asked == [] and event.subject == "Renamed in Salesforce"
