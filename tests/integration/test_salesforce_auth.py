"""Salesforce emulator: JWT bearer token exchange, session ids bound to users, 401 shape."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce.exceptions import SalesforceExpiredSession

from tests.fixtures.salesforce import user_body

pytestmark = pytest.mark.integration

USERNAME = "alice@calsync.example"


def _key_and_cert() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calsync test app")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem_key, cert.public_bytes(serialization.Encoding.PEM)


def _assertion(key: bytes, sub: str = USERNAME, exp_in: int = 180) -> str:
    claims = {
        "iss": "calsync-consumer-key",
        "sub": sub,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + exp_in,
    }
    return jwt.encode(claims, key, algorithm="RS256")


def _token(org, assertion: str):
    return org.http.post(
        f"{org.url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        timeout=30,
    )


@pytest.fixture
def alice(salesforce, salesforce_org):
    created = salesforce.User.create(user_body(salesforce, USERNAME, "Liddell", FirstName="Alice"))
    return created["id"]


@pytest.fixture
def app_key(salesforce_org) -> bytes:
    key, cert = _key_and_cert()
    salesforce_org.admin("POST", "jwt_certs", json={"pem": cert.decode()})
    return key


def test_jwt_bearer_login_gives_a_token_bound_to_the_user(salesforce_org, alice, app_key):
    response = _token(salesforce_org, _assertion(app_key))
    assert response.status_code == 200
    body = response.json()
    assert body["instance_url"] == salesforce_org.url
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body

    sf = salesforce_org.client(body["access_token"])
    created = sf.Event.create(
        {"Subject": "From Alice", "StartDateTime": "2026-05-04T09:00:00Z", "DurationInMinutes": 30}
    )
    event = sf.Event.get(created["id"])
    assert event["OwnerId"] == alice
    assert event["CreatedById"] == alice
    assert event["LastModifiedById"] == alice


@pytest.mark.parametrize(
    ("make", "error"),
    [
        pytest.param(lambda key, other: _assertion(other), "invalid_grant", id="unknown signer"),
        pytest.param(
            lambda key, other: _assertion(key, sub="nobody@x"), "invalid_grant", id="unknown user"
        ),
        pytest.param(lambda key, other: _assertion(key, exp_in=-60), "invalid_grant", id="expired"),
        pytest.param(lambda key, other: "not-a-jwt", "invalid_grant", id="garbage"),
    ],
)
def test_bad_assertions_are_refused(salesforce_org, alice, app_key, make, error):
    other_key, _ = _key_and_cert()
    response = _token(salesforce_org, make(app_key, other_key))
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_other_grant_types_are_refused(salesforce_org):
    response = salesforce_org.http.post(
        f"{salesforce_org.url}/services/oauth2/token",
        data={"grant_type": "password", "username": "x", "password": "y"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_invalid_session_gets_401_in_the_real_shape(salesforce_org):
    sf = salesforce_org.client("not-a-session")
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Event")
    assert caught.value.status == 401
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_expired_tokens_stop_working_but_dev_stays(salesforce_org, alice, app_key):
    token = _token(salesforce_org, _assertion(app_key)).json()["access_token"]
    salesforce_org.client(token).query("SELECT Id FROM Event")
    salesforce_org.admin("POST", "sessions/expire")
    with pytest.raises(SalesforceExpiredSession):
        salesforce_org.client(token).query("SELECT Id FROM Event")
    assert salesforce_org.client("dev").query("SELECT Id FROM Event")["totalSize"] == 0


def test_calls_without_a_session_are_not_counted(salesforce_org):
    with pytest.raises(SalesforceExpiredSession):
        salesforce_org.client("nope").query("SELECT Id FROM Event")
    assert salesforce_org.calls()["total"] == 0
