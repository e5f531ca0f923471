"""Salesforce emulator, what down-sync reads and hears (R-21..R-25): public calendars (the
Calendar object, ids 023), getDeleted's limits and purges, queryAll and the Recycle Bin, and the
Flow on Event that calls calsync's webhook with a JWT the org's certificate signs. Through
simple-salesforce, as calsync talks to it."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from infra.flow_callout import CalloutRefused, FlowVerifier, public_keys
from tests.fixtures.salesforce import API_VERSION, trusting_session, user_body
from tests.integration.test_salesforce_changes_limits import emulator_now

pytestmark = pytest.mark.integration

REP = "rep@example.com"


def body(subject, owner=None, **kw):
    out = {"Subject": subject, "StartDateTime": "2026-05-04T09:00:00Z", "DurationInMinutes": 30}
    if owner:
        out["OwnerId"] = owner
    return {**out, **kw}


def as_user(salesforce_org, salesforce, username=REP) -> tuple[Salesforce, str]:
    """A session of a person (their own login: edits 'in the UI')."""
    if not salesforce.query(f"SELECT Id FROM User WHERE Username = '{username}'")["records"]:
        salesforce.User.create(user_body(salesforce, username, "Rep"))
    answer = salesforce_org.admin("POST", "sessions", json={"username": username})
    client = Salesforce(instance_url=salesforce_org.url, session_id=answer["access_token"],
                        session=trusting_session(salesforce_org.cert), version=API_VERSION)  # fmt: skip
    return client, answer["user_id"]


# -- public calendars -----------------------------------------------------------------


def test_R25_public_calendars_are_read_only_records_that_own_events(salesforce_org, salesforce):
    team = salesforce_org.admin("POST", "calendars", json={"name": "Trade fairs"})["id"]
    assert team.startswith("023")
    found = salesforce.query("SELECT Id, Name, Type, IsActive FROM Calendar")["records"]
    assert [(r["Id"], r["Name"], r["Type"], r["IsActive"]) for r in found] == [
        (team, "Trade fairs", "Public", True)]  # fmt: skip
    with pytest.raises(SalesforceMalformedRequest) as refused:
        salesforce.Calendar.create({"Name": "Mine"})
    assert refused.value.content[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
    event = salesforce.Event.create(body("Fair day", team))["id"]
    rows = salesforce.query(f"SELECT Id, Owner.Name FROM Event WHERE OwnerId = '{team}'")["records"]
    assert [r["Id"] for r in rows] == [event]
    owner = next(f for f in salesforce.Event.describe()["fields"] if f["name"] == "OwnerId")
    assert owner["referenceTo"] == ["User", "Calendar"]


def test_R25_a_seed_makes_calendars_and_their_events(salesforce_org, salesforce):
    refs = salesforce_org.admin("POST", "seed", json={
        "Calendar": [{"_ref": "fairs", "Name": "Fairs"}],
        "Event": [{**body("Expo"), "OwnerId": "@fairs"}]})["refs"]  # fmt: skip
    assert refs["fairs"].startswith("023")
    assert salesforce.query(f"SELECT COUNT() FROM Event WHERE OwnerId = '{refs['fairs']}'")[
        "totalSize"] == 1  # fmt: skip


# -- getDeleted and the Recycle Bin (API-FACTS-2 §1.3) -------------------------------------


def test_getdeleted_reaches_back_15_days_and_needs_more_than_a_minute(salesforce_org, salesforce):
    now = emulator_now(salesforce_org)
    with pytest.raises(SalesforceMalformedRequest) as old:
        salesforce.Event.deleted(now - timedelta(days=16), now)
    assert "15 days" in old.value.content[0]["message"]
    salesforce.Event.updated(now - timedelta(days=16), now)  # getUpdated: 30 days
    with pytest.raises(SalesforceMalformedRequest) as short:
        salesforce.Event.deleted(now - timedelta(seconds=61), now)
    assert short.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_a_purged_delete_log_answers_invalid_replication_date(salesforce_org, salesforce):
    start = emulator_now(salesforce_org) - timedelta(minutes=10)
    salesforce_org.admin("POST", "clock", json={"advance_seconds": 120})
    salesforce_org.admin("POST", "delete_log/purge")
    with pytest.raises(SalesforceMalformedRequest) as purged:
        salesforce.Event.deleted(start, emulator_now(salesforce_org))
    assert purged.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    salesforce_org.admin("POST", "clock", json={"advance_seconds": 180})
    after = emulator_now(salesforce_org)
    assert salesforce.Event.deleted(after - timedelta(minutes=2), after)["deletedRecords"] == []


def test_an_emptied_recycle_bin_hides_deletes_from_queryall_and_moves_earliest_date(
    salesforce_org, salesforce
):
    start = emulator_now(salesforce_org) - timedelta(minutes=5)
    gone = salesforce.Event.create(body("gone"))["id"]
    salesforce.Event.delete(gone)
    deleted = salesforce.query_all(f"SELECT Id, IsDeleted FROM Event WHERE Id = '{gone}'",
                                   include_deleted=True)["records"]  # fmt: skip
    assert [(r["Id"], r["IsDeleted"]) for r in deleted] == [(gone, True)]
    assert salesforce_org.admin("POST", "recycle_bin/empty")["purged"] >= 1
    assert salesforce.query_all(f"SELECT Id FROM Event WHERE Id = '{gone}'",
                                include_deleted=True)["totalSize"] == 0  # fmt: skip
    salesforce_org.admin("POST", "clock", json={"advance_seconds": 120})
    feed = salesforce.Event.deleted(start, emulator_now(salesforce_org))
    assert feed["deletedRecords"] == []
    assert feed["earliestDateAvailable"] > start.strftime("%Y-%m-%dT%H:%M:%S")


def test_deleted_rows_leave_queryall_after_the_recycle_bins_15_days(salesforce_org, salesforce):
    gone = salesforce.Event.create(body("old"))["id"]
    salesforce.Event.delete(gone)
    salesforce_org.admin("POST", "clock", json={"advance_seconds": 16 * 86400})
    assert salesforce.query_all(f"SELECT Id FROM Event WHERE Id = '{gone}'",
                                include_deleted=True)["totalSize"] == 0  # fmt: skip


# -- the Flow on Event (R-21: seconds) --------------------------------------------------------


def flow_on(salesforce_org, receiver, **extra):
    return salesforce_org.admin("POST", "flow", json={
        "url": f"{receiver.url}/salesforce_webhook", "delay_ms": 50, "enabled": True, **extra})  # fmt: skip


def test_R21_the_flow_calls_after_a_persons_create_and_update_but_not_a_delete(
    salesforce_org, salesforce, http_receiver
):
    """A delete-triggered Flow runs before the delete, synchronously, where Salesforce forbids
    callouts: deletes are the poll's to find."""
    config = flow_on(salesforce_org, http_receiver)
    rep, rep_id = as_user(salesforce_org, salesforce)
    event = rep.Event.create(body("Call"))["id"]
    rep.Event.update(event, {"Subject": "Call, moved"})
    got = [http_receiver.next() for _ in range(2)]
    rep.Event.delete(event)
    assert http_receiver.nothing_within(0.5)
    bodies = [json.loads(g.body) for g in got]
    assert [(b["eventId"], b["change"]) for b in bodies] == [
        (event, "created"), (event, "updated")]  # fmt: skip
    assert {b["orgId"] for b in bodies} == {config["org_id"]}
    assert {b["ownerId"] for b in bodies} == {rep_id}
    assert bodies[1]["lastModifiedById"] == rep_id and bodies[1]["isChild"] is False
    assert {g.path for g in got} == {"/salesforce_webhook"}
    sent = salesforce_org.admin("GET", "flow")["sent"]
    assert [s["status"] for s in sent] == [200, 200]


def test_R21_the_flows_jwt_verifies_against_the_orgs_certificate(salesforce_org, salesforce,
                                                                 http_receiver):  # fmt: skip
    config = flow_on(salesforce_org, http_receiver)
    rep, _ = as_user(salesforce_org, salesforce)
    rep.Event.create(body("Call"))
    token = http_receiver.next().headers["Authorization"].removeprefix("Bearer ")
    pem = salesforce_org.admin("GET", "flow/certificate")["pem"]
    audience = f"{http_receiver.url}/salesforce_webhook"
    claims = FlowVerifier(public_keys(pem), config["org_id"], audience).verify(token)
    assert claims["iss"] == config["org_id"] and claims["aud"] == audience
    assert claims["exp"] - claims["iat"] == 120  # Salesforce's default: 2 minutes
    with pytest.raises(CalloutRefused, match="another org"):
        FlowVerifier(public_keys(pem), "00D000000000001AAA", audience).verify(token)
    with pytest.raises(CalloutRefused):
        FlowVerifier(public_keys(pem), config["org_id"], "https://elsewhere/x").verify(token)
    stale = FlowVerifier(public_keys(pem), config["org_id"], audience,
                         clock=lambda: time.time() + 900)  # fmt: skip
    with pytest.raises(CalloutRefused):
        stale.verify(token)


def test_R26_the_flow_leaves_out_calsyncs_own_writes_and_invitee_events(salesforce_org, salesforce,
                                                                        http_receiver):  # fmt: skip
    """The entry condition: not the integration user (its custom permission), IsChild = false."""
    flow_on(salesforce_org, http_receiver)
    salesforce.Event.create(body("calsync made this"))  # the integration user
    assert http_receiver.nothing_within(0.5)
    rep, _ = as_user(salesforce_org, salesforce)
    _, other_id = as_user(salesforce_org, salesforce, "other@example.com")
    event = rep.Event.create(body("Team call"))["id"]
    assert json.loads(http_receiver.next().body)["eventId"] == event
    rep.EventRelation.create({"EventId": event, "RelationId": other_id})  # a child event appears
    time.sleep(0.5)
    later = []
    while not http_receiver.received.empty():
        later.append(json.loads(http_receiver.next().body))
    assert {b["eventId"] for b in later} <= {event}  # the parent became a group event; no child
    children = [e for e in salesforce_org.records("Event") if e["IsChild"]]
    assert [c["OwnerId"] for c in children] == [other_id]


def test_the_flow_is_off_until_configured_and_sends_once_without_retrying(salesforce_org,
                                                                          salesforce,
                                                                          http_receiver):  # fmt: skip
    rep, _ = as_user(salesforce_org, salesforce)
    rep.Event.create(body("before the flow"))
    assert http_receiver.nothing_within(0.5)
    flow_on(salesforce_org, http_receiver)
    http_receiver.status = 503
    rep.Event.create(body("refused"))
    http_receiver.next()
    assert http_receiver.nothing_within(0.5)  # a failed callout is not sent again
    assert [s["status"] for s in salesforce_org.admin("GET", "flow")["sent"]] == [503]


def test_a_flow_setting_with_a_typo_is_refused(salesforce_org):
    with pytest.raises(Exception) as refused:
        salesforce_org.admin("POST", "flow", json={"url": "http://x", "enabeld": True})
    assert "400" in str(refused.value)
