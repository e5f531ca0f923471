"""Salesforce emulator: Event time fields, real-org validation rules, relations, invitees,
Lightning event series (Recurrence2) and series deletion."""

from __future__ import annotations

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.fixtures.salesforce import user_body

pytestmark = pytest.mark.integration

START = "2026-05-04T09:00:00Z"


def timed(**extra):
    return {"Subject": "Meeting", "StartDateTime": START, "DurationInMinutes": 60, **extra}


def test_timed_event_fields_are_consistent(salesforce):
    event = salesforce.Event.get(
        salesforce.Event.create(
            {
                "Subject": "x",
                "StartDateTime": "2026-05-04T09:00:00+02:00",
                "EndDateTime": "2026-05-04T10:30:00+02:00",
            }
        )["id"]
    )
    assert event["StartDateTime"] == "2026-05-04T07:00:00.000+0000"
    assert event["EndDateTime"] == "2026-05-04T08:30:00.000+0000"
    assert event["ActivityDateTime"] == event["StartDateTime"]
    assert event["ActivityDate"] == "2026-05-04"
    assert event["DurationInMinutes"] == 90
    assert event["IsAllDayEvent"] is False


def test_moving_an_event_keeps_its_duration(salesforce):
    record_id = salesforce.Event.create(timed())["id"]
    salesforce.Event.update(record_id, {"StartDateTime": "2026-05-05T14:00:00Z"})
    event = salesforce.Event.get(record_id)
    assert event["EndDateTime"] == "2026-05-05T15:00:00.000+0000"
    salesforce.Event.update(record_id, {"EndDateTime": "2026-05-05T14:15:00Z"})
    assert salesforce.Event.get(record_id)["DurationInMinutes"] == 15


def test_all_day_event_fields(salesforce):
    event = salesforce.Event.get(
        salesforce.Event.create(
            {
                "Subject": "Offsite",
                "IsAllDayEvent": True,
                "ActivityDate": "2026-05-04",
                "EndDateTime": "2026-05-06T00:00:00Z",
            }
        )["id"]
    )
    assert event["StartDateTime"] == "2026-05-04T00:00:00.000+0000"
    assert event["EndDateTime"] == "2026-05-06T00:00:00.000+0000"
    assert event["DurationInMinutes"] == 3 * 1440
    assert event["ActivityDateTime"] is None
    assert event["ActivityDate"] == "2026-05-04"
    one_day = salesforce.Event.get(
        salesforce.Event.create(
            {"Subject": "Holiday", "IsAllDayEvent": True, "ActivityDate": "2026-05-08"}
        )["id"]
    )
    assert one_day["DurationInMinutes"] == 1440


def _contacts(salesforce, count):
    body = {
        "allOrNone": True,
        "records": [{"attributes": {"type": "Contact"}, "LastName": f"C{i}"} for i in range(count)],
    }
    return [r["id"] for r in salesforce.restful("composite/sobjects", method="POST", json=body)]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        pytest.param(
            timed(DurationInMinutes=14 * 1440 + 1),
            "FIELD_INTEGRITY_EXCEPTION",
            "EndDateTime",
            id="longer than 14 days",
        ),
        pytest.param(
            {
                "Subject": "x",
                "IsAllDayEvent": True,
                "ActivityDate": "2026-05-01",
                "EndDateTime": "2026-05-15T00:00:00Z",
            },
            "FIELD_INTEGRITY_EXCEPTION",
            "EndDateTime",
            id="all-day over 14 days",
        ),
        pytest.param(timed(Subject="s" * 256), "STRING_TOO_LONG", "Subject", id="Subject over 255"),
        pytest.param(
            timed(Location="l" * 256), "STRING_TOO_LONG", "Location", id="Location over 255"
        ),
        pytest.param(
            timed(Description="d" * 32001),
            "STRING_TOO_LONG",
            "Description",
            id="Description over 32000",
        ),
        pytest.param(
            timed(EndDateTime="2026-05-04T08:00:00Z", DurationInMinutes=None),
            "FIELD_INTEGRITY_EXCEPTION",
            "EndDateTime",
            id="end before start",
        ),
        pytest.param(
            timed(EndDateTime="2026-05-04T11:00:00Z"),
            "FIELD_INTEGRITY_EXCEPTION",
            "DurationInMinutes",
            id="duration and end disagree",
        ),
        pytest.param(
            {"Subject": "x", "StartDateTime": START},
            "REQUIRED_FIELD_MISSING",
            "EndDateTime",
            id="no end or duration",
        ),
        pytest.param(
            timed(DurationInMinutes=25 * 60, Recurrence2PatternText="FREQ=DAILY;COUNT=3"),
            "FIELD_INTEGRITY_EXCEPTION",
            "DurationInMinutes",
            id="series instance over 24 hours",
        ),
        pytest.param(
            timed(DurationInMinutes=25 * 60, IsRecurrence=True, RecurrenceType="RecursDaily"),
            "FIELD_INTEGRITY_EXCEPTION",
            "DurationInMinutes",
            id="classic series over 24 hours",
        ),
        pytest.param(
            timed(Recurrence2PatternText="FREQ=WEEKLY;COUNT=3"),
            "FIELD_INTEGRITY_EXCEPTION",
            "Recurrence2PatternText",
            id="WEEKLY without BYDAY",
        ),
        pytest.param(
            timed(Recurrence2PatternText="FREQ=DAILY;COUNT=3\nEXDATE:20260505T090000Z"),
            "FIELD_INTEGRITY_EXCEPTION",
            "Recurrence2PatternText",
            id="EXDATE",
        ),
        pytest.param(
            timed(Recurrence2PatternText="FREQ=HOURLY;COUNT=3"),
            "FIELD_INTEGRITY_EXCEPTION",
            "Recurrence2PatternText",
            id="HOURLY",
        ),
        pytest.param(
            timed(Recurrence2PatternText="FREQ=DAILY;COUNT=2;UNTIL=20260601T000000Z"),
            "FIELD_INTEGRITY_EXCEPTION",
            "Recurrence2PatternText",
            id="COUNT and UNTIL",
        ),
        pytest.param(
            timed(Recurrence2PatternText="FREQ=YEARLY;INTERVAL=2"),
            "FIELD_INTEGRITY_EXCEPTION",
            "Recurrence2PatternText",
            id="yearly interval 2",
        ),
        pytest.param(
            timed(Recurrence2PatternText="FREQ=DAILY;COUNT=1000"),
            "FIELD_INTEGRITY_EXCEPTION",
            "Recurrence2PatternText",
            id="COUNT 1000",
        ),
        pytest.param(
            timed(Recurrence2PatternText="FREQ=MONTHLY;BYDAY=5MO"),
            "FIELD_INTEGRITY_EXCEPTION",
            "Recurrence2PatternText",
            id="BYDAY 5MO",
        ),
    ],
)
def test_validation_rules_refuse_with_real_codes(salesforce, body, code, field):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.create(body)
    error = caught.value.content[0]
    assert caught.value.status == 400
    assert error["errorCode"] == code
    assert field in error.get("fields", [])
    assert salesforce.query("SELECT COUNT() FROM Event")["totalSize"] == 0


def test_private_event_cannot_be_linked(salesforce):
    contact = salesforce.Contact.create({"LastName": "Who"})["id"]
    account = salesforce.Account.create({"Name": "What"})["id"]
    for link in ({"WhoId": contact}, {"WhatId": account}, {"EventWhoIds": [contact]}):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            salesforce.Event.create(timed(IsPrivate=True, **link))
        assert caught.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    # a linked event cannot become private, and a private one cannot gain a relation
    linked = salesforce.Event.create(timed(WhoId=contact))["id"]
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Event.update(linked, {"IsPrivate": True})
    private = salesforce.Event.create(timed(IsPrivate=True))["id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.EventRelation.create({"EventId": private, "RelationId": account})
    assert caught.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_fifty_contacts_allowed_fifty_one_refused(salesforce):
    contacts = _contacts(salesforce, 51)
    ok = salesforce.Event.create(timed(EventWhoIds=contacts[:50]))["id"]
    event = salesforce.Event.get(ok)
    assert event["WhoId"] == contacts[0]
    assert event["WhoCount"] == 50
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.create(timed(EventWhoIds=contacts))
    assert caught.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    lead = salesforce.Lead.create({"LastName": "L", "Company": "C"})["id"]
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Event.create(timed(EventWhoIds=[lead, contacts[0]]))


def test_relations_follow_who_and_what(salesforce):
    account = salesforce.Account.create({"Name": "Acme"})["id"]
    contact = salesforce.Contact.create({"LastName": "A", "AccountId": account})["id"]
    other = salesforce.Contact.create({"LastName": "B"})["id"]
    opp = salesforce.Opportunity.create(
        {"Name": "O", "StageName": "Prospecting", "CloseDate": "2026-06-30", "AccountId": account}
    )["id"]
    event_id = salesforce.Event.create(timed(EventWhoIds=[contact, other], WhatId=opp))["id"]
    rows = salesforce.query(
        format_soql(
            "SELECT RelationId, IsParent, IsWhat, IsInvitee FROM EventRelation WHERE EventId = {} "
            "ORDER BY RelationId",
            event_id,
        )
    )["records"]
    flags = {r["RelationId"]: (r["IsParent"], r["IsWhat"], r["IsInvitee"]) for r in rows}
    assert flags == {
        contact: (True, False, False),
        other: (True, False, False),
        opp: (False, True, False),
    }
    event = salesforce.Event.get(event_id)
    assert (event["WhoId"], event["WhatId"], event["AccountId"]) == (contact, opp, account)


def test_user_invitee_gets_a_child_event(salesforce):
    bob = salesforce.User.create(user_body(salesforce, "bob@calsync.example", "Bob"))["id"]
    contact = salesforce.Contact.create({"LastName": "Guest"})["id"]
    event_id = salesforce.Event.create(timed())["id"]
    relation = salesforce.EventRelation.create({"EventId": event_id, "RelationId": bob})
    salesforce.EventRelation.create({"EventId": event_id, "RelationId": contact})
    row = salesforce.EventRelation.get(relation["id"])
    assert (row["IsInvitee"], row["IsParent"], row["IsWhat"]) == (True, False, False)
    parent = salesforce.Event.get(event_id)
    assert parent["IsGroupEvent"] is True
    children = salesforce.query(
        format_soql(
            "SELECT Id, OwnerId, IsChild, Subject, StartDateTime FROM Event WHERE IsChild = true "
            "AND OwnerId = {}",
            bob,
        )
    )["records"]
    assert len(children) == 1
    child = children[0]
    assert child["StartDateTime"] == parent["StartDateTime"]

    salesforce.Event.update(event_id, {"Subject": "Renamed"})
    assert salesforce.Event.get(child["Id"])["Subject"] == "Renamed"
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.Event.update(child["Id"], {"Subject": "mine"})
    salesforce.Event.update(child["Id"], {"IsReminderSet": True})
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.EventRelation.create({"EventId": child["Id"], "RelationId": contact})

    salesforce.EventRelation.delete(relation["id"])
    with pytest.raises(SalesforceResourceNotFound):
        salesforce.Event.get(child["Id"])


def test_series_creates_occurrences_and_normalises_the_rule(salesforce):
    created = salesforce.Event.create(timed(Recurrence2PatternText="FREQ=WEEKLY;COUNT=4;BYDAY=MO"))
    rows = salesforce.query(
        "SELECT Id, StartDateTime, IsRecurrence2, Recurrence2PatternText FROM Event "
        "ORDER BY StartDateTime"
    )["records"]
    assert [r["StartDateTime"][:10] for r in rows] == [
        "2026-05-04",
        "2026-05-11",
        "2026-05-18",
        "2026-05-25",
    ]
    assert rows[0]["Id"] == created["id"]
    assert all(r["IsRecurrence2"] for r in rows)
    assert {r["Recurrence2PatternText"] for r in rows} == {
        "RRULE:FREQ=WEEKLY;BYDAY=MO;WKST=SU;INTERVAL=1;COUNT=4"
    }
    with pytest.raises(SalesforceMalformedRequest) as caught:
        salesforce.Event.update(created["id"], {"Recurrence2PatternText": "FREQ=DAILY;COUNT=2"})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_delete_from_this_event_onwards(salesforce):
    salesforce.Event.create(timed(Recurrence2PatternText="FREQ=DAILY;COUNT=5"))
    lone = salesforce.Event.create(timed(Subject="lone"))["id"]
    rows = salesforce.query(
        "SELECT Id FROM Event WHERE IsRecurrence2 = true ORDER BY StartDateTime"
    )["records"]
    third = rows[2]["Id"]
    assert (
        salesforce.restful(f"sobjects/Event/{third}/fromThisEventOnwards", method="DELETE") is None
    )
    left = salesforce.query(
        "SELECT Id FROM Event WHERE IsRecurrence2 = true ORDER BY StartDateTime"
    )["records"]
    assert [r["Id"] for r in left] == [rows[0]["Id"], rows[1]["Id"]]
    with pytest.raises(SalesforceMalformedRequest):
        salesforce.restful(f"sobjects/Event/{lone}/fromThisEventOnwards", method="DELETE")


def test_deleting_the_primary_who_promotes_the_next(salesforce):
    first = salesforce.Contact.create({"LastName": "First"})["id"]
    second = salesforce.Contact.create({"LastName": "Second"})["id"]
    event_id = salesforce.Event.create(timed(EventWhoIds=[first, second]))["id"]
    relation = salesforce.query(
        format_soql(
            "SELECT Id FROM EventRelation WHERE EventId = {} AND RelationId = {}", event_id, first
        )
    )["records"][0]["Id"]
    salesforce.EventRelation.delete(relation)
    event = salesforce.Event.get(event_id)
    assert (event["WhoId"], event["WhoCount"]) == (second, 1)
