"""Salesforce emulator: faults that look like production, through simple-salesforce (issue 9).

FIELD_CUSTOM_VALIDATION_EXCEPTION refuses chosen records as a validation rule (or a delete
trigger) does, on every endpoint; APPLY_THEN_503 commits a write and loses its answer.
"""

from __future__ import annotations

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

pytestmark = pytest.mark.integration

REFUSED = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
MESSAGE = "Meetings with this subject cannot be logged."


def body(subject, **extra):
    return {
        "Subject": subject,
        "StartDateTime": "2026-05-04T09:00:00Z",
        "DurationInMinutes": 30,
        **extra,
    }


def item(subject, **extra):
    return {"attributes": {"type": "Event"}, **body(subject, **extra)}


def refuse(org, **spec):
    org.admin("POST", "faults", json={"kind": REFUSED, "sobject": "Event", **spec})


def subjects(salesforce):
    rows = salesforce.query("SELECT Subject FROM Event ORDER BY Subject")["records"]
    return [r["Subject"] for r in rows]


def collection(salesforce, method, records, all_or_none=False):
    return salesforce.restful(
        "composite/sobjects",
        method=method,
        json={"allOrNone": all_or_none, "records": records},
    )


# -- FIELD_CUSTOM_VALIDATION_EXCEPTION: single-record calls ------------------------------------
def test_create_is_refused_like_a_validation_rule_every_time(salesforce_org, salesforce):
    refuse(salesforce_org, match={"Subject": "Board meeting"}, message=MESSAGE)
    for _ in range(3):  # permanent: a retry gets the same answer
        with pytest.raises(SalesforceMalformedRequest) as caught:
            salesforce.Event.create(body("Board meeting"))
        assert caught.value.status == 400
        assert caught.value.content == [{"message": MESSAGE, "errorCode": REFUSED, "fields": []}]
    assert salesforce.Event.create(body("Standup"))["success"] is True
    assert subjects(salesforce) == ["Standup"]
    calls = salesforce_org.calls()
    assert calls["by_kind"]["create"] == 4  # the org did the work of refusing: counted
    assert calls["injected_faults"] == {REFUSED: 3}


def test_update_is_refused_on_the_record_as_it_would_be_saved(salesforce_org, salesforce):
    kept = salesforce.Event.create(body("Standup"))["id"]
    refuse(salesforce_org, match={"Subject": "Secret"}, fields=["Subject"])
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.update(kept, {"Subject": "Secret"})  # the new value is what is checked
    assert caught.value.content[0]["errorCode"] == REFUSED
    assert caught.value.content[0]["fields"] == ["Subject"]
    assert salesforce.Event.get(kept)["Subject"] == "Standup"
    assert salesforce.Event.update(kept, {"Location": "Room 1"}) == 204


def test_records_chosen_by_id_refuse_updates_and_deletes(salesforce_org, salesforce):
    chosen = salesforce.Event.create(body("Chosen"))["id"]
    other = salesforce.Event.create(body("Other"))["id"]
    refuse(salesforce_org, ids=[chosen[:15]])  # 15- or 18-character ids
    for write in (
        lambda: salesforce.Event.update(chosen, {"Location": "Room 1"}),
        lambda: salesforce.Event.delete(chosen),
    ):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            write()
        assert caught.value.status == 400
        assert caught.value.content[0]["errorCode"] == REFUSED
    assert salesforce.Event.get(chosen)["Location"] is None
    assert salesforce.Event.delete(other) == 204
    assert subjects(salesforce) == ["Chosen"]


def test_delete_refusal_can_be_left_out(salesforce_org, salesforce):
    chosen = salesforce.Event.create(body("Chosen"))["id"]
    refuse(salesforce_org, ids=[chosen], operations=["create", "update"])
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Event.update(chosen, {"Location": "Room 1"})
    assert salesforce.Event.delete(chosen) == 204


def test_upsert_by_external_id_is_refused_both_ways(salesforce_org, salesforce):
    salesforce.Event.upsert("Calsync_Key__c/u1:later", body("Later"))
    refuse(salesforce_org, match={"Calsync_Key__c": ["u1:new", "u1:later"]})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.upsert("Calsync_Key__c/u1:new", body("New"))  # would create
    assert caught.value.content[0]["errorCode"] == REFUSED
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Event.upsert("Calsync_Key__c/u1:later", {"Subject": "Changed"})  # would update
    assert subjects(salesforce) == ["Later"]
    assert salesforce.Event.upsert("Calsync_Key__c/u1:other", body("Other")) == 201


def test_series_delete_is_refused_when_an_occurrence_is(salesforce_org, salesforce):
    first = salesforce.Event.create(
        body("Weekly", Recurrence2PatternText="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3")
    )["id"]
    rows = salesforce.query("SELECT Id FROM Event WHERE IsRecurrence2 = true")["records"]
    last = salesforce.query(
        "SELECT Id FROM Event WHERE IsRecurrence2 = true ORDER BY StartDateTime DESC LIMIT 1"
    )["records"][0]["Id"]
    refuse(salesforce_org, ids=[last], operations=["delete"])
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.restful(f"sobjects/Event/{first}/fromThisEventOnwards", method="DELETE")
    assert caught.value.content[0]["errorCode"] == REFUSED
    left = salesforce.query("SELECT Id FROM Event WHERE IsRecurrence2 = true")["records"]
    assert len(left) == len(rows) == 3  # all or nothing


def test_count_refuses_that_many_writes_then_accepts(salesforce_org, salesforce):
    refuse(salesforce_org, match={"Subject": "Flaky"}, count=2)
    for _ in range(2):
        with pytest.raises(SalesforceMalformedRequest):
            salesforce.Event.create(body("Flaky"))
    assert salesforce.Event.create(body("Flaky"))["success"] is True
    assert salesforce_org.admin("GET", "faults")["records"] == []


def test_fraction_chooses_the_same_records_every_time(salesforce_org, salesforce):
    refuse(salesforce_org, fraction=0.5, seed=11)
    keys = [f"u1:item{i}" for i in range(40)]

    def refused_keys(make):
        out = set()
        for key in keys:
            try:
                make(key)
            except SalesforceMalformedRequest as exc:
                assert exc.content[0]["errorCode"] == REFUSED
                out.add(key)
        return out

    def upsert(key):
        salesforce.Event.upsert(f"Calsync_Key__c/{key}", body(key))

    first = refused_keys(upsert)
    assert 8 <= len(first) <= 32
    assert refused_keys(upsert) == first  # retries: same records refused, the others updated
    saved = {r["Calsync_Key__c"] for r in salesforce_org.records("Event")}
    assert saved == set(keys) - first


def test_fraction_without_a_key_follows_the_subject(salesforce_org, salesforce):
    salesforce_org.admin("POST", "config", json={"external_id_field": False})
    refuse(salesforce_org, fraction=0.5, seed=3)
    names = [f"Meeting {i}" for i in range(30)]

    def refused_creates():
        results = collection(salesforce, "POST", [item(name) for name in names])
        return {name for name, r in zip(names, results, strict=True) if not r["success"]}

    first = refused_creates()
    assert 0 < len(first) < len(names)
    assert refused_creates() == first  # a retried create meets the same answer
    assert len(subjects(salesforce)) == 2 * (len(names) - len(first))


# -- FIELD_CUSTOM_VALIDATION_EXCEPTION: sObject Collections -----------------------------------
def test_collection_create_refuses_one_record_and_saves_the_others(salesforce_org, salesforce):
    refuse(salesforce_org, match={"Subject": "Refused"}, message=MESSAGE)
    results = collection(salesforce, "POST", [item("A"), item("Refused"), item("B")])
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "id": None,
        "success": False,
        "errors": [{"statusCode": REFUSED, "message": MESSAGE, "fields": []}],
    }
    assert subjects(salesforce) == ["A", "B"]
    assert salesforce_org.calls()["by_kind"]["collections_create"] == 1


def test_collection_all_or_none_rolls_everything_back(salesforce_org, salesforce):
    refuse(salesforce_org, match={"Subject": "Refused"})
    results = collection(salesforce, "POST", [item("A"), item("Refused"), item("B")], True)
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        REFUSED,
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]
    assert all(r["id"] is None and r["success"] is False for r in results)
    assert subjects(salesforce) == []


def test_collection_update_upsert_and_delete_refuse_per_record(salesforce_org, salesforce):
    created = collection(salesforce, "POST", [item("A"), item("B"), item("C")])
    a, b, c = (r["id"] for r in created)
    refuse(salesforce_org, ids=[b])
    updated = collection(
        salesforce,
        "PATCH",
        [{"attributes": {"type": "Event"}, "id": i, "Location": "Room 9"} for i in (a, b, c)],
    )
    assert [r["success"] for r in updated] == [True, False, True]
    assert updated[1]["id"] == b and updated[1]["errors"][0]["statusCode"] == REFUSED
    rows = salesforce.query("SELECT Id, Location FROM Event")["records"]
    assert {r["Id"]: r["Location"] for r in rows} == {a: "Room 9", b: None, c: "Room 9"}

    refuse(salesforce_org, match={"Calsync_Key__c": "u1:k2"})
    upserted = salesforce.restful(
        "composite/sobjects/Event/Calsync_Key__c",
        method="PATCH",
        json={"records": [item("K1", Calsync_Key__c="u1:k1"), item("K2", Calsync_Key__c="u1:k2")]},
    )
    assert [r["success"] for r in upserted] == [True, False]
    assert upserted[1]["errors"][0]["statusCode"] == REFUSED

    deleted = salesforce.restful(
        "composite/sobjects", method="DELETE", params={"ids": f"{a},{b},{c}", "allOrNone": "false"}
    )
    assert [(r["id"], r["success"]) for r in deleted] == [(a, True), (b, False), (c, True)]
    assert deleted[1]["errors"] == [
        {"statusCode": REFUSED, "message": deleted[1]["errors"][0]["message"], "fields": []}
    ]
    assert subjects(salesforce) == ["B", "K1"]


# -- the admin side -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"sobject": "Nope"}, id="unknown sobject"),
        pytest.param({}, id="no sobject"),
        pytest.param({"sobject": "Event", "match": {"Nope__c": "x"}}, id="unknown field"),
        pytest.param({"sobject": "Event", "match": {"IsPrivate": "yes"}}, id="value of wrong type"),
        pytest.param({"sobject": "Event", "ids": ["not-an-id"]}, id="malformed id"),
        pytest.param({"sobject": "Event", "count": 1, "fraction": 0.5}, id="count and fraction"),
        pytest.param({"sobject": "Event", "fraction": 2}, id="fraction above 1"),
        pytest.param({"sobject": "Event", "count": 0}, id="count zero"),
        pytest.param({"sobject": "Event", "operations": ["upsert"]}, id="upsert is not an op"),
        pytest.param({"sobject": "Event", "fields": ["Nope"]}, id="unknown error field"),
    ],
)
def test_a_refusal_that_cannot_mean_anything_is_a_400(salesforce_org, spec):
    response = salesforce_org.http.post(
        f"{salesforce_org.url}/_admin/faults", json={"kind": REFUSED, **spec}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_INPUT"
    assert salesforce_org.admin("GET", "faults")["records"] == []


def test_refusals_are_listed_and_cleared(salesforce_org, salesforce):
    refuse(salesforce_org, match={"Subject": "X", "IsPrivate": False}, count=3)
    listed = salesforce_org.admin("GET", "faults")["records"]
    assert listed == [
        {
            "kind": REFUSED,
            "sobject": "Event",
            "match": {"Subject": ["X"], "IsPrivate": [False]},
            "ids": [],
            "operations": ["create", "delete", "update"],
            "remaining": 3,
            "fraction": None,
            "key_fields": ["Calsync_Key__c", "Subject"],
            "message": listed[0]["message"],
            "fields": [],
        }
    ]
    salesforce_org.admin("DELETE", "faults")
    assert salesforce.Event.create(body("X"))["success"] is True
    refuse(salesforce_org, match={"Subject": "Y"})
    salesforce_org.admin("POST", "reset")
    assert salesforce.Event.create(body("Y"))["success"] is True


def test_refusals_apply_to_other_objects(salesforce_org, salesforce):
    salesforce_org.admin(
        "POST",
        "faults",
        json={"kind": REFUSED, "sobject": "contact", "match": {"LastName": "Nobody"}},
    )
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Contact.create({"LastName": "Nobody"})
    assert salesforce.Contact.create({"LastName": "Somebody"})["success"] is True


# -- APPLY_THEN_503: the write is committed, the answer is lost ---------------------------------
def lose_answers(org, **spec):
    org.admin("POST", "faults", json={"kind": "APPLY_THEN_503", **spec})


def test_lost_answer_on_create_leaves_the_record_behind(salesforce_org, salesforce):
    lose_answers(salesforce_org, count=1)
    salesforce.query("SELECT Id FROM Event")  # reads are not writes: not affected
    with pytest.raises(SalesforceError) as caught:
        salesforce.Event.create(body("Saved anyway"))
    assert caught.value.status == 503
    assert caught.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert subjects(salesforce) == ["Saved anyway"]
    assert salesforce.Event.create(body("Next"))["success"] is True  # only one answer lost
    calls = salesforce_org.calls()
    assert calls["by_kind"]["create"] == 2  # the lost call was done, so it counts
    assert calls["injected_faults"] == {"APPLY_THEN_503": 1}


def test_lost_answers_on_update_delete_and_upsert(salesforce_org, salesforce):
    first = salesforce.Event.create(body("First"))["id"]
    second = salesforce.Event.create(body("Second"))["id"]
    lose_answers(salesforce_org, count=3)
    with pytest.raises(SalesforceError):
        salesforce.Event.update(first, {"Location": "Room 2"})
    with pytest.raises(SalesforceError):
        salesforce.Event.delete(second)
    with pytest.raises(SalesforceError):
        salesforce.Event.upsert("Calsync_Key__c/u1:k", body("Upserted"))
    assert salesforce.Event.get(first)["Location"] == "Room 2"
    assert subjects(salesforce) == ["First", "Upserted"]
    # a retry of the upsert finds the record by its key instead of making a second one
    retried = salesforce.Event.upsert("Calsync_Key__c/u1:k", body("Upserted"), raw_response=True)
    assert retried.status_code == 200 and retried.json()["created"] is False


def test_a_refused_write_keeps_the_lost_answer_for_the_next_write(salesforce_org, salesforce):
    lose_answers(salesforce_org, count=1)
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Event.create(body("x" * 256))  # nothing committed: the real error comes back
    with pytest.raises(SalesforceError) as caught:
        salesforce.Event.create(body("Committed"))
    assert caught.value.status == 503
    assert subjects(salesforce) == ["Committed"]


def test_lost_answer_on_a_collection_keeps_every_saved_record(salesforce_org, salesforce):
    refuse(salesforce_org, match={"Subject": "Refused"})
    lose_answers(salesforce_org, count=1, path_contains="composite")
    with pytest.raises(SalesforceError) as caught:
        collection(salesforce, "POST", [item("A"), item("Refused"), item("B")])
    assert caught.value.status == 503
    assert subjects(salesforce) == ["A", "B"]


def test_lost_answer_by_method_and_fraction(salesforce_org, salesforce):
    keep = salesforce.Event.create(body("Keep"))["id"]
    lose_answers(salesforce_org, fraction=1.0, methods=["PATCH"])
    assert salesforce.Event.create(body("Created"))["success"] is True
    with pytest.raises(SalesforceError):
        salesforce.Event.update(keep, {"Location": "Room 3"})
    assert salesforce.Event.get(keep)["Location"] == "Room 3"
    salesforce_org.admin("DELETE", "faults")
    assert salesforce.Event.update(keep, {"Location": "Room 4"}) == 204
    found = salesforce.query(format_soql("SELECT Location FROM Event WHERE Id = {}", keep))
    assert found["records"][0]["Location"] == "Room 4"


def test_a_lost_answer_on_reads_is_refused(salesforce_org):
    response = salesforce_org.http.post(
        f"{salesforce_org.url}/_admin/faults",
        json={"kind": "APPLY_THEN_503", "count": 1, "methods": ["GET"]},
        timeout=10,
    )
    assert response.status_code == 400
    assert salesforce_org.admin("GET", "faults")["calls"] == []
