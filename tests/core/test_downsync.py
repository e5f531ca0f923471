"""core/downsync.py and the planner's down-sync: Salesforce → Google (R-21..R-26)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.actions import (
    GoogleCreate,
    GoogleDelete,
    GoogleLabel,
    GoogleWrite,
    HistoryNote,
    IssueOpen,
    LabelWrite,
)
from core.downsync import copy_key, google_event_id, unread_ok
from core.labels import P_KEY, P_STATUS, P_UNSYNCED, STATUS_SAVED
from core.model import ItemKey, Role, SfEventState, instance_text, sync_key
from core.planner import plan
from tests.core.builders import ANN, AUTOSAVE, NOW, PEOPLE, at, meeting
from tests.core.world import World

SF_ID = "00U000000000123AAA"


def sf_event(sf_id=SF_ID, *, owner=ANN.sf_user_id, days=2.0, **kw) -> SfEventState:
    start = at(days)
    return SfEventState(sf_id, owner, subject=kw.pop("subject", "Made in Salesforce"),
                        start_utc=start, end_utc=start + timedelta(hours=1),
                        last_modified=NOW, **kw)  # fmt: skip


def world(*events, settings=AUTOSAVE):
    w = World(ANN, settings, NOW, PEOPLE)
    for e in events:
        w.sf[e.sf_event_id] = e
        w.inbox.add(e.sf_event_id)
    return w


def settle(w):
    p = plan(w.input())
    w.apply(p)
    again = plan(w.input())
    assert not again, again.render()
    return p


def test_R21_an_sf_event_appears_labelled_with_an_id_of_calsyncs_choosing():
    w = world(sf_event())
    p = settle(w)
    [create] = p.of(GoogleCreate)
    gid = google_event_id(SF_ID)
    assert create.event.event_id == gid and create.event.calendar_id == ANN.email
    assert len(gid) == 26 and set(gid) <= set("0123456789abcdefghijklmnopqrstuv")  # base32hex
    item = w.items[(ANN.email, gid)]
    assert item.title == "Made in Salesforce" and item.color_id == "9"
    assert item.props[P_STATUS] == STATUS_SAVED
    assert item.props[P_KEY] == sync_key(ANN.sf_user_id, copy_key(gid))
    assert w.mappings[copy_key(gid)].sf_event_id == SF_ID
    assert google_event_id(SF_ID) == gid  # the same Event, the same id: a retry finds it


def test_R21_not_for_invitee_copies_other_owners_calsyncs_own_or_outside_the_window():
    own = replace(sf_event("00U000000000001AAA"), made_by_calsync=True)
    child = replace(sf_event("00U000000000002AAA"), is_child=True)
    other = sf_event("00U000000000003AAA", owner="005OTHER00000001")
    far = sf_event("00U000000000004AAA", days=200)
    p = plan(world(own, child, other, far).input())
    assert not p.of(GoogleCreate)


def test_R24_a_series_made_in_salesforce_gets_cs013_once_and_no_change():
    first = replace(sf_event("00U000000000001AAA"), is_recurrence2=True, series="005/2026-01-01")
    second = replace(sf_event("00U000000000002AAA", days=9), is_recurrence2=True,
                     series="005/2026-01-01")  # fmt: skip
    p = plan(world(first, second).input())
    assert not p.of(GoogleCreate) and not p.of(LabelWrite)
    assert [a.issue.code for a in p.of(IssueOpen)] == ["CS-013"]


def test_R22_R26_an_sf_edit_reaches_the_copy_and_is_not_echoed():
    w = world(sf_event())
    settle(w)
    w.sf[SF_ID] = replace(w.sf[SF_ID], subject="Renamed in Salesforce", location="Room 2",
                          last_modified=NOW + timedelta(minutes=5))  # fmt: skip
    p = settle(w)
    [patch] = p.of(GoogleWrite)
    assert patch.patch.summary == "Renamed in Salesforce" and patch.patch.location == "Room 2"
    item = w.items[(ANN.email, google_event_id(SF_ID))]
    assert item.title == "Renamed in Salesforce"


def test_R23_an_sf_delete_takes_the_labels_off():
    w = world(sf_event())
    settle(w)
    w.sf_delete_outside(SF_ID)
    settle(w)
    item = w.items[(ANN.email, google_event_id(SF_ID))]
    assert item.color_id is None and item.props == {P_UNSYNCED: "1"}
    assert not w.mappings


def test_R26_both_sides_changed_the_later_wins_and_the_loser_is_kept():
    w = world()
    w.add(meeting())
    settle(w)
    [m] = w.mappings.values()
    item = w.items[(ANN.email, "ev1")]
    w.add(replace(item, title="Google title", updated=NOW + timedelta(minutes=1)))
    w.sf[m.sf_event_id] = replace(w.sf[m.sf_event_id], subject="Salesforce title",
                                  last_modified=NOW + timedelta(minutes=2))  # fmt: skip
    w.inbox.add(m.sf_event_id)
    p = settle(w)
    [note] = p.of(HistoryNote)
    assert (note.conflict.winner, note.conflict.loser_value) == ("salesforce", "Google title")
    assert w.items[(ANN.email, "ev1")].title == "Salesforce title"
    assert note.key == ItemKey(meeting().ical_uid)


# -- a copy planned unread (issue 10: an SF change in two Google calls) -----------------------

ETAG = '"3000000000000000042"'


def unread_world(settings=AUTOSAVE, **event):
    """A copy made from an SF Event, its mapping knowing the copy's etag (and time zone)."""
    w = world(sf_event(**event), settings=settings)
    settle(w)
    [m] = w.mappings.values()
    w.mappings[m.key] = replace(m, etag=ETAG, zone="UTC")
    return w


def unread_input(w, sf_id=SF_ID):
    """The session's input when it did not read the copy: the copy is not among the items."""
    gid = google_event_id(sf_id)
    inp = w.input()
    return replace(inp, items=tuple(i for i in inp.items if i.id != gid),
                   unread=frozenset({sf_id}))  # fmt: skip


EDITS = [
    {"subject": "Renamed in Salesforce"},
    {"location": "Room 2", "show_as": "Free"},
    {"is_private": True},
    {"description": "Agenda typed in Salesforce"},
    {"start_utc": at(3.5), "end_utc": at(3.5) + timedelta(hours=2)},
]


def test_R22_R26_an_unread_copy_gets_the_same_change_as_a_read_one():
    """Planned on the mapping alone, an SF edit gives the copy and the mapping exactly what the
    planner gives them when it reads the copy: the same fields, the same fingerprints (the
    description too, when it is synced: R-14 without Safe Description)."""
    settings = replace(AUTOSAVE, safe_description=False)
    for edit in EDITS:
        read, unread = unread_world(settings), unread_world(settings)
        for w in (read, unread):
            w.sf[SF_ID] = replace(w.sf[SF_ID], last_modified=NOW + timedelta(minutes=5), **edit)
        read.apply(plan(read.input()))
        p = plan(unread_input(unread))
        [write] = p.of(GoogleWrite)
        assert write.patch.if_match == ETAG, edit  # written only if the copy did not change
        unread.apply(p)
        gid = google_event_id(SF_ID)
        a, b = read.items[(ANN.email, gid)], unread.items[(ANN.email, gid)]
        assert (a.title, a.span, a.location, a.visibility, a.transparency, a.description) == (
            b.title,
            b.span,
            b.location,
            b.visibility,
            b.transparency,
            b.description,
        ), edit
        [ma], [mb] = read.mappings.values(), unread.mappings.values()
        assert dict(ma.google_fp) == dict(mb.google_fp) and dict(ma.sf_fp) == dict(mb.sf_fp), edit
        assert mb.start == instance_text(b.span.start_utc), edit  # where the copy is now
        assert not plan(unread_input(unread)).of(GoogleWrite), edit  # no echo


def test_R22_an_unread_time_change_keeps_the_copys_time_zone():
    w = unread_world()
    [m] = w.mappings.values()
    w.mappings[m.key] = replace(m, zone="Europe/Paris")
    w.sf[SF_ID] = replace(w.sf[SF_ID], start_utc=at(4), end_utc=at(4) + timedelta(hours=1))
    [write] = plan(unread_input(w)).of(GoogleWrite)
    assert write.patch.start is not None and write.patch.start.time_zone == "Europe/Paris"
    assert write.patch.start.date_time == at(4)


def test_R22_what_cannot_be_planned_unread_is_read():
    """No etag, a series or an instance, a pending write, another owner, an invitee's link, or a
    time change whose copy's time zone is unknown: the session reads the copy first."""
    w = unread_world()
    [m] = w.mappings.values()
    moved = replace(w.sf[SF_ID], start_utc=at(5), end_utc=at(5) + timedelta(hours=1))
    renamed = replace(w.sf[SF_ID], subject="Renamed")
    settings = AUTOSAVE
    assert unread_ok(m, renamed, settings) and unread_ok(m, moved, settings)
    assert not unread_ok(replace(m, etag=""), renamed, settings)
    assert not unread_ok(replace(m, pattern="RRULE:FREQ=WEEKLY"), renamed, settings)
    assert not unread_ok(replace(m, key=ItemKey(m.key.ical_uid, "20261204")), renamed, settings)
    assert not unread_ok(replace(m, occurrence_of="00U000000000999AAA"), renamed, settings)
    assert not unread_ok(replace(m, pending_delete=True), renamed, settings)
    assert not unread_ok(replace(m, role=Role.INVITEE), renamed, settings)
    assert not unread_ok(m, replace(renamed, owner_sf_id="005OTHER00000001"), settings)
    assert not unread_ok(m, replace(renamed, is_recurrence2=True), settings)
    assert not unread_ok(replace(m, zone=""), moved, settings)
    assert unread_ok(replace(m, zone=""), renamed, settings)  # no time change: no zone needed


def test_R23_an_unread_copy_loses_its_labels_only_if_unchanged():
    w = unread_world()
    w.sf_delete_outside(SF_ID)
    p = plan(unread_input(w))
    [label] = p.of(GoogleLabel)
    assert label.patch.if_match == ETAG and label.patch.set_color and label.patch.color_id is None
    assert not p.of(LabelWrite)  # the label is the unit's write: refused, nothing is recorded
    w.apply(p)
    item = w.items[(ANN.email, google_event_id(SF_ID))]
    assert item.color_id is None and item.props == {P_UNSYNCED: "1"}  # as when it is read
    assert not w.mappings


def test_R23_with_delete_from_calendar_an_unread_copy_is_deleted_only_if_unchanged():
    w = unread_world(settings=replace(AUTOSAVE, delete_from_calendar=True))
    w.sf_delete_outside(SF_ID)
    p = plan(unread_input(w))
    [delete] = p.of(GoogleDelete)
    assert delete.if_match == ETAG and delete.event_id == google_event_id(SF_ID)
    w.apply(p)
    assert (ANN.email, google_event_id(SF_ID)) not in w.items and not w.mappings
