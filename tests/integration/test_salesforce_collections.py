"""Salesforce emulator: sObject Collections create/update/upsert/delete/retrieve."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

pytestmark = pytest.mark.integration


def event(i, **extra):
    return {
        "attributes": {"type": "Event"},
        "Subject": f"E{i}",
        "StartDateTime": "2026-05-04T09:00:00Z",
        "DurationInMinutes": 30,
        **extra,
    }


def test_two_hundred_events_in_one_call_and_201_refused(salesforce_org, salesforce):
    results = salesforce.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": False, "records": [event(i) for i in range(200)]},
    )
    assert len(results) == 200
    assert all(r["success"] and r["id"].startswith("00U") for r in results)
    assert salesforce.query("SELECT COUNT() FROM Event")["totalSize"] == 200
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.restful(
            "composite/sobjects", method="POST", json={"records": [event(i) for i in range(201)]}
        )
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert salesforce.query("SELECT COUNT() FROM Event")["totalSize"] == 200
    assert salesforce_org.calls()["by_kind"]["collections_create"] == 2


def test_partial_failure_is_reported_per_record(salesforce):
    records = [
        event(0),
        event(1, Subject="x" * 256),
        event(2, IsPrivate=True, WhatId=salesforce.Account.create({"Name": "A"})["id"]),
    ]
    results = salesforce.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    assert results[0]["success"] is True
    assert results[1] == {
        "id": None,
        "success": False,
        "errors": [
            {
                "statusCode": "STRING_TOO_LONG",
                "message": results[1]["errors"][0]["message"],
                "fields": ["Subject"],
            }
        ],
    }
    assert results[2]["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert salesforce.query("SELECT COUNT() FROM Event")["totalSize"] == 1


def test_all_or_none_rolls_back(salesforce):
    records = [event(0), event(1, Subject="x" * 256), event(2)]
    results = salesforce.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    assert [r["success"] for r in results] == [False, False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[2]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert salesforce.query("SELECT COUNT() FROM Event")["totalSize"] == 0
    assert salesforce.query("SELECT COUNT() FROM EventRelation")["totalSize"] == 0


def test_update_and_delete_collections(salesforce):
    created = salesforce.restful(
        "composite/sobjects", method="POST", json={"records": [event(i) for i in range(3)]}
    )
    ids = [r["id"] for r in created]
    updates = [
        {"attributes": {"type": "Event"}, "id": ids[0], "Subject": "new"},
        {"attributes": {"type": "Event"}, "id": ids[1], "DurationInMinutes": -5},
        {"attributes": {"type": "Event"}, "Subject": "no id"},
    ]
    results = salesforce.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": updates}
    )
    assert [r["success"] for r in results] == [True, False, False]
    assert results[1]["id"] == ids[1]
    assert salesforce.Event.get(ids[0])["Subject"] == "new"

    results = salesforce.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": ",".join([ids[0], ids[2], "bogus"]), "allOrNone": "false"},
    )
    assert [r["success"] for r in results] == [True, True, False]
    again = salesforce.restful(
        "composite/sobjects", method="DELETE", params={"ids": ids[0], "allOrNone": "false"}
    )
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    fetched = salesforce.restful(
        "composite/sobjects/Event", params={"ids": ",".join(ids), "fields": "Subject"}
    )
    assert fetched[0] is None and fetched[1]["Subject"] == "E1" and fetched[2] is None


def test_upsert_collection_by_external_id(salesforce):
    first = salesforce.restful(
        "composite/sobjects/Event/Calsync_Key__c",
        method="PATCH",
        json={"allOrNone": False, "records": [event(i, Calsync_Key__c=f"k{i}") for i in range(3)]},
    )
    assert [r["created"] for r in first] == [True, True, True]
    second = salesforce.restful(
        "composite/sobjects/Event/Calsync_Key__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Event"}, "Calsync_Key__c": "k1", "Subject": "changed"},
                event(9, Calsync_Key__c="k9"),
            ],
        },
    )
    assert [(r["id"] == first[1]["id"], r["created"]) for r in second] == [
        (True, False),
        (False, True),
    ]
    assert salesforce.Event.get(first[1]["id"])["Subject"] == "changed"
