"""The ID-token verifier (infra/identity.py) against the identity emulator: google-auth's own
verification, with only the certificates URL pointed at the local issuer (R-34)."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from emulators.keys import keypair
from infra.identity import TokenRefused, bearer
from tests.fixtures.identity import INVOKER

pytestmark = pytest.mark.integration
AUD = "https://us-central1-demo.cloudfunctions.net/sync_user"


def test_R34_a_service_accounts_token_is_accepted(identity):
    token = identity.service_token(AUD)
    claims = identity.verifier().verify(token, AUD, emails=[INVOKER])
    assert claims["email"] == INVOKER and claims["aud"] == AUD


@pytest.mark.parametrize(
    "claims, reason",
    [
        pytest.param(
            {"aud": "https://elsewhere/sync_user", "email": INVOKER, "email_verified": True},
            "token refused",
            id="other audience",
        ),  # fmt: skip
        pytest.param(
            {"aud": AUD, "email": "mallory@example.com", "email_verified": True},
            "another identity",
            id="other service account",
        ),  # fmt: skip
        pytest.param(
            {"aud": AUD, "email": INVOKER, "email_verified": False},
            "not verified",
            id="email not verified",
        ),  # fmt: skip
        pytest.param(
            {"aud": AUD, "email": INVOKER, "email_verified": True, "iss": "https://evil.example"},
            "not issued by Google",
            id="other issuer",
        ),  # fmt: skip
        pytest.param(
            {
                "aud": AUD,
                "email": INVOKER,
                "email_verified": True,
                "iat": int(time.time()) - 7200,
                "exp": int(time.time()) - 3600,
            },
            "token refused",
            id="expired",
        ),  # fmt: skip
    ],
)
def test_R34_tokens_for_someone_else_are_refused(identity, claims, reason):
    with pytest.raises(TokenRefused, match=reason):
        identity.verifier().verify(identity.mint(**claims), AUD, emails=[INVOKER])


def test_R34_a_token_signed_by_another_key_is_refused(identity):
    """A forged token: right claims and the issuer's key id, but another key signed it."""
    real = identity.mint(aud=AUD, email=INVOKER, email_verified=True)
    kid = jwt.get_unverified_header(real)["kid"]
    key, _ = keypair("forger")
    claims = jwt.decode(real, options={"verify_signature": False})
    forged = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    with pytest.raises(TokenRefused):
        identity.verifier().verify(forged, AUD, emails=[INVOKER])


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "é.é.é"])
def test_R34_garbage_is_refused(identity, token):
    with pytest.raises(TokenRefused):
        identity.verifier().verify(token, AUD)


def test_no_audience_means_no_verification(identity):
    token = identity.service_token(AUD)
    with pytest.raises(TokenRefused, match="no audience"):
        identity.verifier().verify(token, "")


def test_hosted_domain_is_checked(identity):
    token = identity.mint(aud="client-id", email="ann@example.com", email_verified=True,
                          hd="example.com")  # fmt: skip
    assert identity.verifier().verify(token, "client-id", hosted_domain="example.com")["hd"]
    with pytest.raises(TokenRefused, match="another domain"):
        identity.verifier().verify(token, "client-id", hosted_domain="acme.example")


def test_generate_id_token_is_refused_as_iam_refuses_it(identity):
    url = f"{identity.url}/v1/projects/-/serviceAccounts/{INVOKER}:generateIdToken"
    body = {"audience": AUD}
    assert requests.post(url, json=body, timeout=5).status_code == 401
    stranger = {"Authorization": "Bearer dev:someone@example.com"}
    assert requests.post(url, json=body, headers=stranger, timeout=5).status_code == 403
    unknown = url.replace(INVOKER, "nobody@x.iam.gserviceaccount.com")
    assert requests.post(unknown, json=body, headers=stranger, timeout=5).status_code == 404


def test_bearer_header():
    assert bearer({"Authorization": "Bearer abc.def.ghi"}) == "abc.def.ghi"
    assert bearer({"Authorization": "Basic abc"}) == ""
    assert bearer({}) == ""
