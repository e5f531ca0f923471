"""Salesforce emulator: sObject create/get/update/delete/upsert, Ids, describe, files."""

from __future__ import annotations

import base64
import re

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.fixtures.salesforce import profile_id

pytestmark = pytest.mark.integration

CHECK = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def checksum(id15: str) -> str:
    out = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, c in enumerate(id15[start : start + 5]) if c.isupper())
        out += CHECK[bits]
    return out


def test_known_checksum_example():
    # the example Id from Salesforce's own documentation of the 18-character form
    assert checksum("001A0000006Vm9r") == "IAC"


BODIES = {
    "Account": {"Name": "Acme"},
    "Contact": {"LastName": "Doe", "FirstName": "Jane", "Email": "jane@acme.example"},
    "Lead": {"LastName": "Roe", "Company": "Roe Inc"},
    "Opportunity": {"Name": "Big deal", "StageName": "Prospecting", "CloseDate": "2026-06-30"},
    "User": {
        "Username": "bob@calsync.example",
        "LastName": "Bob",
        "Email": "bob@x.example",
        "Alias": "bob",
        "TimeZoneSidKey": "America/New_York",
        "LocaleSidKey": "en_US",
        "LanguageLocaleKey": "en_US",
        "EmailEncodingKey": "UTF-8",
    },
    "Event": {"Subject": "Demo", "StartDateTime": "2026-05-04T09:00:00Z", "DurationInMinutes": 60},
}
PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "User": "005",
    "Event": "00U",
}


def body_of(salesforce, sobject):
    if sobject == "User":  # the profile's Id is the org's own
        return {**BODIES["User"], "ProfileId": profile_id(salesforce)}
    return BODIES[sobject]


@pytest.mark.parametrize("sobject", list(BODIES))
def test_create_get_update_delete(salesforce, sobject):
    api = getattr(salesforce, sobject)
    created = api.create(body_of(salesforce, sobject))
    assert created["success"] is True and created["errors"] == []
    record_id = created["id"]
    assert re.fullmatch(r"[0-9A-Za-z]{18}", record_id)
    assert record_id.startswith(PREFIXES[sobject])
    assert record_id[15:] == checksum(record_id[:15])

    record = api.get(record_id)
    assert record["Id"] == record_id
    assert record["attributes"]["type"] == sobject
    for field in ("CreatedDate", "LastModifiedDate", "SystemModstamp", "CreatedById"):
        assert record[field]
    assert record["IsDeleted"] is False
    # 15-char and case-folded 18-char Ids find the same record
    assert api.get(record_id[:15])["Id"] == record_id

    change = {
        "Account": {"Name": "Acme 2"},
        "Contact": {"Title": "CTO"},
        "Lead": {"Company": "Roe 2"},
        "Opportunity": {"Amount": 5000},
        "User": {"FirstName": "Robert"},
        "Event": {"Subject": "Demo 2"},
    }[sobject]
    assert api.update(record_id, change) == 204
    updated = api.get(record_id)
    for key, value in change.items():
        assert updated[key] == value
    assert updated["SystemModstamp"] >= record["SystemModstamp"]

    assert api.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        api.get(record_id)
    with pytest.raises(SalesforceResourceNotFound) as caught:
        api.delete(record_id)
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_names_and_owner_are_filled_in(salesforce):
    contact = salesforce.Contact.get(salesforce.Contact.create(BODIES["Contact"])["id"])
    assert contact["Name"] == "Jane Doe"
    admin = salesforce.query("SELECT Id FROM User WHERE Username = 'integration@calsync.example'")[
        "records"
    ][0]["Id"]
    assert contact["OwnerId"] == admin


def test_owner_can_be_another_user(salesforce):
    bob = salesforce.User.create(body_of(salesforce, "User"))["id"]
    event = salesforce.Event.create({**BODIES["Event"], "OwnerId": bob})
    assert salesforce.Event.get(event["id"])["OwnerId"] == bob


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"LastName": "x", "Nope__c": 1}, "INVALID_FIELD", id="unknown field"),
        pytest.param({"FirstName": "x"}, "REQUIRED_FIELD_MISSING", id="missing LastName"),
        pytest.param(
            {"LastName": "x", "Name": "y"}, "INVALID_FIELD_FOR_INSERT_UPDATE", id="read-only field"
        ),
        pytest.param(
            {"LastName": "x", "AccountId": "003000000000000AAA"}, "MALFORMED_ID", id="wrong Id type"
        ),
        pytest.param(
            {"LastName": "x", "AccountId": "001000000000001AAA"},
            "INVALID_CROSS_REFERENCE_KEY",
            id="unknown account",
        ),
        pytest.param({"LastName": "x" * 81}, "STRING_TOO_LONG", id="LastName too long"),
    ],
)
def test_create_errors_have_the_real_codes(salesforce, body, code):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Contact.create(body)
    assert caught.value.status == 400
    assert caught.value.content[0]["errorCode"] == code


def test_unknown_record_and_object(salesforce):
    with pytest.raises(SalesforceResourceNotFound):
        salesforce.Event.get("00U000000000001AAA")
    with pytest.raises(SalesforceResourceNotFound):
        salesforce.NoSuchThing.describe()


def test_describe_lists_fields_and_external_id(salesforce):
    describe = salesforce.Event.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["keyPrefix"] == "00U"
    assert fields["Calsync_Key__c"]["externalId"] is True
    assert fields["Calsync_Key__c"]["unique"] is True
    assert fields["Recurrence2PatternText"]["updateable"] is False
    assert fields["Recurrence2PatternText"]["createable"] is True
    assert fields["Subject"]["length"] == 255
    names = {s["name"] for s in salesforce.describe()["sobjects"]}
    assert {
        "User",
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Event",
        "EventRelation",
        "ContentVersion",
        "ContentDocumentLink",
    } <= names


def test_upsert_by_external_id_creates_then_updates(salesforce):
    body = {**BODIES["Event"], "Subject": "first"}
    response = salesforce.Event.upsert("Calsync_Key__c/u1:ev1", body, raw_response=True)
    assert response.status_code == 201
    first = response.json()
    assert first["created"] is True
    response = salesforce.Event.upsert(
        "Calsync_Key__c/u1:ev1", {"Subject": "second"}, raw_response=True
    )
    assert response.status_code == 200
    assert response.json() == {"id": first["id"], "success": True, "errors": [], "created": False}
    assert salesforce.Event.get_by_custom_id("Calsync_Key__c", "u1:ev1")["Subject"] == "second"
    found = salesforce.query(
        format_soql("SELECT Id FROM Event WHERE Calsync_Key__c = {}", "u1:ev1")
    )
    assert [r["Id"] for r in found["records"]] == [first["id"]]


def test_external_id_is_unique(salesforce):
    salesforce.Event.create({**BODIES["Event"], "Calsync_Key__c": "dup"})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.create({**BODIES["Event"], "Calsync_Key__c": "DUP"})
    assert caught.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_without_the_external_id_field(salesforce_org, salesforce):
    salesforce_org.admin("POST", "config", json={"external_id_field": False})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.create({**BODIES["Event"], "Calsync_Key__c": "k"})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceResourceNotFound) as caught:
        salesforce.Event.upsert("Calsync_Key__c/k", BODIES["Event"])
    assert caught.value.content[0]["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.query("SELECT Id, Calsync_Key__c FROM Event")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    fields = {f["name"] for f in salesforce.Event.describe()["fields"]}
    assert "Calsync_Key__c" not in fields


def test_content_version_creates_document_and_links(salesforce):
    event = salesforce.Event.create(BODIES["Event"])["id"]
    data = b"agenda: nothing"
    version = salesforce.ContentVersion.create(
        {
            "Title": "Agenda",
            "PathOnClient": "agenda.txt",
            "VersionData": base64.b64encode(data).decode(),
            "FirstPublishLocationId": event,
        }
    )
    got = salesforce.ContentVersion.get(version["id"])
    assert got["ContentSize"] == len(data)
    assert got["FileExtension"] == "txt"
    assert got["VersionData"].endswith(f"/ContentVersion/{version['id']}/VersionData")
    blob = salesforce.session.get(
        f"{salesforce.base_url}sobjects/ContentVersion/{version['id']}/VersionData",
        headers=salesforce.headers,
    )
    assert blob.content == data
    links = salesforce.query(
        format_soql(
            "SELECT LinkedEntityId, ShareType FROM ContentDocumentLink WHERE ContentDocumentId = {}",
            got["ContentDocumentId"],
        )
    )["records"]
    assert event in {link["LinkedEntityId"] for link in links}

    account = salesforce.Account.create({"Name": "Files Inc"})["id"]
    link = salesforce.ContentDocumentLink.create(
        {"ContentDocumentId": got["ContentDocumentId"], "LinkedEntityId": account, "ShareType": "V"}
    )
    assert link["id"].startswith("06A")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.ContentDocumentLink.create(
            {"ContentDocumentId": got["ContentDocumentId"], "LinkedEntityId": account}
        )
    assert caught.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
