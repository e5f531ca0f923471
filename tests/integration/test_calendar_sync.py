"""Calendar emulator: list filters, paging and incremental sync tokens."""

from __future__ import annotations

import pytest
import requests
from googleapiclient.errors import HttpError

pytestmark = pytest.mark.integration

ALICE = "alice@example.com"


def event(summary: str, hour: int = 10, day: int = 1, **extra):
    return {
        "summary": summary,
        "start": {"dateTime": f"2030-04-{day:02d}T{hour:02d}:00:00Z"},
        "end": {"dateTime": f"2030-04-{day:02d}T{hour + 1:02d}:00:00Z"},
        **extra,
    }


def full_sync(events, **params):
    """Page through a full listing; returns (items, nextSyncToken, number of pages)."""
    items, token, pages = [], None, 0
    request = events.list(calendarId="primary", **params)
    while request is not None:
        page = request.execute()
        pages += 1
        items += page["items"]
        assert ("nextPageToken" in page) != ("nextSyncToken" in page)
        token = page.get("nextSyncToken")
        request = events.list_next(request, page)
    return items, token, pages


def test_full_sync_then_three_changes_then_incremental_returns_exactly_them(gcal):
    events = gcal.service(ALICE).events()
    kept = [
        events.insert(calendarId="primary", body=event(f"e{i}", day=i + 1)).execute()
        for i in range(5)
    ]
    items, token, _ = full_sync(events)
    assert {e["id"] for e in items} == {e["id"] for e in kept}

    added = events.insert(calendarId="primary", body=event("new", day=9)).execute()
    events.patch(calendarId="primary", eventId=kept[0]["id"], body={"summary": "changed"}).execute()
    events.delete(calendarId="primary", eventId=kept[1]["id"]).execute()

    changes = events.list(calendarId="primary", syncToken=token).execute()
    by_id = {e["id"]: e for e in changes["items"]}
    assert set(by_id) == {added["id"], kept[0]["id"], kept[1]["id"]}
    assert by_id[kept[0]["id"]]["summary"] == "changed"
    assert by_id[kept[1]["id"]]["status"] == "cancelled"
    assert by_id[added["id"]]["status"] == "confirmed"
    assert "nextSyncToken" in changes

    quiet = events.list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute()
    assert quiet["items"] == []


def test_forged_sync_token_is_410_full_sync_required(gcal):
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).events().list(calendarId="primary", syncToken="CPforgedtoken").execute()
    assert caught.value.status_code == 410
    assert caught.value.error_details[0]["reason"] == "fullSyncRequired"


def test_expired_sync_token_is_410(gcal):
    events = gcal.service(ALICE).events()
    _, token, _ = full_sync(events)
    gcal.admin("POST", "sync-tokens/expire")
    with pytest.raises(HttpError) as caught:
        events.list(calendarId="primary", syncToken=token).execute()
    assert caught.value.status_code == 410


def test_sync_token_of_another_calendar_is_410(gcal):
    _, bobs_token, _ = full_sync(gcal.service("bob@example.com").events())
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).events().list(calendarId="primary", syncToken=bobs_token).execute()
    assert caught.value.status_code == 410


@pytest.mark.parametrize(
    "params",
    [
        {"timeMin": "2030-01-01T00:00:00Z"},
        {"timeMax": "2030-01-01T00:00:00Z"},
        {"updatedMin": "2030-01-01T00:00:00Z"},
        {"iCalUID": "x@google.com"},
        {"orderBy": "updated"},
        {"q": "word"},
        {"privateExtendedProperty": "k=v"},
        {"sharedExtendedProperty": "k=v"},
        {"showDeleted": False},
    ],
    ids=lambda p: next(iter(p)),
)
def test_parameters_refused_with_a_sync_token(gcal, params):
    events = gcal.service(ALICE).events()
    _, token, _ = full_sync(events)
    with pytest.raises(HttpError) as caught:
        events.list(calendarId="primary", syncToken=token, **params).execute()
    assert caught.value.status_code == 400


def test_paging_gives_the_sync_token_only_on_the_last_page(gcal):
    events = gcal.service(ALICE).events()
    for i in range(7):
        events.insert(calendarId="primary", body=event(f"e{i}", day=i + 1)).execute()
    first = events.list(calendarId="primary", maxResults=3).execute()
    assert len(first["items"]) == 3 and "nextPageToken" in first and "nextSyncToken" not in first
    items, token, pages = full_sync(events, maxResults=3)
    assert pages == 3 and len({e["id"] for e in items}) == 7 and token


def test_incremental_sync_pages_too(gcal):
    events = gcal.service(ALICE).events()
    _, token, _ = full_sync(events)
    created = {
        events.insert(calendarId="primary", body=event(f"e{i}", day=i + 1)).execute()["id"]
        for i in range(5)
    }
    items, next_token, pages = full_sync(events, syncToken=token, maxResults=2)
    assert pages == 3 and {e["id"] for e in items} == created and next_token


def test_change_during_paging_shows_up_in_the_next_sync(gcal):
    events = gcal.service(ALICE).events()
    for i in range(4):
        events.insert(calendarId="primary", body=event(f"e{i}", day=i + 1)).execute()
    request = events.list(calendarId="primary", maxResults=2)
    first = request.execute()
    late = events.insert(calendarId="primary", body=event("late", day=20)).execute()
    second = events.list_next(request, first).execute()
    while "nextPageToken" in second:
        second = events.list(
            calendarId="primary", maxResults=2, pageToken=second["nextPageToken"]
        ).execute()
    changes = events.list(calendarId="primary", syncToken=second["nextSyncToken"]).execute()
    assert late["id"] in {e["id"] for e in changes["items"]}


def test_time_window_filters_are_exclusive(gcal):
    events = gcal.service(ALICE).events()
    ten = events.insert(calendarId="primary", body=event("ten", hour=10)).execute()  # 10-11
    noon = events.insert(calendarId="primary", body=event("noon", hour=12)).execute()  # 12-13

    def ids(time_min, time_max):
        return {
            e["id"]
            for e in events.list(
                calendarId="primary", timeMin=time_min, timeMax=time_max
            ).execute()["items"]
        }

    assert ids("2030-04-01T11:00:00Z", "2030-04-01T12:00:00Z") == set()
    assert ids("2030-04-01T10:59:00Z", "2030-04-01T12:01:00Z") == {ten["id"], noon["id"]}
    assert ids("2030-04-01T11:00:00+01:00", "2030-04-01T12:30:00Z") == {ten["id"], noon["id"]}
    with pytest.raises(HttpError) as caught:
        events.list(calendarId="primary", timeMin="2030-04-01T11:00:00").execute()
    assert caught.value.status_code == 400


def test_show_deleted_updated_min_ical_uid_and_private_property_filters(gcal):
    events = gcal.service(ALICE).events()
    tagged = events.insert(
        calendarId="primary",
        body=event("tagged", extendedProperties={"private": {"sf": "1", "kind": "call"}}),
    ).execute()
    other = events.insert(
        calendarId="primary", body=event("other", extendedProperties={"private": {"sf": "2"}})
    ).execute()
    gone = events.insert(calendarId="primary", body=event("gone")).execute()
    events.delete(calendarId="primary", eventId=gone["id"]).execute()

    def ids(**params):
        return {e["id"] for e in events.list(calendarId="primary", **params).execute()["items"]}

    assert ids() == {tagged["id"], other["id"]}
    assert ids(showDeleted=True) == {tagged["id"], other["id"], gone["id"]}
    assert ids(privateExtendedProperty="sf=1") == {tagged["id"]}
    assert ids(privateExtendedProperty=["sf=1", "kind=call"]) == {tagged["id"]}
    assert ids(privateExtendedProperty=["sf=2", "kind=call"]) == set()
    assert ids(iCalUID=other["iCalUID"]) == {other["id"]}
    # updatedMin includes deletions since then even without showDeleted
    deleted = events.get(calendarId="primary", eventId=gone["id"]).execute()
    assert ids(updatedMin=deleted["updated"]) == {gone["id"]}
    assert ids(q="tagged") == {tagged["id"]}


def test_order_by_start_time_needs_single_events(gcal):
    events = gcal.service(ALICE).events()
    late = events.insert(calendarId="primary", body=event("late", hour=15)).execute()
    early = events.insert(calendarId="primary", body=event("early", hour=8)).execute()
    listed = events.list(calendarId="primary", singleEvents=True, orderBy="startTime").execute()[
        "items"
    ]
    assert [e["id"] for e in listed] == [early["id"], late["id"]]
    with pytest.raises(HttpError) as caught:
        events.list(calendarId="primary", orderBy="startTime").execute()
    assert caught.value.status_code == 400
    by_update = events.list(calendarId="primary", orderBy="updated").execute()["items"]
    assert [e["id"] for e in by_update] == [late["id"], early["id"]]


def test_admin_lists_raw_events_and_counts_calls(gcal):
    events = gcal.service(ALICE).events()
    created = events.insert(calendarId="primary", body=event("x")).execute()
    events.get(calendarId="primary", eventId=created["id"]).execute()
    events.get(calendarId="primary", eventId=created["id"]).execute()
    raw = gcal.raw_events(ALICE)
    assert [r["data"]["id"] for r in raw] == [created["id"]]
    counters = gcal.counters()
    assert counters["calendar.events.insert"] == 1 and counters["calendar.events.get"] == 2
    assert requests.get(f"{gcal.url}/_admin/nothing-here", timeout=5).status_code == 404
