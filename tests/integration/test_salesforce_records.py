"""The sidebar's Salesforce reads on the emulator (R-33, R-35): searches of Contacts, Leads,
Accounts and Opportunities, and UserRecordAccess as the real API answers it (shape rules
included), which decides whether a rep may link a record (audit L3)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from infra.salesforce import SalesforceAdapter
from infra.salesforce_records import (
    WHAT_OBJECTS,
    WHO_OBJECTS,
    SearchRefused,
    readable,
    records,
    search,
)

pytestmark = pytest.mark.integration

SEED = {
    "User": [
        {"_ref": "alice", "Username": "alice@example.com", "LastName": "Alice",
         "Email": "alice@example.com"},
        {"_ref": "bob", "Username": "bob@example.com", "LastName": "Bob",
         "Email": "bob@example.com"},
    ],
    "Account": [
        {"_ref": "acme", "Name": "Acme", "Website": "https://acme.com", "OwnerId": "@alice"},
        {"_ref": "quote", "Name": "O'Brien & 50% Co_op", "OwnerId": "@alice"},
    ],
    "Contact": [
        {"_ref": "jane", "FirstName": "Jane", "LastName": "Doe", "Email": "jane@acme.com",
         "AccountId": "@acme", "OwnerId": "@alice"},
        {"_ref": "solo", "LastName": "Solo", "Email": "solo@nowhere.test", "OwnerId": "@alice"},
    ],
    "Lead": [{"_ref": "lee", "LastName": "Lee", "Company": "LeadCo", "Email": "lee@leadco.io",
              "OwnerId": "@bob"}],
    "Opportunity": [{"_ref": "deal", "Name": "Acme renewal", "StageName": "Prospecting",
                     "CloseDate": "2026-09-01", "AccountId": "@acme", "OwnerId": "@alice"}],
}  # fmt: skip


@pytest.fixture
def org(salesforce_org):
    refs = salesforce_org.admin("POST", "seed", json=SEED)["refs"]
    return salesforce_org, refs, SalesforceAdapter.from_client(salesforce_org.client())


def test_R33_search_names_and_related_records(org):
    _, refs, sf = org
    found = search(sf.query, WHO_OBJECTS, "jane")
    assert [(r.id, r.kind) for r in found] == [(refs["jane"], "Contact")]
    assert found[0].label == "Jane Doe (Contact, jane@acme.com, Acme)"
    assert [r.kind for r in search(sf.query, WHO_OBJECTS, "lee")] == ["Lead"]
    related = search(sf.query, WHAT_OBJECTS, "acme")
    assert {(r.kind, r.name) for r in related} == {("Account", "Acme"),
                                                   ("Opportunity", "Acme renewal")}  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("O'Brien", id="quote"),
        pytest.param("50%", id="percent is literal"),
        pytest.param("Co_op", id="underscore is literal"),
    ],
)
def test_R35_search_text_is_escaped(org, text):
    _, refs, sf = org
    assert [r.id for r in search(sf.query, WHAT_OBJECTS, text)] == [refs["quote"]]


def test_R35_wildcards_do_not_widen_a_search(org):
    _, _, sf = org
    assert search(sf.query, WHAT_OBJECTS, "%%") == []
    assert search(sf.query, WHO_OBJECTS, "\\' OR Name != '") == []


def test_R33_search_is_bounded(org):
    _, _, sf = org
    with pytest.raises(SearchRefused):
        search(sf.query, WHO_OBJECTS, " a ")
    with pytest.raises(SearchRefused):
        search(sf.query, WHO_OBJECTS, "x" * 81)


def test_R33_records_by_id_of_every_kind(org):
    _, refs, sf = org
    found = records(sf.query, [refs["jane"], refs["lee"], refs["deal"], "005000000000000AAA"])
    assert {found[refs["jane"]].kind, found[refs["lee"]].kind, found[refs["deal"]].kind} == {
        "Contact", "Lead", "Opportunity"}  # fmt: skip
    assert "005000000000000AAA" not in found


def test_L3_record_access_follows_sharing(org):
    """R-33, audit L3: what the rep may link is what their Salesforce User may read."""
    emulator, refs, sf = org
    everything = [refs[r] for r in ("acme", "jane", "solo", "lee", "deal")]
    # Public Read/Write, but a Contact without an Account is private to its owner.
    assert readable(sf.query, refs["bob"], everything) == set(everything) - {refs["solo"]}
    emulator.admin("POST", "sharing", json={"defaults": {"Account": "Private", "Lead": "Private",
                                                         "Opportunity": "Private"}})  # fmt: skip
    assert readable(sf.query, refs["bob"], everything) == {refs["lee"]}  # only what he owns
    assert readable(sf.query, refs["alice"], everything) == set(everything) - {refs["lee"]}
    emulator.admin("POST", "sharing", json={"grants": [
        {"user": refs["bob"], "record": refs["acme"], "level": "Read"}]})  # fmt: skip
    # A Contact is controlled by its Account; one without an Account is private.
    assert readable(sf.query, refs["bob"], everything) == {refs["lee"], refs["acme"], refs["jane"]}
    assert readable(sf.query, "", everything) == set()


def test_user_record_access_rows_and_levels(salesforce_org, org):
    _, refs, _ = org
    sf = salesforce_org.client()
    salesforce_org.admin("POST", "sharing", json={"defaults": {"Account": "Read"}})
    soql = ("SELECT RecordId, HasReadAccess, HasEditAccess, HasDeleteAccess, MaxAccessLevel "
            f"FROM UserRecordAccess WHERE UserId = '{refs['bob']}' AND RecordId IN "
            f"('{refs['acme']}', '{refs['lee']}', '001000000000000AAA')")  # fmt: skip
    rows = {r["RecordId"]: r for r in sf.query(soql)["records"]}
    assert set(rows) == {refs["acme"], refs["lee"]}  # an unknown id has no row
    assert (rows[refs["acme"]]["HasReadAccess"], rows[refs["acme"]]["HasEditAccess"],
            rows[refs["acme"]]["MaxAccessLevel"]) == (True, False, "Read")  # fmt: skip
    assert rows[refs["lee"]]["MaxAccessLevel"] == "All"  # Bob owns the lead
    only_readable = sf.query(
        f"SELECT RecordId FROM UserRecordAccess WHERE UserId = '{refs['bob']}' AND RecordId = "
        f"'{refs['acme']}' AND HasEditAccess = true"
    )
    assert only_readable["records"] == []


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        pytest.param("SELECT RecordId FROM UserRecordAccess WHERE RecordId = '{acme}'",
                     "MALFORMED_QUERY", id="no UserId"),
        pytest.param("SELECT RecordId FROM UserRecordAccess WHERE UserId = '{bob}'",
                     "MALFORMED_QUERY", id="no RecordId"),
        pytest.param("SELECT RecordId FROM UserRecordAccess WHERE UserId = '{bob}' OR "
                     "RecordId = '{acme}'", "MALFORMED_QUERY", id="OR"),
        pytest.param("SELECT HasReadAccess FROM UserRecordAccess WHERE UserId = '{bob}' AND "
                     "RecordId = '{acme}'", "INVALID_FIELD", id="RecordId not selected"),
        pytest.param("SELECT RecordId, MaxAccessLevel FROM UserRecordAccess WHERE UserId = "
                     "'{bob}' AND RecordId = '{acme}' AND HasReadAccess = true", "INVALID_FIELD",
                     id="access filter with more than RecordId selected"),
        pytest.param("SELECT RecordId FROM UserRecordAccess WHERE UserId = '{bob}' AND "
                     "RecordId IN ({many})", "MALFORMED_QUERY", id="more than 200 ids"),
    ],
)  # fmt: skip
def test_user_record_access_shape_rules(org, salesforce_org, soql, code):
    _, refs, _ = org
    many = ",".join(f"'{refs['acme']}'" for _ in range(201))
    with pytest.raises(SalesforceMalformedRequest) as refused:
        salesforce_org.client().query(soql.format(many=many, **refs))
    assert refused.value.content[0]["errorCode"] == code


def test_user_record_access_is_read_only(salesforce_org):
    answer = salesforce_org.http.post(
        f"{salesforce_org.url}/services/data/v59.0/sobjects/UserRecordAccess",
        json={"RecordId": "001000000000000AAA"},
        headers={"Authorization": "Bearer dev"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
