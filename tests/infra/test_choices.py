"""infra/choices.py and the Google parser: only the add-on's signed choices reach the core
(R-33, audit L3: a hand-written `calsync_who` must not become a WhoId)."""

from __future__ import annotations

import pytest

from core.labels import P_WHAT, P_WHO
from infra.choices import ChoiceSigner, SigningKeyError
from infra.google_events import parse_event

SIGNER = ChoiceSigner.from_text("a local test key of enough length")
OWNER = "ann@example.com"
CONTACT = "003000000000001AAA"
ACCOUNT = "001000000000001AAA"


def event(**props: str) -> dict:
    return {
        "id": "ev1",
        "iCalUID": "uid-1@google.com",
        "start": {"dateTime": "2026-05-04T09:00:00Z"},
        "end": {"dateTime": "2026-05-04T10:00:00Z"},
        "extendedProperties": {"private": {"calsync_manual": "1", **props}},
    }


def signed(prop: str, record: str, owner: str = OWNER, key: str = "uid-1@google.com") -> str:
    return SIGNER.sign(owner, key, prop, record)


def test_R33_signed_choices_are_kept_as_bare_ids():
    item = parse_event(event(calsync_who=signed(P_WHO, CONTACT),
                             calsync_what=signed(P_WHAT, ACCOUNT)), OWNER, SIGNER)  # fmt: skip
    assert item.props[P_WHO] == CONTACT
    assert item.props[P_WHAT] == ACCOUNT
    assert item.props["calsync_manual"] == "1"  # other properties untouched


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(CONTACT, id="hand-written id"),
        pytest.param(CONTACT + ".forged-signature", id="forged signature"),
        pytest.param(signed(P_WHO, CONTACT, owner="bob@example.com"), id="another user's"),
        pytest.param(signed(P_WHO, CONTACT, key="uid-2@google.com"), id="another item's"),
        pytest.param(signed(P_WHAT, CONTACT), id="signed as Related To, used as Name"),
        pytest.param(signed(P_WHO, "003000000000002AAA")[:-1] + "x", id="tampered"),
        pytest.param("", id="empty"),
    ],
)
def test_L3_hand_written_or_copied_choices_are_ignored(value):
    """R-33, audit L3: the parser drops every who/what value the add-on did not sign for this
    owner, this item and this choice."""
    item = parse_event(event(calsync_who=value), OWNER, SIGNER)
    assert P_WHO not in item.props


def test_L3_without_a_key_no_choice_is_trusted():
    item = parse_event(event(calsync_who=signed(P_WHO, CONTACT)), OWNER, None)
    assert P_WHO not in item.props


def test_R33_record_id_from_another_key_does_not_verify():
    other = ChoiceSigner.from_text("another key, another deployment")
    assert other.verify(OWNER, "uid-1@google.com", P_WHO, signed(P_WHO, CONTACT)) == ""


def test_signing_refuses_what_it_cannot_stand_for():
    with pytest.raises(ValueError):
        SIGNER.sign(OWNER, "k", "calsync_status", CONTACT)
    with pytest.raises(ValueError):
        SIGNER.sign(OWNER, "k", P_WHO, "003'; DROP")
    with pytest.raises(SigningKeyError):
        ChoiceSigner.from_text("short")


def test_derived_keys_differ_by_purpose():
    assert SIGNER.derive("dashboard-session") != SIGNER.derive("dashboard-csrf")
    assert SIGNER.derive("dashboard-session") != SIGNER.key
