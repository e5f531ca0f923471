"""Calendar emulator: single events through google-api-python-client (insert/get/patch/update/delete)."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

pytestmark = pytest.mark.integration

ALICE = "alice@example.com"


def timed(
    summary: str = "Meeting",
    start: str = "2030-05-01T10:00:00Z",
    end: str = "2030-05-01T11:00:00Z",
    **extra,
):
    return {"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}, **extra}


def reason(error: HttpError) -> str:
    return error.error_details[0]["reason"]


def test_insert_then_get_returns_the_same_event(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(calendarId="primary", body=timed(description="agenda")).execute()
    assert created["kind"] == "calendar#event"
    assert created["status"] == "confirmed"
    assert created["iCalUID"] == created["id"] + "@google.com"
    assert created["organizer"] == {"email": ALICE, "self": True}
    fetched = events.get(calendarId=ALICE, eventId=created["id"]).execute()
    assert fetched["summary"] == "Meeting"
    assert fetched["description"] == "agenda"
    assert fetched["etag"] == created["etag"]
    assert fetched["sequence"] == 0


def test_all_day_and_zoned_events_keep_their_times(gcal):
    events = gcal.service(ALICE).events()
    day = events.insert(
        calendarId="primary",
        body={"summary": "Off", "start": {"date": "2030-06-01"}, "end": {"date": "2030-06-03"}},
    ).execute()
    zoned = events.insert(
        calendarId="primary",
        body={
            "summary": "Berlin",
            "start": {"dateTime": "2030-06-01T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2030-06-01T10:00:00", "timeZone": "Europe/Berlin"},
        },
    ).execute()
    assert day["start"] == {"date": "2030-06-01"} and day["end"] == {"date": "2030-06-03"}
    assert zoned["start"]["timeZone"] == "Europe/Berlin"

    def ids(time_min, time_max):
        listed = events.list(calendarId="primary", timeMin=time_min, timeMax=time_max).execute()
        return {e["id"] for e in listed["items"]}

    # 09:00-10:00 Berlin summer time is 07:00Z-08:00Z; timeMin is exclusive on the end
    assert ids("2030-06-01T07:30:00Z", "2030-06-01T07:45:00Z") == {zoned["id"], day["id"]}
    assert ids("2030-06-01T08:00:00Z", "2030-06-01T12:00:00Z") == {day["id"]}
    # timeMax is exclusive on the start; the all-day event ends (exclusive) on 2030-06-03
    assert ids("2030-05-31T00:00:00Z", "2030-06-01T00:00:00Z") == set()
    assert ids("2030-06-03T00:00:00Z", "2030-06-04T00:00:00Z") == set()


@pytest.mark.parametrize(
    "body, expected_reason",
    [
        pytest.param({"summary": "no times"}, "required", id="missing start"),
        pytest.param(
            timed(start="2030-05-01T12:00:00Z", end="2030-05-01T11:00:00Z"),
            "timeRangeEmpty",
            id="end before start",
        ),
        pytest.param(
            timed(start="2030-05-01T12:00:00"), "required", id="no offset and no time zone"
        ),
        pytest.param(timed(colorId="12"), "invalid", id="unknown colour"),
        pytest.param(timed(visibility="secret"), "invalid", id="unknown visibility"),
        pytest.param(
            timed(recurrence=["DTSTART:20300501T100000Z"]), "invalid", id="DTSTART line refused"
        ),
    ],
)
def test_invalid_events_are_refused_with_400(gcal, body, expected_reason):
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).events().insert(calendarId="primary", body=body).execute()
    assert caught.value.status_code == 400
    assert reason(caught.value) == expected_reason


def test_client_chosen_id_must_be_base32hex_and_unique(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(calendarId="primary", body=timed(id="caldav0001abc")).execute()
    assert created["id"] == "caldav0001abc"
    with pytest.raises(HttpError) as duplicate:
        events.insert(calendarId="primary", body=timed(id="caldav0001abc")).execute()
    assert duplicate.value.status_code == 409 and reason(duplicate.value) == "duplicate"
    for bad in ("abcd", "has-dash-0001", "wxyz00001", "UPPER0001"):
        with pytest.raises(HttpError) as invalid:
            events.insert(calendarId="primary", body=timed(id=bad)).execute()
        assert invalid.value.status_code == 400, bad


def test_patch_changes_named_fields_and_bumps_sequence_on_time_change(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(
        calendarId="primary", body=timed(location="Room 1", colorId="3")
    ).execute()
    patched = events.patch(
        calendarId="primary", eventId=created["id"], body={"summary": "Renamed"}
    ).execute()
    assert (
        patched["summary"] == "Renamed"
        and patched["location"] == "Room 1"
        and patched["colorId"] == "3"
    )
    assert patched["sequence"] == 0 and patched["etag"] != created["etag"]
    moved = events.patch(
        calendarId="primary",
        eventId=created["id"],
        body={"start": {"dateTime": "2030-05-01T10:30:00Z"}},
    ).execute()
    assert moved["sequence"] == 1
    assert moved["updated"] >= patched["updated"]


def test_reminder_change_keeps_updated(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(calendarId="primary", body=timed()).execute()
    changed = events.patch(
        calendarId="primary",
        eventId=created["id"],
        body={"reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 5}]}},
    ).execute()
    assert changed["reminders"]["overrides"] == [{"method": "popup", "minutes": 5}]
    assert changed["updated"] == created["updated"]
    assert changed["etag"] != created["etag"]


def test_update_replaces_the_whole_event(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(
        calendarId="primary", body=timed(location="Room 1", description="d")
    ).execute()
    replaced = events.update(
        calendarId="primary", eventId=created["id"], body=timed("Replaced")
    ).execute()
    assert replaced["summary"] == "Replaced"
    assert "location" not in replaced and "description" not in replaced
    assert replaced["id"] == created["id"] and replaced["iCalUID"] == created["iCalUID"]


def test_event_type_cannot_change(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(calendarId="primary", body=timed(eventType="focusTime")).execute()
    assert created["eventType"] == "focusTime"
    with pytest.raises(HttpError) as caught:
        events.patch(
            calendarId="primary", eventId=created["id"], body={"eventType": "default"}
        ).execute()
    assert caught.value.status_code == 400


def test_delete_leaves_a_tombstone_and_second_delete_is_410(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(calendarId="primary", body=timed()).execute()
    assert events.delete(calendarId="primary", eventId=created["id"]).execute() == ""
    tombstone = events.get(calendarId="primary", eventId=created["id"]).execute()
    assert tombstone["status"] == "cancelled"
    assert events.list(calendarId="primary").execute()["items"] == []
    shown = events.list(calendarId="primary", showDeleted=True).execute()["items"]
    assert [e["id"] for e in shown] == [created["id"]]
    with pytest.raises(HttpError) as again:
        events.delete(calendarId="primary", eventId=created["id"]).execute()
    assert again.value.status_code == 410 and reason(again.value) == "deleted"


def test_unknown_event_is_404(gcal):
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).events().get(calendarId="primary", eventId="doesnotexist1").execute()
    assert caught.value.status_code == 404 and reason(caught.value) == "notFound"


def test_extended_property_keys_and_values_are_trimmed_silently(gcal):
    events = gcal.service(ALICE).events()
    long_key, ok_key = "k" * 45, "k" * 44
    created = events.insert(
        calendarId="primary",
        body=timed(
            extendedProperties={
                "private": {long_key: "x", ok_key: "v" * 1500},
                "shared": {"s": "1"},
            }
        ),
    ).execute()
    private = created["extendedProperties"]["private"]
    assert long_key not in private
    assert private[ok_key] == "v" * 1024
    assert created["extendedProperties"]["shared"] == {"s": "1"}


def test_extended_property_patch_merges_and_null_deletes(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(
        calendarId="primary", body=timed(extendedProperties={"private": {"a": "1", "b": "2"}})
    ).execute()
    patched = events.patch(
        calendarId="primary",
        eventId=created["id"],
        body={"extendedProperties": {"private": {"a": None, "c": "3"}}},
    ).execute()
    assert patched["extendedProperties"]["private"] == {"b": "2", "c": "3"}


@pytest.mark.parametrize(
    "private",
    [
        pytest.param({f"k{i}": "v" for i in range(301)}, id="301 properties"),
        pytest.param({f"k{i}": "v" * 1024 for i in range(33)}, id="over 32 kB"),
    ],
)
def test_extended_property_totals_over_the_limit_are_400(gcal, private):
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).events().insert(
            calendarId="primary", body=timed(extendedProperties={"private": private})
        ).execute()
    assert caught.value.status_code == 400


def test_attachments_need_supports_attachments(gcal):
    events = gcal.service(ALICE).events()
    attachment = {"fileUrl": "https://drive.google.com/file/d/abc", "title": "Deck"}
    ignored = events.insert(calendarId="primary", body=timed(attachments=[attachment])).execute()
    assert "attachments" not in ignored
    kept = events.insert(
        calendarId="primary", body=timed(attachments=[attachment]), supportsAttachments=True
    ).execute()
    # fileId is read-only: Google takes it from the Drive link (emulators/.../attachments.py)
    assert kept["attachments"] == [{**attachment, "fileId": "abc"}]
    with pytest.raises(HttpError):
        events.insert(
            calendarId="primary",
            body=timed(attachments=[attachment] * 26),
            supportsAttachments=True,
        ).execute()


def test_visibility_transparency_and_colour_round_trip(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(
        calendarId="primary",
        body=timed(visibility="private", transparency="transparent", colorId="11"),
    ).execute()
    fetched = events.get(calendarId="primary", eventId=created["id"]).execute()
    assert (fetched["visibility"], fetched["transparency"], fetched["colorId"]) == (
        "private",
        "transparent",
        "11",
    )


def test_if_match_with_a_stale_etag_is_412(gcal):
    service = gcal.service(ALICE)
    created = service.events().insert(calendarId="primary", body=timed()).execute()
    service.events().patch(
        calendarId="primary", eventId=created["id"], body={"summary": "v2"}
    ).execute()
    request = service.events().patch(
        calendarId="primary", eventId=created["id"], body={"summary": "v3"}
    )
    request.headers["If-Match"] = created["etag"]
    with pytest.raises(HttpError) as caught:
        request.execute()
    assert caught.value.status_code == 412 and reason(caught.value) == "conditionNotMet"
