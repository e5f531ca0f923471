"""Calendar emulator: secondary (group) calendars, shared through ACLs, used through
google-api-python-client exactly as a client of Google would (admin endpoints over raw HTTP)."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

import pytest
import requests
from googleapiclient.errors import HttpError

pytestmark = pytest.mark.integration

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.org"
DAVE = "dave@example.com"  # a hosted user the calendar is not shared with
GROUP = "sales-team@group.calendar.google.com"


def event(summary: str, hour: int = 10, **extra):
    return {
        "summary": summary,
        "start": {"dateTime": f"2030-01-01T{hour:02d}:00:00Z"},
        "end": {"dateTime": f"2030-01-01T{hour + 1:02d}:00:00Z"},
        **extra,
    }


def reason(exc: HttpError) -> str:
    return str(exc.error_details[0]["reason"])


def shared_calendar(gcal) -> str:
    """Alice makes a calendar and shares it: Bob may write, Carol may read."""
    alice = gcal.service(ALICE)
    calendar = alice.calendars().insert(body={"summary": "Sales", "timeZone": "UTC"}).execute()
    for email, role in ((BOB, "writer"), (CAROL, "reader")):
        rule = {"role": role, "scope": {"type": "user", "value": email}}
        alice.acl().insert(calendarId=calendar["id"], body=rule).execute()
    return str(calendar["id"])


def full_sync(service, calendar_id: str) -> tuple[list[dict], str]:
    items, request = [], service.events().list(calendarId=calendar_id, maxResults=2)
    while True:
        page = request.execute()
        items += page["items"]
        if "nextSyncToken" in page:
            return items, page["nextSyncToken"]
        request = service.events().list(
            calendarId=calendar_id, maxResults=2, pageToken=page["nextPageToken"]
        )


# -- calendars.insert / calendars.get / calendarList -------------------------------------------


def test_calendars_insert_makes_a_group_calendar_its_creator_owns(gcal):
    alice = gcal.service(ALICE)
    made = (
        alice.calendars()
        .insert(body={"summary": "Sales", "timeZone": "Europe/Paris", "description": "d"})
        .execute()
    )
    assert made["kind"] == "calendar#calendar"
    assert made["id"].startswith("c_") and made["id"].endswith("@group.calendar.google.com")
    assert (made["summary"], made["timeZone"], made["description"]) == (
        "Sales",
        "Europe/Paris",
        "d",
    )
    got = alice.calendars().get(calendarId=made["id"]).execute()
    assert got["id"] == made["id"] and got["dataOwner"] == ALICE
    [rule] = alice.acl().list(calendarId=made["id"]).execute()["items"]
    assert rule == {
        "kind": "calendar#aclRule",
        "etag": rule["etag"],
        "id": f"user:{ALICE}",
        "scope": {"type": "user", "value": ALICE},
        "role": "owner",
    }
    entries = alice.calendarList().list().execute()["items"]
    assert [(e["id"], e["accessRole"]) for e in entries] == [
        (ALICE, "owner"),
        (made["id"], "owner"),
    ]
    assert entries[0]["primary"] is True and "primary" not in entries[1]
    other = alice.calendars().insert(body={"summary": "Sales"}).execute()
    assert other["id"] != made["id"] and other["timeZone"] == "UTC"


def test_calendars_insert_needs_a_summary(gcal):
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).calendars().insert(body={"timeZone": "UTC"}).execute()
    assert caught.value.status_code == 400 and reason(caught.value) == "required"


# -- access through the ACL ---------------------------------------------------------------------


def test_writer_inserts_reader_lists_stranger_gets_404(gcal):
    calendar = shared_calendar(gcal)
    bob, carol, dave = gcal.service(BOB), gcal.service(CAROL), gcal.service(DAVE)

    made = bob.events().insert(calendarId=calendar, body=event("Team demo")).execute()
    # The group calendar organises the event; the writer who made it is its creator.
    assert made["organizer"] == {"email": calendar, "displayName": "Sales", "self": True}
    assert made["creator"] == {"email": BOB}

    listed = carol.events().list(calendarId=calendar).execute()["items"]
    assert [e["id"] for e in listed] == [made["id"]]
    assert listed[0]["organizer"]["self"] is True
    got = carol.events().get(calendarId=calendar, eventId=made["id"]).execute()
    assert got["summary"] == "Team demo"
    assert carol.calendars().get(calendarId=calendar).execute()["summary"] == "Sales"

    for call in (
        lambda: carol.events().insert(calendarId=calendar, body=event("Nope")),
        lambda: carol.events().patch(
            calendarId=calendar, eventId=made["id"], body={"summary": "x"}
        ),
        lambda: carol.events().delete(calendarId=calendar, eventId=made["id"]),
    ):
        with pytest.raises(HttpError) as caught:
            call().execute()
        assert caught.value.status_code == 403
        assert reason(caught.value) == "requiredAccessLevel"
        assert "writer access" in str(caught.value.error_details[0]["message"])

    for call in (
        lambda: dave.events().list(calendarId=calendar),
        lambda: dave.events().get(calendarId=calendar, eventId=made["id"]),
        lambda: dave.events().insert(calendarId=calendar, body=event("Nope")),
        lambda: dave.calendars().get(calendarId=calendar),
        lambda: dave.acl().list(calendarId=calendar),
    ):
        with pytest.raises(HttpError) as caught:
            call().execute()
        assert caught.value.status_code == 404 and reason(caught.value) == "notFound"

    # The writer edits and deletes like the owner would.
    patched = bob.events().patch(
        calendarId=calendar, eventId=made["id"], body={"summary": "Team demo v2"}
    )
    assert patched.execute()["summary"] == "Team demo v2"
    bob.events().delete(calendarId=calendar, eventId=made["id"]).execute()
    assert carol.events().list(calendarId=calendar).execute()["items"] == []


def test_only_owners_change_the_acl_writers_may_read_it(gcal):
    calendar = shared_calendar(gcal)
    bob, carol = gcal.service(BOB), gcal.service(CAROL)
    rule = {"role": "reader", "scope": {"type": "user", "value": DAVE}}
    for service in (bob, carol):
        with pytest.raises(HttpError) as caught:
            service.acl().insert(calendarId=calendar, body=rule).execute()
        assert caught.value.status_code == 403 and reason(caught.value) == "requiredAccessLevel"
        assert "owner access" in str(caught.value.error_details[0]["message"])
    rules = bob.acl().list(calendarId=calendar).execute()["items"]
    assert {r["id"]: r["role"] for r in rules} == {
        f"user:{ALICE}": "owner",
        f"user:{BOB}": "writer",
        f"user:{CAROL}": "reader",
    }
    with pytest.raises(HttpError) as caught:
        carol.acl().list(calendarId=calendar).execute()
    assert caught.value.status_code == 403 and reason(caught.value) == "requiredAccessLevel"


def test_acl_insert_replaces_a_scopes_rule_and_delete_takes_access_away(gcal):
    calendar = shared_calendar(gcal)
    alice, carol = gcal.service(ALICE), gcal.service(CAROL)
    upgrade = {"role": "writer", "scope": {"type": "user", "value": CAROL}}
    rule = alice.acl().insert(calendarId=calendar, body=upgrade).execute()
    assert (rule["id"], rule["role"]) == (f"user:{CAROL}", "writer")
    carol.events().insert(calendarId=calendar, body=event("Now I may")).execute()
    assert (
        alice.acl().get(calendarId=calendar, ruleId=f"user:{CAROL}").execute()["role"] == "writer"
    )

    alice.acl().delete(calendarId=calendar, ruleId=f"user:{CAROL}").execute()
    with pytest.raises(HttpError) as caught:
        carol.events().list(calendarId=calendar).execute()
    assert caught.value.status_code == 404


def test_domain_and_free_busy_rules(gcal):
    calendar = shared_calendar(gcal)
    alice, dave = gcal.service(ALICE), gcal.service(DAVE)
    rule = {"role": "freeBusyReader", "scope": {"type": "domain", "value": "example.com"}}
    alice.acl().insert(calendarId=calendar, body=rule).execute()
    # Free/busy access shows the calendar but not its events.
    assert dave.calendars().get(calendarId=calendar).execute()["id"] == calendar
    with pytest.raises(HttpError) as caught:
        dave.events().list(calendarId=calendar).execute()
    assert caught.value.status_code == 403 and reason(caught.value) == "requiredAccessLevel"
    rule = {"role": "reader", "scope": {"type": "domain", "value": "example.com"}}
    alice.acl().insert(calendarId=calendar, body=rule).execute()
    assert dave.events().list(calendarId=calendar).execute()["items"] == []
    # A user rule does not take away what the domain gives: the strongest rule wins.
    assert gcal.service(BOB).events().list(calendarId=calendar).execute()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"scope": {"type": "user", "value": DAVE}}, id="no role"),
        pytest.param({"role": "admin", "scope": {"type": "user", "value": DAVE}}, id="bad role"),
        pytest.param({"role": "reader"}, id="no scope"),
        pytest.param({"role": "reader", "scope": {"type": "planet"}}, id="bad scope type"),
        pytest.param({"role": "reader", "scope": {"type": "user"}}, id="no scope value"),
    ],
)
def test_acl_insert_refuses_incomplete_rules(gcal, body):
    calendar = shared_calendar(gcal)
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).acl().insert(calendarId=calendar, body=body).execute()
    assert caught.value.status_code == 400


def test_primary_calendars_are_unchanged_unless_shared(gcal):
    alice, bob = gcal.service(ALICE), gcal.service(BOB)
    alice.events().insert(calendarId="primary", body=event("Mine")).execute()
    with pytest.raises(HttpError) as caught:
        bob.events().list(calendarId=ALICE).execute()
    assert caught.value.status_code == 403 and reason(caught.value) == "forbidden"
    [owner] = alice.acl().list(calendarId="primary").execute()["items"]
    assert owner["id"] == f"user:{ALICE}" and owner["role"] == "owner"

    rule = {"role": "reader", "scope": {"type": "user", "value": BOB}}
    alice.acl().insert(calendarId="primary", body=rule).execute()
    [seen] = bob.events().list(calendarId=ALICE).execute()["items"]
    # `self` says the organiser is the calendar this copy is on (Alice's), whoever looks at it.
    assert seen["summary"] == "Mine" and seen["organizer"]["self"] is True
    with pytest.raises(HttpError) as caught:
        bob.events().insert(calendarId=ALICE, body=event("Not mine")).execute()
    assert caught.value.status_code == 403 and reason(caught.value) == "requiredAccessLevel"


def test_scopes_of_calendar_and_acl_methods(gcal):
    """A token with calendar.events only (what calsync asks for) reads a group calendar's events
    but may not make calendars or change ACLs."""
    calendar = shared_calendar(gcal)
    delegated = gcal.service(credentials=gcal.delegated_credentials(CAROL))
    assert delegated.events().list(calendarId=calendar).execute()["items"] == []
    for call in (
        lambda: delegated.calendars().insert(body={"summary": "x"}),
        lambda: delegated.acl().list(calendarId=calendar),
    ):
        with pytest.raises(HttpError) as caught:
            call().execute()
        assert caught.value.status_code == 403 and reason(caught.value) == "insufficientPermissions"
    full = "https://www.googleapis.com/auth/calendar"
    owner = gcal.service(credentials=gcal.delegated_credentials(ALICE, scopes=(full,)))
    assert owner.calendars().insert(body={"summary": "x"}).execute()["summary"] == "x"


# -- events on a group calendar: sync, attendees, push --------------------------------------


def test_incremental_sync_on_a_group_calendar_returns_exactly_the_changes(gcal):
    calendar = shared_calendar(gcal)
    bob, carol = gcal.service(BOB), gcal.service(CAROL)
    ids = [
        bob.events().insert(calendarId=calendar, body=event(f"E{n}", hour=8 + n)).execute()["id"]
        for n in range(5)
    ]
    items, token = full_sync(carol, calendar)
    assert sorted(e["id"] for e in items) == sorted(ids)

    bob.events().patch(calendarId=calendar, eventId=ids[0], body={"summary": "E0 moved"}).execute()
    bob.events().delete(calendarId=calendar, eventId=ids[1]).execute()
    new = bob.events().insert(calendarId=calendar, body=event("E5", hour=20)).execute()
    gcal.service(ALICE).events().insert(calendarId="primary", body=event("Elsewhere")).execute()

    changes = carol.events().list(calendarId=calendar, syncToken=token).execute()
    assert {e["id"]: e["status"] for e in changes["items"]} == {
        ids[0]: "confirmed",
        ids[1]: "cancelled",
        new["id"]: "confirmed",
    }
    again = carol.events().list(calendarId=calendar, syncToken=changes["nextSyncToken"]).execute()
    assert again["items"] == []

    # A token is bound to its calendar: the group calendar's is 410 on the primary, and back.
    with pytest.raises(HttpError) as caught:
        carol.events().list(calendarId="primary", syncToken=token).execute()
    assert caught.value.status_code == 410
    primary_token = full_sync(carol, "primary")[1]
    with pytest.raises(HttpError) as caught:
        carol.events().list(calendarId=calendar, syncToken=primary_token).execute()
    assert caught.value.status_code == 410


def test_recurring_event_on_a_group_calendar(gcal):
    calendar = shared_calendar(gcal)
    bob = gcal.service(BOB)
    body = event("Weekly", recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"])
    body["start"]["timeZone"] = body["end"]["timeZone"] = "UTC"
    master = bob.events().insert(calendarId=calendar, body=body).execute()
    instances = bob.events().instances(calendarId=calendar, eventId=master["id"]).execute()
    assert len(instances["items"]) == 3
    first = instances["items"][0]
    bob.events().patch(
        calendarId=calendar, eventId=first["id"], body={"summary": "Moved"}
    ).execute()
    singles = (
        gcal.service(CAROL)
        .events()
        .list(calendarId=calendar, singleEvents=True, orderBy="startTime")
        .execute()
    )
    assert [e["summary"] for e in singles["items"]] == ["Moved", "Weekly", "Weekly"]


def test_attendees_of_a_group_calendar_event_get_their_copy(gcal):
    calendar = shared_calendar(gcal)
    bob, dave = gcal.service(BOB), gcal.service(DAVE)
    room = gcal.service(ALICE).calendars().insert(body={"summary": "Board room"}).execute()["id"]
    people = [{"email": DAVE}, {"email": "jane@acme.com"}, {"email": room}]
    made = (
        bob.events().insert(calendarId=calendar, body=event("Review", attendees=people)).execute()
    )
    # A secondary calendar invited as an attendee gets its copy like a user's calendar.
    on_room = gcal.service(ALICE).events().get(calendarId=room, eventId=made["id"]).execute()
    assert on_room["organizer"]["email"] == calendar and "self" not in on_room["organizer"]
    copy = dave.events().get(calendarId="primary", eventId=made["id"]).execute()
    assert copy["organizer"] == {"email": calendar, "displayName": "Sales"}
    assert copy["creator"] == {"email": BOB}
    attendees = [
        dict(a, responseStatus="accepted") if a.get("self") else a for a in copy["attendees"]
    ]
    dave.events().patch(
        calendarId="primary", eventId=made["id"], body={"attendees": attendees}
    ).execute()
    on_group = bob.events().get(calendarId=calendar, eventId=made["id"]).execute()
    assert {a["email"]: a.get("responseStatus") for a in on_group["attendees"]}[DAVE] == "accepted"
    bob.events().delete(calendarId=calendar, eventId=made["id"]).execute()
    gone = dave.events().get(calendarId="primary", eventId=made["id"]).execute()
    assert gone["status"] == "cancelled"


def test_push_channel_on_a_group_calendar_fires(gcal, http_receiver):
    calendar = shared_calendar(gcal)
    body = {"id": str(uuid.uuid4()), "type": "web_hook", "address": http_receiver.url}
    channel = gcal.service(CAROL).events().watch(calendarId=calendar, body=body).execute()
    assert calendar in unquote(channel["resourceUri"])
    sync = http_receiver.next().headers
    assert sync["X-Goog-Resource-State"] == "sync"
    assert sync["X-Goog-Resource-ID"] == channel["resourceId"]

    gcal.service(ALICE).events().insert(calendarId="primary", body=event("Other")).execute()
    gcal.service(BOB).events().insert(calendarId=calendar, body=event("Team")).execute()
    change = http_receiver.next().headers
    assert change["X-Goog-Resource-State"] == "exists"
    assert change["X-Goog-Channel-ID"] == channel["id"]
    assert change["X-Goog-Resource-ID"] == channel["resourceId"]
    assert http_receiver.nothing_within(0.3)  # Alice's primary calendar is not watched

    body = {"id": str(uuid.uuid4()), "type": "web_hook", "address": http_receiver.url}
    with pytest.raises(HttpError) as caught:
        gcal.service(DAVE).events().watch(calendarId=calendar, body=body).execute()
    assert caught.value.status_code == 404


# -- admin endpoint ---------------------------------------------------------------------------


def test_admin_makes_a_group_calendar_with_a_fixed_id_and_members(gcal):
    made = gcal.admin(
        "POST",
        "calendars",
        {"id": GROUP, "summary": "Sales team", "owner": ALICE, "members": {BOB: "writer"}},
    )
    assert made["id"] == GROUP and made["dataOwner"] == ALICE
    assert {r["id"]: r["role"] for r in made["acl"]} == {
        f"user:{ALICE}": "owner",
        f"user:{BOB}": "writer",
    }
    gcal.service(BOB).events().insert(calendarId=GROUP, body=event("Demo")).execute()
    with pytest.raises(HttpError) as caught:
        gcal.service(CAROL).events().list(calendarId=GROUP).execute()
    assert caught.value.status_code == 404

    # Posting again adds members (and changes roles) without touching the events.
    gcal.admin("POST", "calendars", {"id": GROUP, "members": {CAROL: "reader", BOB: "reader"}})
    [seen] = gcal.service(CAROL).events().list(calendarId=GROUP).execute()["items"]
    assert seen["summary"] == "Demo" and seen["creator"] == {"email": BOB}
    with pytest.raises(HttpError) as caught:
        gcal.service(BOB).events().insert(calendarId=GROUP, body=event("x")).execute()
    assert caught.value.status_code == 403
    listed = {c["id"]: c["events"] for c in gcal.admin("GET", "calendars")["calendars"]}
    assert listed[GROUP] == 1
    assert [e["data"]["summary"] for e in gcal.raw_events(GROUP)] == ["Demo"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"id": ALICE}, id="a hosted address"),
        pytest.param({"id": "no-at-sign"}, id="not an address"),
        pytest.param({"id": GROUP, "members": {BOB: "boss"}}, id="bad role"),
    ],
)
def test_admin_refuses_bad_calendars(gcal, body):
    response = requests.post(f"{gcal.url}/_admin/calendars", json=body, timeout=5)
    assert response.status_code == 400
