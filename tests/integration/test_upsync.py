"""Up-sync sessions on the emulators: the seed's scenarios through the real clients (docs/rules.md, up-sync)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.labels import P_ISSUE, P_KEY, P_STATUS
from tests.fixtures.upsync import ALICE, BOB, JANE, LEE, NOBODY

pytestmark = pytest.mark.integration


def test_R01_R02_manual_save_by_colour(org):
    org.enable(ALICE)
    event = org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    report = org.sync(ALICE)
    [sf] = org.events()
    assert sf["Subject"] == "Acme kickoff"
    assert sf["OwnerId"] == org.ids["alice"]
    assert sf["WhoId"] == org.ids["jane"]
    assert report.created and not report.failed
    props = org.private_props(ALICE, event["id"])
    assert props[P_STATUS].startswith("Tracked successfully")
    assert props[P_KEY]
    assert org.get(ALICE, event["id"])["colorId"] == "9"


def test_R29_R30_second_session_writes_nothing_and_calls_no_salesforce(org):
    org.enable(ALICE)
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    sf_before, cal_before = org.sf_calls(), org.calendar_calls()
    org.sync(ALICE)
    assert org.sf_calls() == sf_before
    assert org.calendar_calls() - cal_before == 1  # one incremental list
    assert len(org.events()) == 1


def test_R05_autosave_meetings_and_appointments(org):
    org.enable(ALICE, autosave_meetings=True, autosave_appointments=True)
    org.insert(ALICE, "Meeting with Jane", attendees=(ALICE, JANE))
    org.insert(ALICE, "Prep time")  # an appointment: no attendees
    org.insert(ALICE, "Far future", days=90, attendees=(ALICE, JANE))  # outside the window
    org.sync(ALICE)
    assert sorted(e["Subject"] for e in org.events()) == ["Meeting with Jane", "Prep time"]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"visibility": "private"}, id="R-06 private meeting skipped"),
        pytest.param({"attendees_": (ALICE, BOB)}, id="R-06 internal meeting skipped"),
        pytest.param({"attendees_": (ALICE, NOBODY)}, id="R-06 non-linked meeting skipped"),
        pytest.param({"eventType": "focusTime", "attendees_": ()}, id="R-06 focus time skipped"),
    ],
)
def test_R06_autosave_skips_quietly(org, extra):
    org.enable(ALICE, autosave_meetings=True, autosave_appointments=True)
    attendees = extra.pop("attendees_", (ALICE, JANE))
    event = org.insert(ALICE, "Quietly skipped", attendees=attendees, **extra)
    org.sync(ALICE)
    assert org.events() == []
    after = org.get(ALICE, event["id"])
    assert after.get("colorId") is None  # no error label
    assert P_ISSUE not in org.private_props(ALICE, event["id"])


def test_R07_unresolved_then_resolved_by_a_later_session(org):
    org.enable(ALICE)
    event = org.insert(ALICE, "Who is this", attendees=(ALICE, NOBODY), colorId="9")
    org.sync(ALICE)
    assert org.events() == []
    assert org.get(ALICE, event["id"])["colorId"] == "11"  # the error label
    issues = org.services.issues.open_for_user(ALICE)
    assert [i.code for i in issues] == ["CS-002"]
    org.sf_org.client().Contact.create(
        {"LastName": "Stranger", "Email": NOBODY, "AccountId": org.ids["acme"]}
    )
    org.sync(ALICE, sweep=True)  # the sweep retries items waiting on R-07
    [sf] = org.events()
    assert sf["Subject"] == "Who is this"
    assert org.services.issues.open_for_user(ALICE) == []
    assert org.get(ALICE, event["id"])["colorId"] == "9"


def test_R08_declined_meeting_cannot_be_saved_ISE013(org):
    org.enable(ALICE, BOB)
    event = org.insert(ALICE, "Alice's meeting", attendees=(ALICE, BOB, JANE))
    org.respond(BOB, event["id"], "declined")
    org.patch(BOB, event["id"], colorId="9")
    org.sync(BOB)
    assert org.events() == []
    [issue] = org.services.issues.open_for_user(BOB)
    assert issue.code == "ISE-013"
    assert org.private_props(BOB, event["id"])[P_ISSUE] == "ISE-013"


def test_R10_R11_attendee_waits_for_the_internal_organiser_then_joins(org):
    """IU1 (Alice) organises with IU2 (Bob) and an external contact; Bob saves first."""
    org.enable(ALICE, BOB)
    event = org.insert(ALICE, "Acme review", attendees=(ALICE, BOB, JANE))
    org.respond(BOB, event["id"], "accepted")
    org.patch(BOB, event["id"], colorId="9")
    org.sync(BOB)
    assert org.events() == []
    assert [i.code for i in org.services.issues.open_for_user(BOB)] == ["CS-001"]
    assert org.get(BOB, event["id"]).get("colorId") != "11"  # pending, not the error label
    org.patch(ALICE, event["id"], colorId="9")
    org.sync(ALICE)
    [sf] = org.events()
    assert sf["OwnerId"] == org.ids["alice"]
    invitees = [
        r["RelationId"]
        for r in org.sf_org.records("EventRelation")
        if r["EventId"] == sf["Id"] and r.get("IsInvitee")
    ]
    assert org.ids["bob"] in invitees  # the SF user attendee is an invitee
    org.sync(BOB, sweep=True)
    assert len(org.events()) == 1  # Bob joins Alice's event, no second one
    assert org.services.issues.open_for_user(BOB) == []
    assert (
        org.private_props(BOB, event["id"])[P_KEY] == org.private_props(ALICE, event["id"])[P_KEY]
    )


def test_R12_external_organiser_gives_each_internal_owner_an_event(org):
    """EU1 (Lee, a Lead) invites IU1 and IU2: both save, each gets an SF Event of their own."""
    org.enable(ALICE, BOB)
    start = org.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    body = {
        "iCalUID": "external-invite-1@leadco.io",
        "summary": "LeadCo pitch",
        "organizer": {"email": LEE},
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {
            "dateTime": (start + timedelta(hours=1)).isoformat(),
            "timeZone": "UTC",
        },
        "attendees": [
            {"email": LEE, "organizer": True, "responseStatus": "accepted"},
            {"email": ALICE, "responseStatus": "accepted"},
            {"email": BOB, "responseStatus": "accepted"},
        ],
        "colorId": "9",
    }
    for user in (ALICE, BOB):
        org.calendar(user).import_(calendarId="primary", body=body).execute()
    org.sync(ALICE)
    org.sync(BOB)
    org.sync(ALICE)
    events = org.events()
    assert sorted(e["OwnerId"] for e in events) == sorted([org.ids["alice"], org.ids["bob"]])
    assert {e["WhoId"] for e in events} == {org.ids["lee"]}


def test_R15_changes_reach_the_sf_event(org):
    org.enable(ALICE)
    event = org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    org.patch(ALICE, event["id"], summary="Acme kickoff (moved)", location="Room 4")
    org.sync(ALICE)
    [sf] = org.events()
    assert (sf["Subject"], sf["Location"]) == ("Acme kickoff (moved)", "Room 4")


def test_R14_safe_description_written_once(org):
    org.enable(ALICE)
    event = org.insert(
        ALICE, "Notes", attendees=(ALICE, JANE), colorId="9", description="<b>Agenda</b>"
    )
    org.sync(ALICE)
    [sf] = org.events()
    assert "Agenda" in sf["Description"] and "<b>" not in sf["Description"]
    assert JANE in sf["Description"]  # the participants header
    org.patch(ALICE, event["id"], description="changed later")
    org.sync(ALICE)
    [sf] = org.events()
    assert "changed later" not in sf["Description"]


def test_R18_organiser_cancel_deletes_the_sf_event(org):
    org.enable(ALICE)
    event = org.insert(ALICE, "Cancelled soon", attendees=(ALICE, JANE), colorId="9")
    org.sync(ALICE)
    assert len(org.events()) == 1
    org.calendar(ALICE).delete(calendarId="primary", eventId=event["id"]).execute()
    org.sync(ALICE)
    assert org.events() == []


def test_R18_unsync_colour_deletes_and_takes_labels_off(org):
    org.enable(ALICE, autosave_meetings=True)
    event = org.insert(ALICE, "Unsync me", attendees=(ALICE, JANE), colorId="5")
    org.sync(ALICE)
    assert len(org.events()) == 1
    org.patch(ALICE, event["id"], colorId="8")
    org.sync(ALICE)
    assert org.events() == []
    after = org.get(ALICE, event["id"])
    assert after.get("colorId") == "5"  # the user's own colour is back
    assert P_KEY not in org.private_props(ALICE, event["id"])
    org.sync(ALICE, sweep=True)
    assert org.events() == []  # autosave leaves it alone from then on
