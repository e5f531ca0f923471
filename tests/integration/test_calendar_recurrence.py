"""Calendar emulator: recurring series, instances, exceptions, singleEvents expansion."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

pytestmark = pytest.mark.integration

ALICE, BOB = "alice@example.com", "bob@example.com"
BERLIN = "Europe/Berlin"


def series(recurrence, start="2030-03-25T09:00:00", end="2030-03-25T10:00:00", tz=BERLIN, **extra):
    return {
        "summary": "Standup",
        "start": {"dateTime": start, "timeZone": tz},
        "end": {"dateTime": end, "timeZone": tz},
        "recurrence": recurrence,
        **extra,
    }


def starts(items):
    return [e["start"].get("dateTime") or e["start"]["date"] for e in items]


def test_instances_follow_rrule_exdate_rdate_across_dst(gcal):
    events = gcal.service(ALICE).events()
    master = events.insert(
        calendarId="primary",
        body=series(
            [
                "RRULE:FREQ=DAILY;COUNT=8",
                "EXDATE;TZID=Europe/Berlin:20300327T090000",
                "RDATE;TZID=Europe/Berlin:20300410T150000",
            ]
        ),
    ).execute()
    instances = events.instances(calendarId="primary", eventId=master["id"]).execute()["items"]
    # DST starts 2030-03-31 in Berlin: wall clock stays 09:00, the offset changes
    assert starts(instances) == [
        "2030-03-25T09:00:00+01:00",
        "2030-03-26T09:00:00+01:00",
        "2030-03-28T09:00:00+01:00",
        "2030-03-29T09:00:00+01:00",
        "2030-03-30T09:00:00+01:00",
        "2030-03-31T09:00:00+02:00",
        "2030-04-01T09:00:00+02:00",
        "2030-04-10T15:00:00+02:00",
    ]
    first = instances[0]
    assert first["id"] == f"{master['id']}_20300325T080000Z"
    assert first["recurringEventId"] == master["id"]
    assert first["originalStartTime"] == {
        "dateTime": "2030-03-25T09:00:00+01:00",
        "timeZone": BERLIN,
    }
    assert first["iCalUID"] == master["iCalUID"]
    assert "recurrence" not in first
    assert first["end"]["dateTime"] == "2030-03-25T10:00:00+01:00"


def test_recurring_event_needs_a_time_zone(gcal):
    body = {
        "summary": "x",
        "start": {"dateTime": "2030-03-25T09:00:00Z"},
        "end": {"dateTime": "2030-03-25T10:00:00Z"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"],
    }
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).events().insert(calendarId="primary", body=body).execute()
    assert caught.value.status_code == 400


def test_all_day_series_with_until_and_date_exdate(gcal):
    events = gcal.service(ALICE).events()
    master = events.insert(
        calendarId="primary",
        body={
            "summary": "Review",
            "start": {"date": "2030-03-01"},
            "end": {"date": "2030-03-02"},
            "recurrence": ["RRULE:FREQ=WEEKLY;UNTIL=20300322", "EXDATE;VALUE=DATE:20300308"],
        },
    ).execute()
    instances = events.instances(calendarId="primary", eventId=master["id"]).execute()["items"]
    assert starts(instances) == ["2030-03-01", "2030-03-15", "2030-03-22"]
    assert instances[1]["id"] == f"{master['id']}_20300315"
    assert instances[1]["end"] == {"date": "2030-03-16"}


def test_single_events_expands_and_exceptions_replace_instances(gcal):
    events = gcal.service(ALICE).events()
    master = events.insert(
        calendarId="primary", body=series(["RRULE:FREQ=DAILY;COUNT=3"])
    ).execute()
    second_id = f"{master['id']}_20300326T080000Z"
    moved = events.patch(
        calendarId="primary",
        eventId=second_id,
        body={
            "summary": "Moved standup",
            "start": {"dateTime": "2030-03-26T11:00:00", "timeZone": BERLIN},
            "end": {"dateTime": "2030-03-26T12:00:00", "timeZone": BERLIN},
        },
    ).execute()
    assert moved["id"] == second_id
    assert moved["recurringEventId"] == master["id"]
    assert moved["originalStartTime"]["dateTime"] == "2030-03-26T09:00:00+01:00"
    events.delete(calendarId="primary", eventId=f"{master['id']}_20300327T080000Z").execute()

    single = events.list(calendarId="primary", singleEvents=True, orderBy="startTime").execute()[
        "items"
    ]
    assert [e["summary"] for e in single] == ["Standup", "Moved standup"]
    assert all("recurrence" not in e for e in single)

    # singleEvents=false: the master plus its exceptions, the cancelled one included
    grouped = events.list(calendarId="primary").execute()["items"]
    by_id = {e["id"]: e for e in grouped}
    assert set(by_id) == {master["id"], second_id, f"{master['id']}_20300327T080000Z"}
    assert by_id[f"{master['id']}_20300327T080000Z"]["status"] == "cancelled"
    assert by_id[master["id"]]["recurrence"] == ["RRULE:FREQ=DAILY;COUNT=3"]

    # showDeleted with singleEvents shows the cancelled instance
    shown = events.list(calendarId="primary", singleEvents=True, showDeleted=True).execute()[
        "items"
    ]
    assert len(shown) == 3


def test_get_of_an_instance_and_of_a_non_instance(gcal):
    events = gcal.service(ALICE).events()
    master = events.insert(
        calendarId="primary", body=series(["RRULE:FREQ=WEEKLY;COUNT=2"])
    ).execute()
    instance = events.get(
        calendarId="primary", eventId=f"{master['id']}_20300401T070000Z"
    ).execute()
    assert instance["recurringEventId"] == master["id"]
    with pytest.raises(HttpError) as caught:
        events.get(calendarId="primary", eventId=f"{master['id']}_20300402T070000Z").execute()
    assert caught.value.status_code == 404


def test_instances_window_and_original_start(gcal):
    events = gcal.service(ALICE).events()
    master = events.insert(calendarId="primary", body=series(["RRULE:FREQ=DAILY"])).execute()
    window = events.instances(
        calendarId="primary",
        eventId=master["id"],
        timeMin="2030-04-05T00:00:00Z",
        timeMax="2030-04-08T00:00:00Z",
    ).execute()["items"]
    assert starts(window) == [
        "2030-04-05T09:00:00+02:00",
        "2030-04-06T09:00:00+02:00",
        "2030-04-07T09:00:00+02:00",
    ]
    one = events.instances(
        calendarId="primary", eventId=master["id"], originalStart="2030-04-06T07:00:00Z"
    ).execute()["items"]
    assert [e["id"] for e in one] == [f"{master['id']}_20300406T070000Z"]
    paged = events.instances(calendarId="primary", eventId=master["id"], maxResults=5).execute()
    assert len(paged["items"]) == 5 and "nextPageToken" in paged


def test_series_in_list_window_and_attendee_copies_of_exceptions(gcal):
    events = gcal.service(ALICE).events()
    master = events.insert(
        calendarId="primary", body=series(["RRULE:FREQ=WEEKLY;COUNT=4"], attendees=[{"email": BOB}])
    ).execute()
    listed = events.list(
        calendarId="primary", timeMin="2030-04-08T00:00:00Z", timeMax="2030-04-09T00:00:00Z"
    ).execute()
    assert [e["id"] for e in listed["items"]] == [master["id"]]  # third week falls in the window
    beyond = events.list(calendarId="primary", timeMin="2030-05-01T00:00:00Z").execute()
    assert beyond["items"] == []

    instance_id = f"{master['id']}_20300401T070000Z"
    events.patch(calendarId="primary", eventId=instance_id, body={"summary": "Special"}).execute()
    bobs = gcal.service(BOB).events().get(calendarId="primary", eventId=instance_id).execute()
    assert bobs["summary"] == "Special" and bobs["recurringEventId"] == master["id"]

    events.delete(calendarId="primary", eventId=master["id"]).execute()
    bob_single = gcal.service(BOB).events().list(calendarId="primary", singleEvents=True).execute()
    assert bob_single["items"] == []
    bobs_master = (
        gcal.service(BOB).events().get(calendarId="primary", eventId=master["id"]).execute()
    )
    assert bobs_master["status"] == "cancelled"
