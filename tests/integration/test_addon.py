"""The Calendar add-on (R-33) on the emulators: Google's request shapes for each card and
action, the card JSON checked against Google's own card schema, and what each action leaves in
the calendar and, through the session it queues, in Salesforce. Verification (R-34) and the
confused-deputy fix (audit L3) are tested here end to end."""

from __future__ import annotations

import json

import pytest
from google.apps import card_v1

from core.labels import P_MANUAL, P_WHAT, P_WHO
from infra.cards import cards_of
from tests.fixtures.addon import card_text, wait_for
from tests.fixtures.upsync import ALICE, BOB, JANE, NOBODY

pytestmark = pytest.mark.integration


def valid(answer: dict) -> dict:
    """Every card of an answer parses as google.apps.card.v1.Card (unknown fields refused)."""
    found = cards_of(answer)
    assert found, answer
    for card in found:
        card_v1.Card.from_json(json.dumps(card))
    return found[0]


def events_of(org, owner: str) -> list[dict]:
    return [e for e in org.events() if e["OwnerId"] == org.ids[owner]]


@pytest.fixture
def meeting(org):
    org.enable(ALICE)
    return org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE))


def test_R33_homepage_card(addon_app, org):
    org.enable(ALICE)
    answer, card = addon_app.card(ALICE)
    valid(answer)
    assert "pushCard" in json.dumps(answer)
    assert ALICE in card_text(card)
    assert "Open an event" in card_text(card)


def test_R33_event_card_says_why_it_is_not_saved_and_offers_save(addon_app, org, meeting):
    answer, card = addon_app.card(ALICE, event=meeting)
    valid(answer)
    text = card_text(card)
    assert card["header"]["title"] == "Acme kickoff"  # read through the Calendar API
    assert "Not saved: not tagged, and meeting autosave is off" in text
    assert '"name": "who"' in text and "Jane (Contact)" in text  # the meeting's resolved people
    assert "Save to Salesforce" in text
    assert "Unsync" not in text


def test_R33_save_links_chosen_name_and_related_to_then_shows_saved(addon_app, org, meeting):
    """R-33, R-04, R-13: Save records the choice on the user's copy (signed), queues the
    session, and the card then shows the saved item and its SF Event."""
    answer, card = addon_app.card(ALICE, event=meeting, action="save",
                                  form={"who": org.ids["jane"], "what": org.ids["acme"]})  # fmt: skip
    valid(answer)
    assert "Saving" in card_text(card)
    assert "updateCard" in json.dumps(answer)
    props = org.private_props(ALICE, meeting["id"])
    assert props[P_MANUAL] == "1"
    assert props[P_WHO].startswith(org.ids["jane"] + ".")  # signed, not a bare id
    assert props[P_WHAT].startswith(org.ids["acme"] + ".")
    [sf] = wait_for(lambda: org.events())  # the queued task ran sync_user
    assert (sf["WhoId"], sf["WhatId"]) == (org.ids["jane"], org.ids["acme"])
    _, card = addon_app.card(ALICE, event=meeting, action="refresh")
    text = card_text(card)
    assert "Saved to Salesforce" in text and sf["Id"] in text and "Unsync" in text


def test_R33_relink_a_saved_item_through_search(addon_app, org, meeting):
    """R-33: search a Contact, pick it as Name on a saved item; its SF Event follows."""
    extra = org.sf_org.admin("POST", "seed", json={"Contact": [
        {"_ref": "obrien", "FirstName": "Pat", "LastName": "O'Brien", "Email": "pat@acme.com",
         "AccountId": org.ids["acme"]}]})["refs"]  # fmt: skip
    addon_app.card(ALICE, event=meeting, action="save", form={"who": "", "what": ""})
    [sf] = wait_for(lambda: org.events())
    assert sf["WhoId"] == org.ids["jane"]  # automatic: the first known person
    wait_for(lambda: "Saved to" in card_text(addon_app.card(ALICE, event=meeting)[1]))
    answer, card = addon_app.card(ALICE, event=meeting, action="search_who",
                                  form={"who_search": "O'Brien"})  # fmt: skip
    valid(answer)
    assert "Pat O'Brien (Contact" in card_text(card) and "1 found." in card_text(card)
    addon_app.card(ALICE, event=meeting, action="save", form={"who": extra["obrien"], "what": ""})
    wait_for(lambda: org.events()[0]["WhoId"] == extra["obrien"])
    assert len(org.events()) == 1


def test_R33_unsync_removes_the_sf_event(addon_app, org, meeting):
    addon_app.card(ALICE, event=meeting, action="save", form={})
    wait_for(lambda: org.events())
    wait_for(lambda: "Saved to" in card_text(addon_app.card(ALICE, event=meeting)[1]))
    answer, card = addon_app.card(ALICE, event=meeting, action="unsync")
    valid(answer)
    assert "Removing from Salesforce" in card_text(card)
    wait_for(lambda: not org.events())
    _, card = wait_for(lambda: (lambda c: c if "Removed from" in card_text(c[1]) else None)(
        addon_app.card(ALICE, event=meeting)))  # fmt: skip
    assert "Save to Salesforce" in card_text(card)  # it can be saved again


def test_R33_retry_a_failed_item(addon_app, org):
    """R-33, R-31: a failed item shows its issue code and what to do, and Retry plans it
    again once the cause is gone."""
    org.enable(ALICE)
    event = org.insert(ALICE, "Prospect call", attendees=(ALICE, NOBODY), colorId="9")
    org.sync(ALICE)  # CS-002: nobody on it is known in Salesforce
    _, card = addon_app.card(ALICE, event=event)
    text = card_text(card)
    assert "CS-002" in text and "Create a Contact or Lead" in text and "Retry" in text
    org.sf_org.admin("POST", "seed", json={"Lead": [
        {"LastName": "Stranger", "Company": "Nowhere", "Email": NOBODY}]})  # fmt: skip
    answer, card = addon_app.card(ALICE, event=event, action="retry")
    valid(answer)
    [sf] = wait_for(lambda: org.events())
    assert sf["Subject"] == "Prospect call"


def test_R35_search_is_escaped_and_bounded(addon_app, org, meeting):
    for text, expected in (("' OR Name != '", "Nothing found."),
                           ("%", "Type at least 2 characters")):  # fmt: skip
        answer, card = addon_app.card(ALICE, event=meeting, action="search_what",
                                      form={"what_search": text})  # fmt: skip
        valid(answer)
        assert expected in card_text(card)


def test_L3_save_refuses_a_record_the_user_cannot_read(addon_app, org, meeting):
    """R-33, audit L3: a choice is written only when the user's Salesforce User may read the
    record (UserRecordAccess), not on trust."""
    org.sf_org.admin("POST", "sharing", json={"defaults": {"Account": "Private"}})
    answer, card = addon_app.card(ALICE, event=meeting, action="save",
                                  form={"who": "", "what": org.ids["acme"]})  # fmt: skip
    valid(answer)
    assert "no access to it" in json.dumps(answer)
    assert P_MANUAL not in org.private_props(ALICE, meeting["id"])  # nothing written


def test_L3_a_hand_written_choice_is_ignored_by_the_session(org):
    """Audit L3: a calsync_who written by anything but the add-on never becomes a WhoId."""
    org.enable(ALICE)
    event = org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9",
                       extendedProperties={"private": {P_WHO: org.ids["lee"],
                                                       P_WHAT: org.ids["acme"]}})  # fmt: skip
    org.sync(ALICE)
    [sf] = org.events()
    assert sf["WhoId"] == org.ids["jane"]  # the automatic choice, not the hand-written lead
    assert org.private_props(ALICE, event["id"])[P_WHO] == org.ids["lee"]  # left as it was


def test_R33_a_user_who_is_not_enabled_is_told_so(addon_app, org):
    org.enable(ALICE)
    answer, card = addon_app.card(BOB)
    valid(answer)
    assert "not turned on" in card_text(card)


def forged_tokens(identity, endpoint: str, user: str) -> dict[str, str]:
    """Tokens with every claim right but signed by another key (a forger's)."""
    import jwt

    from emulators.keys import keypair

    key, _ = keypair("forger")
    real = identity.addon_tokens(endpoint, user)
    claims = jwt.decode(real["systemIdToken"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(real["systemIdToken"])["kid"]
    return {"systemIdToken": jwt.encode(claims, key, "RS256", headers={"kid": kid}),
            "userIdToken": real["userIdToken"]}  # fmt: skip


@pytest.mark.parametrize(
    "tokens",
    [
        pytest.param(lambda i, url: {}, id="no tokens"),
        pytest.param(lambda i, url: forged_tokens(i, url, ALICE), id="forged system token"),
        pytest.param(lambda i, url: i.addon_tokens(url + "?action=save", ALICE),
                     id="system token for another URL (query is part of the audience)"),
        pytest.param(lambda i, url: {**i.addon_tokens(url, ALICE), "systemIdToken": i.mint(
            aud=url, email="mallory@example.com", email_verified=True)},
                     id="system token of another account"),
        pytest.param(lambda i, url: {**i.addon_tokens(url, ALICE), "userIdToken": i.mint(
            aud="another-client", email=ALICE, email_verified=True)},
                     id="user token for another client"),
    ],
)  # fmt: skip
def test_R34_a_request_that_fails_verification_gets_nothing(addon_app, org, meeting, tokens,
                                                            identity):  # fmt: skip
    url = f"{addon_app.url}/addon"
    answer = addon_app.post(ALICE, event=meeting, tokens=tokens(identity, url))
    assert answer.status_code == 401
    assert answer.content == b""


def test_R34_only_the_users_own_calendar(addon_app, org, meeting):
    """R-33: Bob's verified request about Alice's event is refused with nothing in it, whether
    the event object or the action's parameters name her calendar."""
    org.enable(BOB)
    for extra in ({"calendar_id": ALICE},
                  {"params": {"calendarId": ALICE, "eventId": meeting["id"]}, "event": None}):  # fmt: skip
        answer = addon_app.post(BOB, **{"event": meeting, **extra}, action="save",
                                form={"who": "", "what": ""})  # fmt: skip
        assert answer.status_code == 401 and answer.content == b""
    assert P_MANUAL not in org.private_props(ALICE, meeting["id"])
