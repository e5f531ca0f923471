"""Salesforce emulator: SOQL over query/queryAll, escaping, paging, malformed queries, URI cap."""

from __future__ import annotations

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

pytestmark = pytest.mark.integration


@pytest.fixture
def people(salesforce):
    acme = salesforce.Account.create({"Name": "Acme"})["id"]
    rows = [
        {"LastName": "Plain", "Email": "plain@acme.example", "AccountId": acme, "Title": "CEO"},
        {"LastName": "O'Brien", "Email": "o'brien\\x@acme.example", "Title": "CTO"},
        {"LastName": "OBrien", "Email": "obrien\\x@acme.example"},
        {"LastName": "Percent", "Email": "100%_sure@x.example", "Title": "cfo"},
    ]
    ids = {r["LastName"]: salesforce.Contact.create(r)["id"] for r in rows}
    return {"acme": acme, **ids}


def names(result):
    return [r.get("LastName") for r in result["records"]]


def test_quote_and_backslash_match_exactly_one_record(salesforce, people):
    soql = format_soql(
        "SELECT Id, LastName FROM Contact WHERE Email = {}", "o'brien\\x@acme.example"
    )
    assert "\\'" in soql and "\\\\" in soql
    result = salesforce.query(soql)
    assert [r["Id"] for r in result["records"]] == [people["O'Brien"]]
    # a quote can neither break nor widen the query
    injected = format_soql("SELECT Id FROM Contact WHERE Email = {}", "x' OR LastName != '")
    assert salesforce.query(injected)["totalSize"] == 0


def test_like_with_escaped_wildcards(salesforce, people):
    result = salesforce.query(
        format_soql("SELECT LastName FROM Contact WHERE Email LIKE '{:like}%'", "100%_")
    )
    assert names(result) == ["Percent"]
    result = salesforce.query(
        "SELECT LastName FROM Contact WHERE LastName LIKE 'o_brien' ORDER BY LastName"
    )
    assert names(result) == ["O'Brien"]
    result = salesforce.query(
        "SELECT LastName FROM Contact WHERE LastName LIKE 'o%' ORDER BY LastName"
    )
    assert names(result) == ["OBrien", "O'Brien"] or names(result) == ["O'Brien", "OBrien"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param("Title = 'cto'", ["O'Brien"], id="= is case-insensitive"),
        pytest.param("Title != 'CTO'", ["OBrien", "Percent", "Plain"], id="!= includes null"),
        pytest.param("Title = null", ["OBrien"], id="= null"),
        pytest.param("Title != null AND Title > 'CEO'", ["O'Brien", "Percent"], id="> string"),
        pytest.param("Title IN ('CEO', 'CFO')", ["Percent", "Plain"], id="IN"),
        pytest.param("Title NOT IN ('CEO', 'CFO')", ["O'Brien", "OBrien"], id="NOT IN"),
        pytest.param(
            "(Title = 'CEO' OR Title = 'CTO') AND LastName LIKE 'P%'", ["Plain"], id="parentheses"
        ),
        pytest.param("NOT (Title = 'CEO')", ["O'Brien", "OBrien", "Percent"], id="NOT"),
        pytest.param("Account.Name = 'Acme'", ["Plain"], id="parent field filter"),
        pytest.param("CreatedDate = TODAY", ["O'Brien", "OBrien", "Percent", "Plain"], id="TODAY"),
        pytest.param("CreatedDate < 2020-01-01T00:00:00Z", [], id="datetime literal"),
    ],
)
def test_where_operators(salesforce, people, where, expected):
    result = salesforce.query(f"SELECT LastName FROM Contact WHERE {where} ORDER BY LastName")
    assert names(result) == sorted(expected, key=str.casefold)


def test_parent_fields_order_limit_and_count(salesforce, people):
    result = salesforce.query(
        "SELECT LastName, Account.Name, Owner.Email FROM Contact "
        "ORDER BY Title DESC NULLS LAST LIMIT 3"
    )
    assert names(result) == ["O'Brien", "Percent", "Plain"]
    plain = result["records"][2]
    assert plain["Account"]["Name"] == "Acme"
    assert plain["Owner"]["Email"] == "integration@calsync.example"
    assert result["records"][0]["Account"] is None
    first = salesforce.query("SELECT LastName FROM Contact ORDER BY Title ASC NULLS FIRST")
    assert names(first)[0] == "OBrien"
    assert salesforce.query("SELECT COUNT() FROM Contact WHERE Title != null")["totalSize"] == 3


def test_date_and_datetime_filters_on_events(salesforce):
    for day in ("2026-05-04", "2026-05-05", "2026-05-06"):
        salesforce.Event.create(
            {"Subject": day, "StartDateTime": f"{day}T10:00:00Z", "DurationInMinutes": 30}
        )
    result = salesforce.query(
        "SELECT Subject FROM Event WHERE StartDateTime >= "
        "2026-05-05T00:00:00Z AND StartDateTime < 2026-05-06T00:00:00Z"
    )
    assert [r["Subject"] for r in result["records"]] == ["2026-05-05"]
    result = salesforce.query(
        "SELECT Subject FROM Event WHERE ActivityDate > 2026-05-04 ORDER BY ActivityDate DESC"
    )
    assert [r["Subject"] for r in result["records"]] == ["2026-05-06", "2026-05-05"]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        pytest.param("SELECT FROM Contact", "MALFORMED_QUERY", id="no fields"),
        pytest.param("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY", id="dangling WHERE"),
        pytest.param(
            "SELECT Id FROM Contact WHERE LastName = 'x", "MALFORMED_QUERY", id="open quote"
        ),
        pytest.param(
            "SELECT Id FROM Contact WHERE LastName = 'a\\qb'", "MALFORMED_QUERY", id="bad escape"
        ),
        pytest.param(
            "SELECT Id FROM Contact WHERE LastName = 'a' AND Title = 'b' OR Email = 'c'",
            "MALFORMED_QUERY",
            id="AND and OR without parentheses",
        ),
        pytest.param("SELECT Id FROM Contact LIMIT x", "MALFORMED_QUERY", id="bad LIMIT"),
        pytest.param("SELECT Nope FROM Contact", "INVALID_FIELD", id="unknown field"),
        pytest.param("SELECT Id FROM Nope", "INVALID_TYPE", id="unknown object"),
        pytest.param(
            "SELECT Id FROM Contact WHERE CreatedDate > 2020-01-01",
            "INVALID_FIELD",
            id="date literal on datetime",
        ),
    ],
)
def test_bad_queries(salesforce, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.query(soql)
    assert caught.value.status == 400
    assert caught.value.content[0]["errorCode"] == code


def test_paging_with_next_records_url(salesforce):
    body = {
        "records": [
            {"attributes": {"type": "Lead"}, "LastName": f"L{i:03d}", "Company": "C"}
            for i in range(200)
        ]
    }
    salesforce.restful("composite/sobjects", method="POST", json=body)
    salesforce.restful("composite/sobjects", method="POST", json={"records": body["records"][:50]})
    first = salesforce.query(
        "SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=200"}
    )
    assert first["done"] is False
    assert first["totalSize"] == 250
    assert len(first["records"]) == 200
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    second = salesforce.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["done"] is True and len(second["records"]) == 50
    every = salesforce.query_all("SELECT Id FROM Lead")
    assert len({r["Id"] for r in every["records"]}) == 250


def test_query_all_sees_deleted_rows(salesforce):
    keep = salesforce.Event.create(
        {"Subject": "keep", "StartDateTime": "2026-05-04T10:00:00Z", "DurationInMinutes": 5}
    )["id"]
    gone = salesforce.Event.create(
        {"Subject": "gone", "StartDateTime": "2026-05-04T10:00:00Z", "DurationInMinutes": 5}
    )["id"]
    salesforce.Event.delete(gone)
    live = salesforce.query("SELECT Id FROM Event")
    assert [r["Id"] for r in live["records"]] == [keep]
    every = salesforce.query_all(
        "SELECT Id, IsDeleted FROM Event ORDER BY Subject", include_deleted=True
    )
    assert [(r["Id"], r["IsDeleted"]) for r in every["records"]] == [(gone, True), (keep, False)]


def test_uri_over_16k_is_refused(salesforce):
    ids = [f"003{i:015d}" for i in range(1000)]
    soql = format_soql("SELECT Id FROM Contact WHERE Id IN {}", ids)
    with pytest.raises(SalesforceError) as caught:
        salesforce.query(soql)
    assert caught.value.status in (414, 431)
    ok = format_soql("SELECT Id FROM Contact WHERE Id IN {}", ids[:300])
    assert salesforce.query(ok)["totalSize"] == 0
