"""Calendar emulator: batch requests as google-api-python-client's BatchHttpRequest sends them."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

pytestmark = pytest.mark.integration

ALICE = "alice@example.com"


def event(i: int):
    return {
        "summary": f"e{i}",
        "start": {"dateTime": f"2030-02-01T{i % 24:02d}:00:00Z"},
        "end": {"dateTime": f"2030-02-01T{i % 24:02d}:30:00Z"},
    }


def test_batch_of_twenty_patches(gcal):
    service = gcal.service(ALICE)
    created = [
        service.events().insert(calendarId="primary", body=event(i)).execute() for i in range(20)
    ]
    results: dict[str, dict] = {}

    def collect(request_id, response, exception):
        assert exception is None, exception
        results[response["id"]] = response

    batch = BatchHttpRequest(callback=collect, batch_uri=gcal.batch_uri)
    for e in created:
        batch.add(
            service.events().patch(
                calendarId="primary",
                eventId=e["id"],
                body={"colorId": "9", "extendedProperties": {"private": {"sfid": e["summary"]}}},
            )
        )
    batch.execute()

    assert set(results) == {e["id"] for e in created}
    assert all(r["colorId"] == "9" for r in results.values())
    stored = (
        service.events()
        .list(calendarId="primary", privateExtendedProperty="sfid=e7")
        .execute()["items"]
    )
    assert [e["summary"] for e in stored] == ["e7"]
    counters = gcal.counters()
    assert counters["batch"] == 1 and counters["calendar.events.patch"] == 20


def test_batch_reports_each_calls_own_error(gcal):
    service = gcal.service(ALICE)
    outcomes = {}

    def collect(request_id, response, exception):
        outcomes[request_id] = exception if exception is not None else response

    batch = BatchHttpRequest(callback=collect, batch_uri=gcal.batch_uri)
    batch.add(service.events().insert(calendarId="primary", body=event(1)), request_id="ok")
    batch.add(
        service.events().get(calendarId="primary", eventId="missing0001"), request_id="missing"
    )
    batch.add(service.events().list(calendarId="bob@example.com"), request_id="forbidden")
    batch.add(
        service.events().delete(calendarId="primary", eventId="missing0002"), request_id="delete"
    )
    batch.execute()

    assert outcomes["ok"]["summary"] == "e1"
    assert isinstance(outcomes["missing"], HttpError) and outcomes["missing"].status_code == 404
    assert isinstance(outcomes["forbidden"], HttpError) and outcomes["forbidden"].status_code == 403
    assert outcomes["delete"].status_code == 404


def test_batch_delete_answers_no_content(gcal):
    service = gcal.service(ALICE)
    created = service.events().insert(calendarId="primary", body=event(3)).execute()
    outcomes = []
    batch = BatchHttpRequest(
        callback=lambda rid, resp, exc: outcomes.append((resp, exc)), batch_uri=gcal.batch_uri
    )
    batch.add(service.events().delete(calendarId="primary", eventId=created["id"]))
    batch.execute()
    assert outcomes == [("", None)] or outcomes == [(None, None)]
    assert (
        service.events().get(calendarId="primary", eventId=created["id"]).execute()["status"]
        == "cancelled"
    )
