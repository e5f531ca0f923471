"""Down-sync through the session on the emulators (R-21..R-24, R-26): an SF Event in the user's
inbox of Salesforce changes becomes, changes or unlabels the user's Google copy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.downsync import google_event_id
from core.labels import P_KEY, P_STATUS
from tests.fixtures.upsync import ALICE, JANE

pytestmark = pytest.mark.integration


def sf_event(org, subject="Made in Salesforce", days=2, **extra):
    start = org.now.replace(minute=0, second=0) + timedelta(days=days)
    body = {"OwnerId": org.ids["alice"], "Subject": subject, "StartDateTime": start.isoformat(),
            "EndDateTime": (start + timedelta(hours=1)).isoformat(), **extra}  # fmt: skip
    return org.sf_org.client().Event.create(body)["id"]


def changed(org, *ids):
    org.store.add_sf_changes(ALICE, list(ids))


@pytest.fixture
def alice(org):
    org.enable(ALICE)
    org.sync(ALICE)  # the first session: token, Salesforce User matched
    return org


def test_R21_an_sf_event_appears_in_the_owners_calendar_labelled_and_without_invitations(alice):
    org = alice
    sf_id = sf_event(org)
    changed(org, sf_id)
    org.sync(ALICE)
    copy = org.get(ALICE, google_event_id(sf_id))
    assert copy["summary"] == "Made in Salesforce" and copy["colorId"] == "9"
    private = copy["extendedProperties"]["private"]
    assert private[P_STATUS] == "Tracked successfully" and private[P_KEY]
    [mapping] = [m for m in org.services.mappings.for_user(ALICE) if m.sf_event_id == sf_id]
    assert mapping.event_id == copy["id"] and mapping.sync_key == private[P_KEY]
    assert org.store.get_user(ALICE).state.sf_changed == ()  # read and settled
    assert "attendees" not in copy  # nobody invited, nobody notified
    assert len(org.events()) == 1  # and nothing went back up


def test_R21_R29_a_retried_insert_after_a_lost_answer_makes_no_second_copy(alice):
    """The insert is applied and its answer lost (503): the adapter sends it again, with the
    same id, and Google's 409 for it means the copy is there."""
    org = alice
    sf_id = sf_event(org)
    changed(org, sf_id)
    org.gcal.inject_fault(kind="APPLY_THEN_503", count=1, methods=["calendar.events.insert"])
    org.sync(ALICE)
    assert org.gcal.admin("GET", "faults")["faults"] == []  # the lost answer happened
    copies = [
        e["data"]
        for e in org.gcal.raw_events(ALICE)
        if e["data"].get("summary") == "Made in Salesforce"
    ]
    assert [e["id"] for e in copies] == [google_event_id(sf_id)]
    assert any(m.sf_event_id == sf_id for m in org.services.mappings.for_user(ALICE))


def test_R22_R26_an_sf_edit_reaches_the_copy_once(alice):
    org = alice
    sf_id = sf_event(org)
    changed(org, sf_id)
    org.sync(ALICE)
    org.sf_org.client().Event.update(sf_id, {"Subject": "Renamed in Salesforce",
                                             "Location": "Room 2"})  # fmt: skip
    changed(org, sf_id)
    org.sync(ALICE)
    copy = org.get(ALICE, google_event_id(sf_id))
    assert (copy["summary"], copy["location"]) == ("Renamed in Salesforce", "Room 2")
    before = org.sf_calls()
    report = org.sync(ALICE)  # the patch comes back through the sync token: an echo, dropped
    assert report.items_seen == 0
    assert org.sf_calls() == before  # not even a search: the session stops at once
    [event] = org.events()
    assert event["Subject"] == "Renamed in Salesforce"


def test_R23_an_sf_delete_takes_the_labels_off_the_copy(alice):
    org = alice
    sf_id = sf_event(org)
    changed(org, sf_id)
    org.sync(ALICE)
    org.sf_org.client().Event.delete(sf_id)
    changed(org, sf_id)
    org.sync(ALICE)
    copy = org.get(ALICE, google_event_id(sf_id))
    assert "colorId" not in copy
    props = org.private_props(ALICE, copy["id"])
    assert {k: v for k, v in props.items() if k != "calsync_seen"} == {"calsync_unsynced": "1"}
    assert not any(m.sf_event_id == sf_id for m in org.services.mappings.for_user(ALICE))


def test_R24_a_series_made_in_salesforce_gets_cs013_and_no_copy(alice):
    org = alice
    sf_id = sf_event(
        org, "Weekly in Salesforce", Recurrence2PatternText="RRULE:FREQ=DAILY;INTERVAL=1;COUNT=3"
    )
    occurrences = [
        e["Id"] for e in org.sf_org.records("Event") if e["Subject"] == "Weekly in Salesforce"
    ]
    changed(org, *occurrences)
    org.sync(ALICE)
    assert [i.code for i in org.services.issues.open_for_user(ALICE)] == ["CS-013"]
    assert not [
        e for e in org.gcal.raw_events(ALICE) if e["data"].get("summary") == "Weekly in Salesforce"
    ]
    assert sf_id in occurrences


def _calendar_calls(org) -> dict[str, int]:
    return {k: n for k, n in org.gcal.counters().items() if k not in ("oauth2.token", "batch")}


def _spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


def test_R21_R26_a_down_synced_event_costs_two_calendar_calls(alice):
    """Issue 10: the inbox's session inserts the copy without listing the calendar first; the
    session that the insert's push starts lists the changes once (its own insert, an echo)."""
    org = alice
    sf_id = sf_event(org)
    changed(org, sf_id)
    before = _calendar_calls(org)
    org.sync(ALICE)  # the Flow's (or the poll's) session
    first = _spent(before, _calendar_calls(org))
    assert first == {"calendar.events.insert": 1}, first
    middle = _calendar_calls(org)
    report = org.sync(ALICE)  # the insert's push: calsync's own copy comes back
    second = _spent(middle, _calendar_calls(org))
    assert second == {"calendar.events.list": 1}, second
    assert report.failed == [] and sum(first.values()) + sum(second.values()) == 2
    assert org.get(ALICE, google_event_id(sf_id))["colorId"] == "9"


def test_R21_R15_google_changes_around_the_insert_are_read_by_the_next_session(alice):
    """The inbox's session leaves the calendar's changes unread: its sync token stays, so the
    session its own insert's push starts reads them all: an edit made before the insert (whose
    push joined the inbox's session) and one made right after it."""
    org = alice
    created = org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    org.sync(ALICE)  # the label's echo
    token = org.store.get_user(ALICE).state.calendar_sync_token
    org.patch(ALICE, created["id"], summary="Acme kickoff (before)")
    sf_id = sf_event(org)
    changed(org, sf_id)
    org.sync(ALICE)  # inserts the copy; the edit waits (not lost: the token did not move)
    assert org.store.get_user(ALICE).state.calendar_sync_token == token
    assert org.get(ALICE, google_event_id(sf_id))["summary"] == "Made in Salesforce"
    later = org.insert(ALICE, "Beta demo", attendees=(ALICE, JANE), colorId="9")  # right after
    org.sync(ALICE)  # the insert's push
    subjects = sorted(e["Subject"] for e in org.events())
    assert subjects == ["Acme kickoff (before)", "Beta demo", "Made in Salesforce"]
    assert org.store.get_user(ALICE).state.calendar_sync_token != token
    assert later["id"] and org.store.get_user(ALICE).state.sf_changed == ()


def _down_synced(org):
    """An Event made in Salesforce, copied to Google, and the copy's push settled."""
    sf_id = sf_event(org)
    changed(org, sf_id)
    org.sync(ALICE)
    org.sync(ALICE)  # the insert's push: its own copy, known by its etag
    return sf_id


def test_R22_R26_an_sf_edit_costs_two_calendar_calls(alice):
    """Issue 10: the copy is patched without being read, on the condition that it still has the
    etag its mapping recorded (If-Match); the push's session lists once and knows the patch by
    its etag: no Salesforce call."""
    org = alice
    sf_id = _down_synced(org)
    org.sf_org.client().Event.update(sf_id, {"Subject": "Renamed in Salesforce"})
    changed(org, sf_id)
    before = _calendar_calls(org)
    org.sync(ALICE)
    first = _spent(before, _calendar_calls(org))
    assert first == {"calendar.events.patch": 1}, first
    middle, calls = _calendar_calls(org), org.sf_calls()
    echo = org.sync(ALICE)
    assert _spent(middle, _calendar_calls(org)) == {"calendar.events.list": 1}
    assert echo.items_seen == 0 and org.sf_calls() == calls
    copy = org.get(ALICE, google_event_id(sf_id))
    assert copy["summary"] == "Renamed in Salesforce" and copy["colorId"] == "9"
    [mapping] = [m for m in org.services.mappings.for_user(ALICE) if m.sf_event_id == sf_id]
    assert mapping.etag == copy["etag"]


def test_R23_an_sf_delete_costs_two_calendar_calls(alice):
    org = alice
    sf_id = _down_synced(org)
    org.sf_org.client().Event.delete(sf_id)
    changed(org, sf_id)
    before = _calendar_calls(org)
    org.sync(ALICE)
    assert _spent(before, _calendar_calls(org)) == {"calendar.events.patch": 1}
    middle = _calendar_calls(org)
    org.sync(ALICE)
    assert _spent(middle, _calendar_calls(org)) == {"calendar.events.list": 1}
    copy = org.get(ALICE, google_event_id(sf_id))
    assert "colorId" not in copy
    props = org.private_props(ALICE, copy["id"])
    assert P_KEY not in props and props.get("calsync_unsynced") == "1"
    assert not any(m.sf_event_id == sf_id for m in org.services.mappings.for_user(ALICE))


def test_R23_delete_from_calendar_deletes_the_copy_conditionally(alice):
    org = alice
    org.store.set_org_settings({"internal_domains": ["example.com"], "delete_from_calendar": True})
    sf_id = _down_synced(org)
    org.sf_org.client().Event.delete(sf_id)
    changed(org, sf_id)
    before = _calendar_calls(org)
    org.sync(ALICE)
    assert _spent(before, _calendar_calls(org)) == {"calendar.events.delete": 1}
    assert org.get(ALICE, google_event_id(sf_id))["status"] == "cancelled"


def test_R22_R26_a_copy_edited_in_google_meanwhile_is_refused_read_and_merged(alice):
    """The rep moves the copy's location in Google while Salesforce renames it, before any
    session saw the Google edit: Google refuses the conditional patch (412); the session lists,
    reads, and merges, so both changes are on both sides."""
    org = alice
    sf_id = _down_synced(org)
    gid = google_event_id(sf_id)
    org.patch(ALICE, gid, location="Room 7")
    org.sf_org.client().Event.update(sf_id, {"Subject": "Renamed in Salesforce"})
    changed(org, sf_id)
    before = _calendar_calls(org)
    report = org.sync(ALICE)
    spent = _spent(before, _calendar_calls(org))
    assert spent["calendar.events.patch"] == 2 and spent["calendar.events.list"] == 1, spent
    assert report.failed == [] and org.services.issues.open_for_user(ALICE) == []
    copy = org.get(ALICE, gid)
    assert (copy["summary"], copy.get("location")) == ("Renamed in Salesforce", "Room 7")
    [event] = [e for e in org.events() if e["Id"] == sf_id]
    assert (event["Subject"], event["Location"]) == ("Renamed in Salesforce", "Room 7")
    assert org.store.get_user(ALICE).state.sf_changed == ()


def test_R22_R26_an_sf_edit_of_an_item_saved_from_google_costs_two_calendar_calls(alice):
    """The save's label write answers the copy's etag, stored with the mapping after the label:
    the first edit made in Salesforce is written unread too."""
    org = alice
    created = org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    org.sync(ALICE)  # the label's echo
    [event] = org.events()
    [mapping] = org.services.mappings.for_user(ALICE)
    assert mapping.etag == org.get(ALICE, created["id"])["etag"]
    org.sf_org.client().Event.update(event["Id"], {"Subject": "Acme kickoff (moved room)"})
    changed(org, event["Id"])
    before = _calendar_calls(org)
    org.sync(ALICE)
    assert _spent(before, _calendar_calls(org)) == {"calendar.events.patch": 1}
    middle = _calendar_calls(org)
    assert org.sync(ALICE).items_seen == 0
    assert _spent(middle, _calendar_calls(org)) == {"calendar.events.list": 1}
    assert org.get(ALICE, created["id"])["summary"] == "Acme kickoff (moved room)"
