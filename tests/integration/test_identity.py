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


def test_R33_addon_tokens_are_minted_as_google_mints_them(identity):
    """R-33: the system token is the add-on service agent's, for the exact endpoint URL with
    its query; the user token is for the add-on's OAuth client, with the user's email and hd."""
    from tests.fixtures.identity import ADDON_AGENT, ADDON_CLIENT_ID

    endpoint = "https://us-central1-demo.cloudfunctions.net/addon?action=save"
    tokens = identity.addon_tokens(endpoint, "Ann@Example.com")
    system = identity.verifier().verify(tokens["systemIdToken"], endpoint, emails=[ADDON_AGENT])
    assert system["aud"] == endpoint
    user = identity.verifier().verify(tokens["userIdToken"], ADDON_CLIENT_ID,
                                      hosted_domain="example.com")  # fmt: skip
    assert user["email"] == "ann@example.com"
    with pytest.raises(TokenRefused):  # the query is part of the audience
        identity.verifier().verify(tokens["systemIdToken"], endpoint.split("?")[0])


def test_R32_local_signin_page_posts_a_token_back(identity):
    """R-32: the local "Sign in with Google" page posts an ID token for the typed address back
    to the page that sent the admin, with the CSRF value it was given."""
    form = {"client_id": "dash-client", "login_uri": "http://127.0.0.1:9/dashboard/login",
            "state": "csrf-123"}  # fmt: skip
    page = requests.get(identity.url + "/signin", params=form, timeout=10)
    assert page.status_code == 200 and 'name="email"' in page.text
    posted = requests.post(identity.url + "/signin", data={**form, "email": "root@example.com"},
                           timeout=10)  # fmt: skip
    assert posted.status_code == 200
    assert 'action="http://127.0.0.1:9/dashboard/login"' in posted.text
    assert 'name="g_csrf_token" value="csrf-123"' in posted.text
    token = posted.text.split('name="credential" value="')[1].split('"')[0]
    claims = identity.verifier().verify(token, "dash-client", emails=["root@example.com"])
    assert claims["hd"] == "example.com"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"login_uri": "https://evil.example/steal"}, id="returns elsewhere"),
        pytest.param({"email": "not-an-address"}, id="no address"),
        pytest.param({"client_id": ""}, id="no client"),
    ],
)
def test_local_signin_refuses(identity, change):
    form = {"client_id": "c", "login_uri": "http://127.0.0.1:9/x", "state": "s",
            "email": "root@example.com", **change}  # fmt: skip
    answer = requests.post(identity.url + "/signin", data=form, timeout=10)
    assert answer.status_code == 400 and "credential" not in answer.text
