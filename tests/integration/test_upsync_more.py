"""More up-sync scenarios on the emulators (docs/rules.md, labels and up-sync): manual saves whatever autosave says
(R-04), the limits that fail an item (R-09), the SF Event's fields (R-13, R-13a), smart sharing
(R-16), recurring series (R-17), saving again after unsync (R-18), group calendars (R-19), labels
on each user's own copy (R-02, R-03) and issues that close by themselves (R-31)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from core.labels import P_COLOR, P_ISSUE, P_KEY, P_PREV_COLOR, P_STATUS, P_UNSYNCED, STATUS_SAVED
from tests.fixtures.upsync import ALICE, BOB, JANE, LEE, NOBODY

pytestmark = pytest.mark.integration

SAVE, UNSYNC, ERROR = "9", "8", "11"
KIM = "kim@acme.com"  # a second Contact of Acme, created by the tests that need one
GROUP = "sales-team@group.calendar.google.com"  # a group (secondary) calendar


# -- helpers ---------------------------------------------------------------------------------


def insert_all_day(org, email: str, summary: str, *, days: int = 3, length: int = 1,
                   **extra: Any) -> dict[str, Any]:  # fmt: skip
    first = (org.now + timedelta(days=days)).date()
    body = {
        "summary": summary,
        "start": {"date": first.isoformat()},
        "end": {"date": (first + timedelta(days=length)).isoformat()},
        **extra,
    }
    return org.calendar(email).insert(calendarId="primary", body=body).execute()


def import_invite(org, email: str, summary: str, organizer: str, attendees: tuple[str, ...],
                  uid: str, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """An invitation from outside the hosted domains, as Google imports it (R-12)."""
    start = org.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    body = {
        "iCalUID": uid,
        "summary": summary,
        "organizer": {"email": organizer},
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "UTC"},
        "attendees": [
            {"email": a, "organizer": a == organizer, "responseStatus": "accepted"}
            for a in attendees
        ],
        **extra,
    }
    return org.calendar(email).import_(calendarId="primary", body=body).execute()


def by_subject(org) -> dict[str, dict[str, Any]]:
    return {e["Subject"]: e for e in org.events()}


def who_ids(org, event_id: str) -> set[str]:
    """The people (Contacts/Leads) linked to an SF Event: its IsParent EventRelation rows."""
    return {
        r["RelationId"]
        for r in org.sf_org.records("EventRelation")
        if r["EventId"] == event_id and r.get("IsParent")
    }


def add_contact(org, email: str, last_name: str) -> str:
    created = org.sf_org.client().Contact.create(
        {"LastName": last_name, "Email": email, "AccountId": org.ids["acme"]}
    )
    return str(created["id"])


def sf_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def issue_codes(org, email: str) -> list[str]:
    return sorted(i.code for i in org.services.issues.open_for_user(email))


# -- manual save ----------------------------------------------------------------------


@pytest.mark.parametrize("autosave", [False, True], ids=["autosave off", "autosave on"])
def test_R04_manual_save_of_private_internal_and_far_items_whatever_autosave(org, autosave):
    """R-04: a manual save saves private items, internal meetings and items outside the sliding
    window, which autosave (R-05, R-06) never would."""
    org.enable(ALICE, autosave_meetings=autosave, autosave_appointments=autosave)
    # The first session reads the window only (a full sync); tags given later are read from
    # the incremental changes, whatever the item's date.
    org.sync(ALICE)
    org.insert(ALICE, "Private call", attendees=(ALICE, JANE), visibility="private", colorId=SAVE)
    org.insert(ALICE, "Team sync", attendees=(ALICE, BOB), colorId=SAVE)
    org.insert(ALICE, "Far future", days=90, attendees=(ALICE, JANE), colorId=SAVE)
    org.insert(ALICE, "Untagged private", attendees=(ALICE, JANE), visibility="private")
    report = org.sync(ALICE)
    assert not report.failed
    events = by_subject(org)
    assert sorted(events) == ["Far future", "Private call", "Team sync"]
    assert all(e["OwnerId"] == org.ids["alice"] for e in events.values())
    assert org.services.issues.open_for_user(ALICE) == []


# -- items that cannot be saved ---------------------------------------------------------


def test_R09_all_day_item_of_14_days_saved_of_15_days_fails_CS003(org):
    """R-09: an all-day item of exactly 14 days is saved; one of 15 days gets the error label
    and issue CS-003; shortening it to 14 days saves it and closes the issue (R-31)."""
    org.enable(ALICE)
    ok = insert_all_day(org, ALICE, "Two weeks", length=14, colorId=SAVE)
    long = insert_all_day(org, ALICE, "Fifteen days", days=5, length=15, colorId=SAVE)
    org.sync(ALICE)
    [sf] = org.events()
    assert sf["Subject"] == "Two weeks" and sf["IsAllDayEvent"] is True
    assert sf["DurationInMinutes"] == 14 * 1440
    assert org.private_props(ALICE, ok["id"])[P_STATUS].startswith(STATUS_SAVED)
    after = org.get(ALICE, long["id"])
    assert after["colorId"] == ERROR
    assert after["extendedProperties"]["private"][P_ISSUE] == "CS-003"
    assert issue_codes(org, ALICE) == ["CS-003"]
    first = (org.now + timedelta(days=5)).date()
    org.patch(ALICE, long["id"], end={"date": (first + timedelta(days=14)).isoformat()})
    org.sync(ALICE)
    assert sorted(by_subject(org)) == ["Fifteen days", "Two weeks"]
    assert org.services.issues.open_for_user(ALICE) == []
    props = org.private_props(ALICE, long["id"])
    assert P_ISSUE not in props and props[P_STATUS].startswith(STATUS_SAVED)
    assert org.get(ALICE, long["id"])["colorId"] == SAVE


def test_R09_timed_item_longer_than_14_days_fails_CS004(org):
    """R-09: any item longer than 14 days fails with CS-004 and the error label."""
    org.enable(ALICE)
    event = org.insert(ALICE, "Very long", hours=15 * 24, attendees=(ALICE, JANE), colorId=SAVE)
    org.sync(ALICE)
    assert org.events() == []
    assert org.get(ALICE, event["id"])["colorId"] == ERROR
    assert org.private_props(ALICE, event["id"])[P_ISSUE] == "CS-004"
    assert issue_codes(org, ALICE) == ["CS-004"]


def test_R09_item_in_a_zone_outside_the_IANA_database_fails_CS006(org):
    """R-09: an item in a time zone that is not in the IANA database fails with CS-006."""
    org.enable(ALICE)
    start = org.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    zone = "Pacific Standard Time"  # a Windows zone name, as Outlook invitations carry
    body = {
        "summary": "Odd zone",
        "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": zone},
        "end": {
            "dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
            "timeZone": zone,
        },  # fmt: skip
        "attendees": [{"email": ALICE}, {"email": JANE}],
        "colorId": SAVE,
    }
    try:
        event = org.calendar(ALICE).insert(calendarId="primary", body=body).execute()
    except HttpError as exc:
        pytest.skip(
            "the Calendar emulator refuses a timeZone outside the IANA database "
            f"({exc.status_code}: 'Invalid time zone definition'), as Google does for inserts, "
            "so no such item can reach a session; R-09's CS-006 is covered by the core tests"
        )
    org.sync(ALICE)
    assert org.events() == []
    assert org.private_props(ALICE, event["id"])[P_ISSUE] == "CS-006"


# -- the SF Event's fields --------------------------------------------------------------


def test_R13_fields_of_the_sf_event(org):
    """R-13: all-day → IsAllDayEvent + ActivityDate in whole days; transparent → ShowAs Free;
    Subject cut to 255; empty title → "(no title)"; WhoId the external organiser when resolved
    (before the attendees); WhatId the primary person's Account."""
    org.enable(ALICE)
    insert_all_day(org, ALICE, "Offsite", days=4, length=2, attendees=[{"email": JANE}],
                   colorId=SAVE)  # fmt: skip
    org.insert(ALICE, "Free slot", attendees=(ALICE, JANE), transparency="transparent",
               colorId=SAVE)  # fmt: skip
    org.insert(ALICE, "Busy slot", days=4, attendees=(ALICE, JANE), colorId=SAVE)
    org.insert(ALICE, "x" * 300, days=5, colorId=SAVE)
    org.insert(ALICE, "", days=6, colorId=SAVE)
    # Attendees are listed before the organiser: the organiser still comes first.
    import_invite(org, ALICE, "Jane invites", JANE, (LEE, ALICE, JANE), "jane-1@acme.com",
                  colorId=SAVE)  # fmt: skip
    import_invite(org, ALICE, "Lee invites", LEE, (JANE, ALICE, LEE), "lee-1@leadco.io",
                  colorId=SAVE)  # fmt: skip
    report = org.sync(ALICE)
    assert not report.failed
    events = by_subject(org)
    assert len(events) == 7

    offsite = events["Offsite"]
    first = (org.now + timedelta(days=4)).date()
    assert offsite["IsAllDayEvent"] is True
    assert offsite["ActivityDate"] == first.isoformat()
    assert offsite["DurationInMinutes"] == 2 * 1440
    assert sf_time(offsite["StartDateTime"]) == datetime.combine(first, datetime.min.time(), UTC)

    assert events["Free slot"]["ShowAs"] == "Free"
    assert events["Busy slot"]["ShowAs"] == "Busy"
    assert events["Busy slot"]["IsAllDayEvent"] is False
    start = org.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=4)
    assert sf_time(events["Busy slot"]["StartDateTime"]) == start
    assert sf_time(events["Busy slot"]["EndDateTime"]) == start + timedelta(hours=1)

    [long] = [s for s in events if s.startswith("xxx")]
    assert len(long) == 255
    assert "(no title)" in events

    jane = events["Jane invites"]
    assert jane["WhoId"] == org.ids["jane"]  # the organiser, though the Lead is listed first
    assert jane["WhatId"] == org.ids["acme"]  # the primary person's Account
    lee = events["Lee invites"]
    assert lee["WhoId"] == org.ids["lee"]  # the organiser, though the Contact is listed first
    assert not lee.get("WhatId")  # a Lead has no Account
    assert events["Free slot"]["WhatId"] == org.ids["acme"]


# -- R-13a: private items ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("linked", id="R-13a default: linked, not private"),
        pytest.param("private_unlinked", id="R-13a private_unlinked: private, no links"),
    ],
)
def test_R13a_private_item_saved_by_hand(org, mode):
    """R-13a: a private item saved by hand is linked and not private by default, or private
    without WhoId/WhatId under `private_items: private_unlinked`; the status text says which."""
    org.store.set_org_settings({"private_items": mode})
    org.enable(ALICE)
    event = org.insert(ALICE, "Secret deal", attendees=(ALICE, JANE), visibility="private",
                       colorId=SAVE)  # fmt: skip
    report = org.sync(ALICE)
    assert not report.failed
    [sf] = org.events()
    status = org.private_props(ALICE, event["id"])[P_STATUS]
    assert status.startswith(STATUS_SAVED)
    if mode == "linked":
        assert sf["IsPrivate"] is False
        assert (sf["WhoId"], sf["WhatId"]) == (org.ids["jane"], org.ids["acme"])
        assert "linked and not private" in status
    else:
        assert sf["IsPrivate"] is True
        assert not sf.get("WhoId") and not sf.get("WhatId")
        assert who_ids(org, sf["Id"]) == set()
        assert "private Event without links" in status


# -- smart auto sharing -----------------------------------------------------------------


def test_R16_smart_auto_sharing_on_links_people_added_later(org):
    """R-16 on: an attendee added after the first save, and resolvable, is linked on the next
    session; one who registers in Salesforce later is linked once the item is read again."""
    kim = add_contact(org, KIM, "Kim")
    org.enable(ALICE, smart_auto_sharing=True)
    event = org.insert(ALICE, "Growing meeting", attendees=(ALICE, JANE), colorId=SAVE)
    org.sync(ALICE)
    [sf] = org.events()
    assert who_ids(org, sf["Id"]) == {org.ids["jane"]}
    org.patch(ALICE, event["id"], attendees=[{"email": a} for a in (ALICE, JANE, KIM, NOBODY)])
    org.sync(ALICE)
    assert who_ids(org, sf["Id"]) == {org.ids["jane"], kim}
    stranger = add_contact(org, NOBODY, "Stranger")
    org.patch(ALICE, event["id"], location="Room 2")  # the next change of the item
    org.sync(ALICE)
    assert who_ids(org, sf["Id"]) == {org.ids["jane"], kim, stranger}
    assert len(org.events()) == 1


def test_R16_smart_auto_sharing_off_links_the_list_once(org):
    """R-16 off: the attendee list is linked once, at the first save."""
    add_contact(org, KIM, "Kim")
    org.enable(ALICE, smart_auto_sharing=False)
    event = org.insert(ALICE, "Fixed meeting", attendees=(ALICE, JANE), colorId=SAVE)
    org.sync(ALICE)
    org.patch(ALICE, event["id"], attendees=[{"email": a} for a in (ALICE, JANE, KIM)],
              location="Room 3")  # fmt: skip
    org.sync(ALICE)
    [sf] = org.events()
    assert sf["Location"] == "Room 3"  # the update itself went through
    assert who_ids(org, sf["Id"]) == {org.ids["jane"]}


# -- recurring series -------------------------------------------------------------------

WEEKLY = "RRULE:FREQ=WEEKLY;COUNT=4"


def insert_series(org, summary: str, rule: str = WEEKLY, **extra: Any) -> dict[str, Any]:
    return org.insert(ALICE, summary, attendees=(ALICE, JANE), recurrence=[rule], **extra)


def instances(org, series_id: str) -> list[dict[str, Any]]:
    listing = org.calendar(ALICE).instances(calendarId="primary", eventId=series_id).execute()
    return list(listing["items"])


def occurrences(org) -> list[dict[str, Any]]:
    """The SF Events of a saved series (or of a series saved instance by instance), by start."""
    return sorted(org.events(), key=lambda e: sf_time(e["StartDateTime"]))


def test_R17_weekly_series_saved_as_one_sf_series(org):
    """R-17: a tagged weekly series becomes one Salesforce series (IsRecurrence2 with
    Recurrence2PatternText), one Event per occurrence, one mapping."""
    org.store.set_org_settings({"recurring_enabled": True})
    org.enable(ALICE)
    series = insert_series(org, "Weekly review", colorId=SAVE)
    report = org.sync(ALICE)
    assert not report.failed
    events = occurrences(org)
    assert len(events) == 4
    assert all(e["IsRecurrence2"] for e in events)
    [pattern] = {e["Recurrence2PatternText"] for e in events}
    assert pattern.startswith("RRULE:FREQ=WEEKLY;") and "COUNT=4" in pattern
    starts = [sf_time(e["StartDateTime"]) for e in events]
    assert starts == [starts[0] + timedelta(weeks=n) for n in range(4)]
    assert [m.pattern != "" for m in org.services.mappings.for_user(ALICE)] == [True]
    assert org.get(ALICE, series["id"])["colorId"] == SAVE
    assert len(org.events()) == 4
    org.sync(ALICE)  # nothing more
    assert len(org.events()) == 4


def test_R17_cancelled_instance_deletes_that_occurrence(org):
    org.store.set_org_settings({"recurring_enabled": True})
    org.enable(ALICE)
    series = insert_series(org, "Weekly review", colorId=SAVE)
    org.sync(ALICE)
    second = instances(org, series["id"])[1]
    org.calendar(ALICE).delete(calendarId="primary", eventId=second["id"]).execute()
    org.sync(ALICE)
    starts = [sf_time(e["StartDateTime"]) for e in occurrences(org)]
    first = org.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    assert starts == [first, first + timedelta(weeks=2), first + timedelta(weeks=3)]


def test_R17_moved_instance_updates_that_occurrence(org):
    org.store.set_org_settings({"recurring_enabled": True})
    org.enable(ALICE)
    series = insert_series(org, "Weekly review", colorId=SAVE)
    org.sync(ALICE)
    third = instances(org, series["id"])[2]
    moved = datetime.fromisoformat(third["start"]["dateTime"]) + timedelta(hours=2)
    org.patch(
        ALICE,
        third["id"],
        start={"dateTime": moved.isoformat(), "timeZone": "UTC"},
        end={"dateTime": (moved + timedelta(hours=1)).isoformat(), "timeZone": "UTC"},
        summary="Weekly review (later)",
    )
    org.sync(ALICE)
    events = occurrences(org)
    assert len(events) == 4
    first = org.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    expected = [first + timedelta(weeks=n) for n in range(4)]
    expected[2] += timedelta(hours=2)
    assert [sf_time(e["StartDateTime"]) for e in events] == expected
    assert [e["Subject"] for e in events].count("Weekly review (later)") == 1
    assert events[2]["Subject"] == "Weekly review (later)"


def test_R17_changed_rule_replaces_the_series(org):
    org.store.set_org_settings({"recurring_enabled": True})
    org.enable(ALICE)
    series = insert_series(org, "Weekly review", colorId=SAVE)
    org.sync(ALICE)
    old_ids = {e["Id"] for e in org.events()}
    org.patch(ALICE, series["id"], recurrence=["RRULE:FREQ=WEEKLY;COUNT=6"])
    org.sync(ALICE)
    events = occurrences(org)
    assert len(events) == 6
    assert not old_ids & {e["Id"] for e in events}  # deleted, then created anew
    assert all("COUNT=6" in e["Recurrence2PatternText"] for e in events)
    [mapping] = org.services.mappings.for_user(ALICE)
    assert "COUNT=6" in mapping.pattern and mapping.sf_event_id == events[0]["Id"]
    assert org.private_props(ALICE, series["id"])[P_KEY] == mapping.sync_key
    org.calendar(ALICE).delete(calendarId="primary", eventId=series["id"]).execute()
    org.sync(ALICE)
    assert org.events() == []  # the new series is known, so the organiser's cancel reaches it


def test_R17_rule_salesforce_cannot_express_is_saved_instance_by_instance(org):
    """R-17: BYMINUTE is outside Salesforce's RRULE subset: the instances inside the window are
    saved one by one (none after it), and the status text says so."""
    org.store.set_org_settings({"recurring_enabled": True})
    org.enable(ALICE)
    series = insert_series(org, "Odd rule", "RRULE:FREQ=WEEKLY;BYMINUTE=0;COUNT=12", colorId=SAVE)
    report = org.sync(ALICE)
    assert not report.failed
    first = org.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    window_end = org.now + timedelta(days=60)
    expected = [first + timedelta(weeks=n) for n in range(12)]
    expected = [s for s in expected if s <= window_end]
    events = occurrences(org)
    assert [sf_time(e["StartDateTime"]) for e in events] == expected
    assert len(expected) < 12  # the last instances lie beyond the window
    assert not any(e.get("IsRecurrence2") for e in events)
    status = org.private_props(ALICE, series["id"])[P_STATUS]
    assert status.startswith(STATUS_SAVED) and "instance by instance" in status
    assert org.get(ALICE, series["id"])["colorId"] == SAVE


def test_R17_R09_recurring_off_fails_CS007(org):
    """R-09: a tagged series while `recurring_enabled` is off fails with CS-007."""
    org.enable(ALICE)
    series = insert_series(org, "Weekly review", colorId=SAVE)
    org.sync(ALICE)
    assert org.events() == []
    assert org.get(ALICE, series["id"])["colorId"] == ERROR
    assert org.private_props(ALICE, series["id"])[P_ISSUE] == "CS-007"
    assert issue_codes(org, ALICE) == ["CS-007"]


def tag_one_instance(org) -> dict[str, Any]:
    org.store.set_org_settings({"recurring_enabled": True})
    org.enable(ALICE)
    series = insert_series(org, "Weekly review")
    org.sync(ALICE)
    assert org.events() == []
    second = instances(org, series["id"])[1]
    org.patch(ALICE, second["id"], colorId=SAVE)
    org.sync(ALICE)
    return second


def test_R17_tagging_one_instance_saves_the_series(org):
    """R-17: tagging any instance of a series saves the whole series, once."""
    second = tag_one_instance(org)
    events = occurrences(org)
    assert len(events) == 4 and all(e["IsRecurrence2"] for e in events)
    [mapping] = org.services.mappings.for_user(ALICE)
    assert mapping.pattern and mapping.sf_event_id == events[0]["Id"]
    props = org.private_props(ALICE, second["id"])
    assert "saved with its series" in props[P_STATUS] and P_ISSUE not in props
    assert org.get(ALICE, second["id"])["colorId"] == SAVE
    org.sync(ALICE, sweep=True)
    assert len(org.events()) == 4


def test_R17_R39_tagged_instance_carries_the_series_sync_key(org):
    second = tag_one_instance(org)
    [mapping] = org.services.mappings.for_user(ALICE)
    assert org.private_props(ALICE, second["id"])[P_KEY] == mapping.sync_key


# -- saving again after unsync --------------------------------------------------------


def test_R18_save_colour_after_unsync_saves_again(org):
    org.enable(ALICE)
    event = org.insert(ALICE, "Back and forth", attendees=(ALICE, JANE), colorId=SAVE)
    org.sync(ALICE)
    [first] = org.events()
    org.patch(ALICE, event["id"], colorId=UNSYNC)
    org.sync(ALICE)
    assert org.events() == []
    assert org.private_props(ALICE, event["id"]).get(P_UNSYNCED) == "1"
    org.patch(ALICE, event["id"], colorId=SAVE)
    org.sync(ALICE)
    [again] = org.events()
    assert again["Subject"] == "Back and forth" and again["Id"] != first["Id"]
    props = org.private_props(ALICE, event["id"])
    assert P_UNSYNCED not in props and props[P_STATUS].startswith(STATUS_SAVED)
    [mapping] = org.services.mappings.for_user(ALICE)
    assert mapping.sf_event_id == again["Id"] and props[P_KEY] == mapping.sync_key


# -- group calendars --------------------------------------------------------------------


def _group_calendar(org, *members: str) -> None:
    """The group calendar, shared with `members` as writers (the emulator's admin endpoint; on
    Google an owner shares it through acl.insert)."""
    org.gcal.admin(
        "POST",
        "calendars",
        {"id": GROUP, "summary": "Sales team", "members": dict.fromkeys(members, "writer")},
    )


def test_R19_group_calendar_events_saved_like_own_and_CS008_over_24_hours(org):
    """R-19: events of a listed group calendar are saved like the user's own; one longer than
    24 hours fails with CS-008."""
    _group_calendar(org, ALICE)
    org.enable(ALICE, group_calendars=[GROUP])
    start = org.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=2)

    def insert(summary: str, hours: int) -> dict[str, Any]:
        body = {
            "summary": summary,
            "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=hours)).isoformat(), "timeZone": "UTC"},
            "attendees": [{"email": JANE}],
            "colorId": SAVE,
        }
        return org.calendar(ALICE).insert(calendarId=GROUP, body=body).execute()

    insert("Team demo", 2)
    long = insert("Team marathon", 25)
    org.sync(ALICE)
    [sf] = org.events()
    assert sf["Subject"] == "Team demo" and sf["OwnerId"] == org.ids["alice"]
    after = org.calendar(ALICE).get(calendarId=GROUP, eventId=long["id"]).execute()
    assert after["extendedProperties"]["private"][P_ISSUE] == "CS-008"
    assert issue_codes(org, ALICE) == ["CS-008"]


# -- labels on each user's own copy ---------------------------------------------


def test_R02_R03_an_attendees_save_leaves_the_organisers_copy_alone(org):
    """R-03: Bob's save labels Bob's copy only; Alice's copy keeps her colour and properties."""
    org.enable(BOB)  # Alice organises but does not use calsync: Bob owns his SF Event
    event = org.insert(ALICE, "Alice's meeting", attendees=(ALICE, BOB, JANE), colorId="3")
    org.respond(BOB, event["id"], "accepted")
    before = org.get(ALICE, event["id"])
    org.patch(BOB, event["id"], colorId=SAVE)
    org.sync(BOB)
    [sf] = org.events()
    assert sf["OwnerId"] == org.ids["bob"]
    assert org.private_props(BOB, event["id"])[P_STATUS].startswith(STATUS_SAVED)
    after = org.get(ALICE, event["id"])
    assert after["colorId"] == "3"
    assert after.get("extendedProperties", {}).get("private", {}) == before.get(
        "extendedProperties", {}
    ).get("private", {})
    assert after["sequence"] == before["sequence"]


def test_R02_users_own_colour_restored_when_the_issue_resolves(org):
    """R-02: an autosaved item that fails turns the error colour; when the issue goes away
    (the item is made private, so autosave skips it) the user's own colour comes back."""
    org.enable(ALICE, autosave_appointments=True)
    event = insert_all_day(org, ALICE, "Long leave", length=15, colorId="5")
    org.sync(ALICE)
    assert org.get(ALICE, event["id"])["colorId"] == ERROR
    props = org.private_props(ALICE, event["id"])
    assert (props[P_ISSUE], props[P_PREV_COLOR]) == ("CS-003", "5")
    org.patch(ALICE, event["id"], visibility="private")
    org.sync(ALICE)
    assert org.get(ALICE, event["id"])["colorId"] == "5"
    props = org.private_props(ALICE, event["id"])
    assert not {P_ISSUE, P_STATUS, P_COLOR, P_PREV_COLOR} & set(props)
    assert org.services.issues.open_for_user(ALICE) == []
    assert org.events() == []


def test_R02_R18_untagging_a_failed_item_takes_the_error_label_off(org):
    """R-02, R-18: a manually saved item that failed, then given the unsync colour: the error
    label and the issue go, the colour is the user's default again."""
    org.enable(ALICE)
    event = org.insert(ALICE, "Who is this", attendees=(ALICE, NOBODY), colorId=SAVE)
    org.sync(ALICE)
    assert org.get(ALICE, event["id"])["colorId"] == ERROR
    org.patch(ALICE, event["id"], colorId=UNSYNC)
    org.sync(ALICE)
    assert org.get(ALICE, event["id"]).get("colorId") is None
    props = org.private_props(ALICE, event["id"])
    assert not {P_ISSUE, P_STATUS, P_COLOR} & set(props)
    assert org.services.issues.open_for_user(ALICE) == []


# -- issues close by themselves -------------------------------------------------------


def test_R31_ISE013_closes_once_the_user_accepts_and_the_item_saves(org):
    """R-31: Bob tagged a meeting he has not answered (ISE-013); once he accepts, the next
    session saves it and the issue and the error label go by themselves."""
    org.enable(BOB)
    event = org.insert(ALICE, "Unanswered", attendees=(ALICE, BOB, JANE))
    org.patch(BOB, event["id"], colorId=SAVE)
    org.sync(BOB)
    assert org.events() == []
    assert issue_codes(org, BOB) == ["ISE-013"]
    assert org.get(BOB, event["id"])["colorId"] == ERROR
    org.respond(BOB, event["id"], "accepted")
    org.sync(BOB)
    [sf] = org.events()
    assert sf["OwnerId"] == org.ids["bob"]
    assert org.services.issues.open_for_user(BOB) == []
    props = org.private_props(BOB, event["id"])
    assert P_ISSUE not in props and props[P_STATUS].startswith(STATUS_SAVED)
    assert org.get(BOB, event["id"])["colorId"] == SAVE
