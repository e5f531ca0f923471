"""Salesforce emulator: the Composite resource (`POST composite`), one API call for up to 25
subrequests (R-30: how calsync packs a change's people search into one call)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

pytestmark = pytest.mark.integration
V = "/services/data/v59.0"


def query(ref: str, soql: str) -> dict:
    return {"method": "GET", "url": f"{V}/query/?q={soql.replace(' ', '+')}", "referenceId": ref}


def composite(sf, subs: list[dict], all_or_none: bool = False) -> list[dict]:
    body = {"allOrNone": all_or_none, "compositeRequest": subs}
    return sf.restful("composite", method="POST", json=body)["compositeResponse"]


def test_R30_three_queries_in_one_composite_are_one_api_call(salesforce_org, salesforce):
    salesforce_org.admin("POST", "seed", json={
        "Account": [{"_ref": "a", "Name": "Acme"}],
        "Contact": [{"LastName": "Jane", "Email": "jane@acme.com", "AccountId": "@a"}],
        "Lead": [{"LastName": "Lou", "Company": "Lou Ltd", "Email": "lou@lou.example"}],
    })  # fmt: skip
    before = salesforce_org.calls()["total"]
    results = composite(salesforce, [
        query("users", "SELECT Id, Email FROM User WHERE IsActive = true"),
        query("contacts", "SELECT Id, Email, AccountId FROM Contact WHERE Email = 'jane@acme.com'"),
        query("leads", "SELECT Id, Email FROM Lead WHERE IsConverted = false"),
    ])  # fmt: skip
    calls = salesforce_org.calls()
    assert calls["total"] - before == 1 and calls["by_kind"]["composite"] == 1
    assert [r["referenceId"] for r in results] == ["users", "contacts", "leads"]
    assert all(r["httpStatusCode"] == 200 for r in results)
    assert results[1]["body"]["records"][0]["Email"] == "jane@acme.com"
    assert results[2]["body"]["totalSize"] == 1


def test_a_later_subrequest_refers_to_an_earlier_answer(salesforce):
    results = composite(salesforce, [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "acct",
         "body": {"Name": "Acme"}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "jane",
         "body": {"LastName": "Jane", "AccountId": "@{acct.id}"}},
        {"method": "GET", "url": f"{V}/sobjects/Contact/@{{jane.id}}", "referenceId": "read"},
    ])  # fmt: skip
    assert [r["httpStatusCode"] for r in results] == [201, 201, 200]
    assert results[2]["body"]["AccountId"] == results[0]["body"]["id"]


def test_all_or_none_rolls_every_subrequest_back(salesforce):
    results = composite(salesforce, [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "ok",
         "body": {"Name": "Kept?"}},
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "bad",
         "body": {"NoSuchField__c": 1}},
    ], all_or_none=True)  # fmt: skip
    assert results[1]["httpStatusCode"] == 400
    assert results[1]["body"][0]["errorCode"] == "INVALID_FIELD"
    assert results[0]["httpStatusCode"] == 400
    assert results[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert salesforce.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_without_all_or_none_only_dependents_of_a_failure_halt(salesforce):
    results = composite(salesforce, [
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "bad",
         "body": {"NoSuchField__c": 1}},
        {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "child",
         "body": {"LastName": "Jane", "AccountId": "@{bad.id}"}},
        {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "other",
         "body": {"Name": "Other"}},
    ])  # fmt: skip
    assert [r["httpStatusCode"] for r in results] == [400, 400, 201]
    assert results[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert salesforce.query("SELECT COUNT() FROM Account")["totalSize"] == 1


@pytest.mark.parametrize(
    "subs",
    [
        pytest.param([query(f"q{i}", "SELECT Id FROM Lead") for i in range(6)],
                     id="more than 5 queries"),
        pytest.param([{"method": "GET", "url": f"{V}/sobjects/Account/describe",
                       "referenceId": f"d{i}"} for i in range(26)], id="more than 25"),
        pytest.param([{"method": "GET", "url": f"{V}/query/?q=SELECT+Id+FROM+Lead"}],
                     id="no referenceId"),
        pytest.param([query("a", "SELECT Id FROM Lead"), query("a", "SELECT Id FROM Lead")],
                     id="duplicate referenceId"),
        pytest.param([{**query("a", "SELECT Id FROM Lead"),
                       "httpHeaders": {"Authorization": "Bearer x"}}], id="forbidden header"),
        pytest.param([{"method": "GET", "url": f"{V}/limits", "referenceId": "l"}],
                     id="unsupported resource"),
        pytest.param([], id="empty"),
    ],
)  # fmt: skip
def test_a_composite_that_breaks_the_rules_is_refused_whole(salesforce_org, salesforce, subs):
    with pytest.raises(SalesforceMalformedRequest):
        composite(salesforce, subs)
    assert salesforce.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
