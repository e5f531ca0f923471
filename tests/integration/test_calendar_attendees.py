"""Calendar emulator: attendee copies on hosted domains, per-copy fields, responses, imports."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

pytestmark = pytest.mark.integration

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.org"
OUTSIDER = "dave@partner.net"


def meeting(*attendees: str, **extra):
    return {
        "summary": "Planning",
        "start": {"dateTime": "2030-03-01T10:00:00Z"},
        "end": {"dateTime": "2030-03-01T11:00:00Z"},
        "attendees": [{"email": a} for a in attendees],
        **extra,
    }


def own_response(event, email):
    return next(a["responseStatus"] for a in event["attendees"] if a["email"] == email)


@pytest.fixture
def invite(gcal):
    """Alice invites Bob, Carol (other hosted domain) and an outsider; returns the organiser's copy."""
    return (
        gcal.service(ALICE)
        .events()
        .insert(calendarId="primary", body=meeting(BOB, CAROL, OUTSIDER))
        .execute()
    )


def test_hosted_attendees_get_a_copy_with_the_same_id_and_ical_uid(gcal, invite):
    for email in (BOB, CAROL):
        copy = (
            gcal.service(email).events().get(calendarId="primary", eventId=invite["id"]).execute()
        )
        assert copy["iCalUID"] == invite["iCalUID"]
        assert copy["organizer"] == {"email": ALICE}
        assert [a["email"] for a in copy["attendees"] if a.get("self")] == [email]
    calendars = {c["id"] for c in gcal.admin("GET", "calendars")["calendars"]}
    assert calendars == {ALICE, BOB, CAROL}  # the outsider has no calendar here


def test_attendee_colour_does_not_change_the_organisers(gcal, invite):
    bob = gcal.service(BOB).events()
    bob.patch(calendarId="primary", eventId=invite["id"], body={"colorId": "11"}).execute()
    assert bob.get(calendarId="primary", eventId=invite["id"]).execute()["colorId"] == "11"
    organiser = (
        gcal.service(ALICE).events().get(calendarId="primary", eventId=invite["id"]).execute()
    )
    assert "colorId" not in organiser
    carol = gcal.service(CAROL).events().get(calendarId="primary", eventId=invite["id"]).execute()
    assert "colorId" not in carol


def test_private_properties_reminders_transparency_are_per_copy(gcal, invite):
    gcal.service(BOB).events().patch(
        calendarId="primary",
        eventId=invite["id"],
        body={
            "extendedProperties": {"private": {"sfid": "00U1"}},
            "transparency": "transparent",
            "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 1}]},
        },
    ).execute()
    # the organiser changes shared data afterwards: Bob's own fields survive, the title follows
    gcal.service(ALICE).events().patch(
        calendarId="primary",
        eventId=invite["id"],
        body={
            "summary": "Planning v2",
            "extendedProperties": {"private": {"mine": "1"}, "shared": {"s": "x"}},
        },
    ).execute()
    bob = gcal.service(BOB).events().get(calendarId="primary", eventId=invite["id"]).execute()
    assert bob["summary"] == "Planning v2"
    assert bob["extendedProperties"] == {"private": {"sfid": "00U1"}, "shared": {"s": "x"}}
    assert bob["transparency"] == "transparent"
    assert bob["reminders"]["overrides"] == [{"method": "popup", "minutes": 1}]
    alice = gcal.service(ALICE).events().get(calendarId="primary", eventId=invite["id"]).execute()
    assert alice["extendedProperties"]["private"] == {"mine": "1"}
    assert alice.get("transparency", "opaque") == "opaque"


def test_each_attendees_response_reaches_every_copy(gcal, invite):
    gcal.service(BOB).events().patch(
        calendarId="primary",
        eventId=invite["id"],
        body={"attendees": [{"email": BOB, "responseStatus": "accepted"}]},
    ).execute()
    gcal.service(CAROL).events().patch(
        calendarId="primary",
        eventId=invite["id"],
        body={"attendees": [{"email": CAROL, "responseStatus": "declined"}]},
    ).execute()
    for email in (ALICE, BOB, CAROL):
        copy = (
            gcal.service(email).events().get(calendarId="primary", eventId=invite["id"]).execute()
        )
        assert own_response(copy, BOB) == "accepted", email
        assert own_response(copy, CAROL) == "declined", email
        assert own_response(copy, OUTSIDER) == "needsAction", email
        assert len(copy["attendees"]) == 3


def test_attendee_put_is_forbidden_for_non_organizer(gcal, invite):
    bob = gcal.service(BOB).events()
    current = bob.get(calendarId="primary", eventId=invite["id"]).execute()
    with pytest.raises(HttpError) as caught:
        bob.update(
            calendarId="primary", eventId=invite["id"], body=current | {"colorId": "5"}
        ).execute()
    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "forbiddenForNonOrganizer"


def test_attendee_cannot_change_organizer_only_fields(gcal, invite):
    with pytest.raises(HttpError) as caught:
        gcal.service(BOB).events().patch(
            calendarId="primary", eventId=invite["id"], body={"guestsCanModify": True}
        ).execute()
    assert caught.value.error_details[0]["reason"] == "forbiddenForNonOrganizer"


def test_organiser_cancel_cancels_every_copy(gcal, invite):
    gcal.service(ALICE).events().delete(calendarId="primary", eventId=invite["id"]).execute()
    for email in (ALICE, BOB, CAROL):
        copy = (
            gcal.service(email).events().get(calendarId="primary", eventId=invite["id"]).execute()
        )
        assert copy["status"] == "cancelled", email


def test_removed_attendee_copy_is_cancelled_and_new_one_gets_a_copy(gcal, invite):
    eve = "eve@example.com"
    gcal.service(ALICE).events().patch(
        calendarId="primary",
        eventId=invite["id"],
        body={"attendees": [{"email": CAROL}, {"email": eve}]},
    ).execute()
    assert (
        gcal.service(BOB)
        .events()
        .get(calendarId="primary", eventId=invite["id"])
        .execute()["status"]
        == "cancelled"
    )
    assert (
        gcal.service(eve)
        .events()
        .get(calendarId="primary", eventId=invite["id"])
        .execute()["status"]
        == "confirmed"
    )


def test_attendee_delete_declines_and_hides_their_copy_only(gcal, invite):
    gcal.service(BOB).events().delete(calendarId="primary", eventId=invite["id"]).execute()
    assert gcal.service(BOB).events().list(calendarId="primary").execute()["items"] == []
    organiser = (
        gcal.service(ALICE).events().get(calendarId="primary", eventId=invite["id"]).execute()
    )
    assert organiser["status"] == "confirmed"
    assert own_response(organiser, BOB) == "declined"


def test_extended_property_limit_counts_all_copies(gcal, invite):
    half = {f"b{i}": "v" * 1000 for i in range(17)}  # about 17 kB on Bob's copy
    gcal.service(BOB).events().patch(
        calendarId="primary", eventId=invite["id"], body={"extendedProperties": {"private": half}}
    ).execute()
    with pytest.raises(HttpError) as caught:
        gcal.service(ALICE).events().patch(
            calendarId="primary",
            eventId=invite["id"],
            body={"extendedProperties": {"private": {f"a{i}": "v" * 1000 for i in range(17)}}},
        ).execute()
    assert caught.value.status_code == 400


def test_external_invitation_is_imported_into_each_invited_calendar(gcal):
    uid = "external-123@partner.net"
    body = meeting(BOB, CAROL) | {"iCalUID": uid, "organizer": {"email": OUTSIDER}}
    first = gcal.service(BOB).events().import_(calendarId="primary", body=body).execute()
    second = gcal.service(CAROL).events().import_(calendarId="primary", body=body).execute()
    assert first["iCalUID"] == second["iCalUID"] == uid
    assert first["organizer"]["email"] == OUTSIDER
    listed = gcal.service(BOB).events().list(calendarId="primary", iCalUID=uid).execute()["items"]
    assert [e["id"] for e in listed] == [first["id"]]
    # importing the same UID again updates the event in place
    again = (
        gcal.service(BOB)
        .events()
        .import_(calendarId="primary", body=body | {"summary": "Moved"})
        .execute()
    )
    assert again["id"] == first["id"] and again["summary"] == "Moved"
    # Bob is not the organiser: PUT is refused, a patch of his own colour is fine
    with pytest.raises(HttpError) as caught:
        gcal.service(BOB).events().update(
            calendarId="primary", eventId=first["id"], body=body
        ).execute()
    assert caught.value.status_code == 403
    patched = (
        gcal.service(BOB)
        .events()
        .patch(calendarId="primary", eventId=first["id"], body={"colorId": "2"})
        .execute()
    )
    assert patched["colorId"] == "2"


def test_import_needs_an_ical_uid(gcal):
    with pytest.raises(HttpError) as caught:
        gcal.service(BOB).events().import_(calendarId="primary", body=meeting()).execute()
    assert caught.value.status_code == 400
