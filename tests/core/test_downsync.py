"""core/downsync.py and the planner's down-sync: Salesforce → Google (R-21..R-26)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.actions import GoogleCreate, GoogleWrite, HistoryNote, IssueOpen, LabelWrite
from core.downsync import copy_key, google_event_id
from core.labels import P_KEY, P_STATUS, P_UNSYNCED, STATUS_SAVED
from core.model import ItemKey, SfEventState, sync_key
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
