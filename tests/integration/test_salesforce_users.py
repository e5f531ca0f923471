"""Salesforce emulator: User's standard fields, their restricted picklists, and Profile (issue 9)."""

from __future__ import annotations

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.fixtures.salesforce import profile_id, user_body

pytestmark = pytest.mark.integration

REQUIRED = [
    "Username",
    "LastName",
    "Email",
    "Alias",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "LanguageLocaleKey",
    "EmailEncodingKey",
    "ProfileId",
]


def test_an_insert_needs_every_standard_field(salesforce):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.User.create({"Username": "ann@example.com", "LastName": "Ann"})
    error = caught.value.content[0]
    assert error["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sorted(error["fields"]) == sorted(set(REQUIRED) - {"Username", "LastName"})
    created = salesforce.User.create(user_body(salesforce, "ann@example.com", "Ann"))
    assert created["success"] is True


def test_the_fields_are_stored_and_the_profile_is_queryable(salesforce):
    body = user_body(
        salesforce,
        "jo@example.com",
        "Jo",
        TimeZoneSidKey="Europe/Berlin",
        LocaleSidKey="de_DE",
        LanguageLocaleKey="de",
        EmailEncodingKey="ISO-8859-1",
        ProfileId=profile_id(salesforce, "Read Only"),
    )
    user_id = salesforce.User.create(body)["id"]
    user = salesforce.User.get(user_id)
    for name in REQUIRED:
        assert user[name] == body[name]
    assert user["UserType"] == "Standard"
    row = salesforce.query(
        format_soql("SELECT Profile.Name, UserType FROM User WHERE Id = {}", user_id)
    )["records"][0]
    assert row["Profile"]["Name"] == "Read Only"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("TimeZoneSidKey", "Mars/Olympus_Mons", id="unknown time zone"),
        pytest.param("TimeZoneSidKey", "EST5EDT", id="zone Salesforce does not list"),
        pytest.param("LocaleSidKey", "xx_YY", id="unknown locale"),
        pytest.param("LanguageLocaleKey", "klingon", id="unknown language"),
        pytest.param("EmailEncodingKey", "EBCDIC", id="unknown encoding"),
    ],
)
def test_restricted_picklists_refuse_other_values(salesforce, field, value):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.User.create(user_body(salesforce, "bad@example.com", "Bad", **{field: value}))
    assert caught.value.content == [
        {
            "message": f"{field}: bad value for restricted picklist field: {value}",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": [field],
        }
    ]


def test_updates_are_checked_too(salesforce):
    user_id = salesforce.User.create(user_body(salesforce, "up@example.com", "Up"))["id"]
    assert salesforce.User.update(user_id, {"TimeZoneSidKey": "America/Los_Angeles"}) == 204
    for change in ({"LocaleSidKey": "nowhere"}, {"TimeZoneSidKey": None}):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            salesforce.User.update(user_id, change)
        assert caught.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert salesforce.User.get(user_id)["TimeZoneSidKey"] == "America/Los_Angeles"


def test_profile_must_be_a_live_profile(salesforce):
    account = salesforce.Account.create({"Name": "Acme"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.User.create(user_body(salesforce, "p@example.com", "P", ProfileId=account))
    assert caught.value.content[0]["errorCode"] == "MALFORMED_ID"
    assert caught.value.content[0]["fields"] == ["ProfileId"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.User.create(
            user_body(salesforce, "p@example.com", "P", ProfileId="00e000000000001AAA")
        )
    assert caught.value.content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_standard_profiles_exist_and_are_read_only(salesforce):
    rows = salesforce.query("SELECT Id, Name, UserType FROM Profile")["records"]
    names = {r["Name"]: r["UserType"] for r in rows}
    assert {"System Administrator", "Standard User", "Read Only"} <= set(names)
    assert names["Chatter Free User"] == "CsnOnly"
    assert all(r["Id"].startswith("00e") for r in rows)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Profile.create({"Name": "Custom"})
    assert caught.value.content[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Profile.delete(rows[0]["Id"])
    assert len(salesforce.query("SELECT Id FROM Profile")["records"]) == len(rows)
    assert salesforce.Profile.describe()["createable"] is False


def test_describe_shows_the_picklists(salesforce):
    fields = {f["name"]: f for f in salesforce.User.describe()["fields"]}
    for name in REQUIRED[3:8]:
        assert fields[name]["nillable"] is False
    locale = fields["LocaleSidKey"]
    assert locale["restrictedPicklist"] is True and locale["type"] == "picklist"
    assert "en_US" in {v["value"] for v in locale["picklistValues"]}
    zones = {v["value"] for v in fields["TimeZoneSidKey"]["picklistValues"]}
    assert {"GMT", "Europe/Berlin", "America/Argentina/Buenos_Aires"} <= zones
    assert fields["ProfileId"]["referenceTo"] == ["Profile"]


def test_the_integration_user_is_a_system_administrator(salesforce):
    admin = salesforce.query(
        "SELECT Profile.Name, TimeZoneSidKey, Alias FROM User "
        "WHERE Username = 'integration@calsync.example'"
    )["records"][0]
    assert admin["Profile"]["Name"] == "System Administrator"
    assert admin["TimeZoneSidKey"] == "GMT"


def test_a_seed_gets_the_fields_setup_would_fill_in(salesforce_org, salesforce):
    refs = salesforce_org.admin(
        "POST",
        "seed",
        json={
            "User": [
                {"_ref": "ann", "Username": "ann@example.com", "FirstName": "Ann",
                 "LastName": "Lovelace", "Email": "ann@example.com"},
                {"_ref": "bo", "Username": "bo@example.com", "LastName": "Bo",
                 "Email": "bo@example.com", "TimeZoneSidKey": "Asia/Tokyo", "Alias": "bobo"},
            ]
        },
    )["refs"]  # fmt: skip
    ann = salesforce.User.get(refs["ann"])
    assert (ann["Alias"], ann["TimeZoneSidKey"], ann["LocaleSidKey"]) == ("alove", "GMT", "en_US")
    assert (ann["LanguageLocaleKey"], ann["EmailEncodingKey"]) == ("en_US", "UTF-8")
    assert ann["ProfileId"] == profile_id(salesforce, "Standard User")
    bo = salesforce.User.get(refs["bo"])
    assert (bo["Alias"], bo["TimeZoneSidKey"]) == ("bobo", "Asia/Tokyo")
    response = salesforce_org.http.post(
        f"{salesforce_org.url}/_admin/seed",
        json={"User": [{"Username": "x@example.com", "LastName": "X", "Email": "x@example.com",
                        "LocaleSidKey": "nowhere"}]},
        timeout=10,
    )  # fmt: skip
    assert response.status_code == 400  # a value the seed gives is still checked
