"""Salesforce emulator: getUpdated/getDeleted feeds, API call counting and limits, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

pytestmark = pytest.mark.integration


def body(subject):
    return {"Subject": subject, "StartDateTime": "2026-05-04T09:00:00Z", "DurationInMinutes": 30}


def emulator_now(salesforce_org):
    return datetime.fromisoformat(
        salesforce_org.admin("POST", "clock", json={"advance_seconds": 0})["now"]
    )


def test_updated_and_deleted_feeds(salesforce_org, salesforce):
    start = emulator_now(salesforce_org) - timedelta(minutes=1)
    created = salesforce.Event.create(body("a"))["id"]
    changed = salesforce.Event.create(body("b"))["id"]
    removed = salesforce.Event.create(body("c"))["id"]
    # the feeds drop seconds and only cover whole minutes up to now: let a minute pass
    salesforce_org.admin("POST", "clock", json={"advance_seconds": 120})
    mark = emulator_now(salesforce_org)
    salesforce.Event.update(changed, {"Subject": "b2"})
    salesforce.Event.delete(removed)
    salesforce_org.admin("POST", "clock", json={"advance_seconds": 120})
    end = emulator_now(salesforce_org) + timedelta(minutes=5)

    everything = salesforce.Event.updated(start, end)
    assert set(everything["ids"]) == {created, changed}
    assert everything["latestDateCovered"] <= end.strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    since_mark = salesforce.Event.updated(mark - timedelta(minutes=1), end)
    assert since_mark["ids"] == [changed]
    gone = salesforce.Event.deleted(mark - timedelta(minutes=1), end)
    assert [d["id"] for d in gone["deletedRecords"]] == [removed]
    assert gone["deletedRecords"][0]["deletedDate"]
    assert "earliestDateAvailable" in gone and "latestDateCovered" in gone
    # latestDateCovered is the next start: nothing new after it
    covered = datetime.strptime(gone["latestDateCovered"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert salesforce.Event.updated(covered, end + timedelta(minutes=5))["ids"] == []


def test_feed_window_errors(salesforce):
    now = datetime.now(UTC)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.updated(now, now - timedelta(hours=1))
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Event.deleted(now - timedelta(days=31), now)


def test_api_call_counter_matches_calls_made(salesforce_org, salesforce):
    event_id = salesforce.Event.create(body("x"))["id"]  # 1 create
    salesforce.Event.get(event_id)  # 1 get
    salesforce.Event.update(event_id, {"Subject": "y"})  # 1 update
    salesforce.query("SELECT Id FROM Event")  # 1 query
    salesforce.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "A"}]},
    )
    salesforce.Event.delete(event_id)  # 1 delete
    limits = salesforce.limits()  # 1 limits (counted before it answers)
    calls = salesforce_org.calls()
    assert calls["total"] == 7
    assert calls["by_kind"] == {
        "create": 1,
        "get": 1,
        "update": 1,
        "query": 1,
        "collections_create": 1,
        "delete": 1,
        "limits": 1,
    }
    daily = limits["DailyApiRequests"]
    assert daily["Max"] - daily["Remaining"] == 7
    assert salesforce.api_usage["api-usage"].used == 7


def test_exhausted_limit_gives_403(salesforce_org, salesforce):
    salesforce_org.admin("POST", "limits", json={"max": 3, "used": 0})
    for _ in range(3):
        salesforce.query("SELECT Id FROM Event")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        salesforce.query("SELECT Id FROM Event")
    assert caught.value.status == 403
    assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert salesforce_org.calls()["total"] == 3


def test_fault_next_n_calls_503(salesforce_org, salesforce):
    salesforce_org.admin("POST", "faults", json={"kind": "503", "count": 2})
    for _ in range(2):
        with pytest.raises(SalesforceError) as caught:
            salesforce.query("SELECT Id FROM Event")
        assert caught.value.status == 503
    assert salesforce.query("SELECT Id FROM Event")["totalSize"] == 0
    assert salesforce_org.calls()["injected_faults"] == {"503": 2}


def test_fault_unable_to_lock_row_on_writes(salesforce_org, salesforce):
    salesforce_org.admin(
        "POST", "faults", json={"kind": "UNABLE_TO_LOCK_ROW", "count": 2, "methods": ["POST"]}
    )
    salesforce.query("SELECT Id FROM Event")  # a GET is not affected
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.create(body("x"))
    assert caught.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    results = salesforce.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Event"}, **body("y")}]},
    )
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert salesforce.query("SELECT COUNT() FROM Event")["totalSize"] == 0
    assert salesforce.Event.create(body("z"))["success"] is True


def test_fault_fraction_and_request_limit(salesforce_org, salesforce):
    salesforce_org.admin(
        "POST", "faults", json={"kind": "REQUEST_LIMIT_EXCEEDED", "fraction": 0.5, "seed": 7}
    )
    refused = 0
    for _ in range(40):
        try:
            salesforce.query("SELECT Id FROM Event")
        except SalesforceRefusedRequest as exc:
            assert exc.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
            refused += 1
    assert 8 <= refused <= 32
    salesforce_org.admin("DELETE", "faults")
    salesforce.query("SELECT Id FROM Event")
    assert salesforce_org.calls()["total"] == 40 - refused + 1


def test_admin_seed_and_dump(salesforce_org, salesforce):
    refs = salesforce_org.admin(
        "POST",
        "seed",
        json={
            "Account": [{"_ref": "acme", "Name": "Acme"}],
            "Contact": [{"_ref": "jo", "LastName": "Jo", "AccountId": "@acme"}],
        },
    )["refs"]
    contact = salesforce.Contact.get(refs["jo"])
    assert contact["AccountId"] == refs["acme"]
    dumped = salesforce_org.records("Contact")
    assert [c["Id"] for c in dumped] == [refs["jo"]]
    assert salesforce_org.calls()["total"] == 1  # admin calls are not API calls
