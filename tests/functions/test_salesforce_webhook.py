"""`salesforce_webhook`'s answers (R-21..R-23): only POST, refused while the Flow's certificate or
the org id is not configured, 401 for a call that is not this org's Flow, 400 for a body that is
not a change, and an accepted call hands its changes to the router. The real verifier and parser
run with a throwaway certificate; only the wiring is replaced."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from emulators.keys import keypair
from functions import salesforce_webhook as entry
from infra.flow_callout import CalloutResult, FlowVerifier, public_keys

ORG = "00D5g000004ABCDEAA"
URL = "https://functions.example/salesforce_webhook"
KEY, CERT = keypair("calsync-webhook-test")
BODY = {"orgId": ORG, "eventId": "00U5g00000AbCdEFGH", "ownerId": "0055g00000AbCdEFGH",
        "change": "updated", "isChild": False, "lastModifiedById": "0055g00000XyZdEFGH"}  # fmt: skip


class Router:
    def __init__(self) -> None:
        self.handled: list[Any] = []

    def handle(self, changes, now):
        self.handled += changes
        return CalloutResult(routed={"alice@example.com": tuple(c.event.sf_event_id for c in changes)},
                             queued=1)  # fmt: skip


@pytest.fixture
def router(monkeypatch):
    router = Router()
    verifier = FlowVerifier(public_keys(CERT.decode()), ORG, URL)
    monkeypatch.setattr(entry, "wiring", SimpleNamespace(
        config=lambda: SimpleNamespace(sf_org_id=ORG), flow_verifier=lambda: verifier,
        callouts=lambda: router))  # fmt: skip
    return router


def token(key: Any = KEY, **claims: Any) -> str:
    now = int(time.time())
    base = {"iss": ORG, "aud": URL, "sub": "calsync-flow", "iat": now, "exp": now + 120}
    return jwt.encode({**base, **claims}, key, algorithm="RS256")


def call(body: Any = BODY, method: str = "POST", bearer: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {bearer if bearer is not None else token()}"}
    request = SimpleNamespace(method=method, headers=headers,
                              get_json=lambda silent=False: body)  # fmt: skip
    text, status, _ = entry.salesforce_webhook(request)
    return status, json.loads(text)


def test_R21_a_signed_call_of_the_orgs_flow_is_routed(router):
    assert call() == (200, {"routed": 1, "queued": 1, "left": {}})
    [change] = router.handled
    assert change.event.sf_event_id == BODY["eventId"] and not change.event.deleted


def test_R21_only_post(router):
    assert call(method="GET")[0] == 405 and not router.handled


def test_R21_not_configured_refuses_every_call(router, monkeypatch):
    monkeypatch.setattr(entry.wiring, "flow_verifier", lambda: None)
    assert call() == (403, {"error": "not configured"}) and not router.handled


@pytest.mark.parametrize(
    "bad",
    [
        "",  # no token
        token(key=keypair("someone-else")[0]),  # another certificate
        token(iss="00D5g000004ZZZZZZZ"),  # another org
        token(aud="https://elsewhere.example/salesforce_webhook"),  # another URL
        token(iat=int(time.time()) - 3600, exp=int(time.time()) - 3480),  # an old call replayed
    ],
    ids=["no token", "other certificate", "other org", "other url", "replayed"],
)
def test_R21_a_call_that_is_not_this_orgs_flow_is_401(router, bad):
    assert call(bearer=bad)[0] == 401 and not router.handled


def test_R21_a_body_of_another_org_is_401_even_when_signed(router):
    assert call({**BODY, "orgId": "00D5g000004ZZZZZZZ"})[0] == 401 and not router.handled


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        {**BODY, "eventId": "001000000000001AAA"},  # an Account, not an Event
        {**BODY, "change": "renamed"},
        {"orgId": ORG, "events": []},
    ],
    ids=["not an object", "not an Event id", "unknown change", "no changes"],
)
def test_R21_a_body_that_is_not_a_change_is_400(router, body):
    status, answer = call(body)
    assert status == 400 and answer["error"] and not router.handled
