"""Credentials: Google domain-wide delegation per user, and the Salesforce JWT-bearer login.

Secrets are named by the configuration: a Secret Manager version (`projects/P/secrets/S`, the
latest version is read) in production, or `file:/path` on the local stack, where `make up`
generates throwaway keys and registers their certificates with the two emulators.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import requests
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account

from infra.config import Config, ConfigError

# The OAuth scopes calsync asks for through domain-wide delegation. Each API gets credentials
# with its own scopes only: the Calendar client never holds Drive access, and the Drive scope is
# requested only by the attachment reader, which exists only while `save_attachments` is on
# . `delegation_scopes` is what the Admin console entry must list (terraform output
# `dwd_scopes`, docs/deploy.md step 4; tests/test_terraform.py holds the two equal).
CALENDAR_SCOPES = ("https://www.googleapis.com/auth/calendar.events",)
DRIVE_SCOPES = ("https://www.googleapis.com/auth/drive.readonly",)  # read attachments


def delegation_scopes(save_attachments: bool) -> tuple[str, ...]:
    """Every scope calsync may request for a user, given the org's `save_attachments`."""
    return CALENDAR_SCOPES + (DRIVE_SCOPES if save_attachments else ())


SF_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def read_secret(name: str) -> str:
    """The text of a secret: `file:/path`, or a Secret Manager name (latest version)."""
    if not name:
        raise ConfigError("a secret is needed but its name is not configured")
    if name.startswith("file:"):
        return Path(name[len("file:") :]).read_text()
    import google.auth

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    version = name if "/versions/" in name else f"{name}/versions/latest"
    answer = AuthorizedSession(credentials).get(
        f"https://secretmanager.googleapis.com/v1/{version}:access", timeout=10
    )
    answer.raise_for_status()
    return base64.b64decode(answer.json()["payload"]["data"]).decode()


def google_credentials(
    config: Config, email: str, scopes: tuple[str, ...] = CALENDAR_SCOPES
) -> service_account.Credentials:
    """Credentials acting as `email` through domain-wide delegation, with only `scopes`."""
    if config.google_sa_key_secret:
        info = json.loads(read_secret(config.google_sa_key_secret))
        info["token_uri"] = config.calendar_token_uri  # the key file's own URI is Google's
        base = service_account.Credentials.from_service_account_info(info, scopes=list(scopes))
        return base.with_subject(email)
    return _keyless_credentials(config, email, scopes)


def _keyless_credentials(
    config: Config, email: str, scopes: tuple[str, ...]
) -> service_account.Credentials:
    """No key anywhere: the function's own service account signs the delegation JWT through IAM
    (it needs roles/iam.serviceAccountTokenCreator on itself; see docs/deploy.md)."""
    import google.auth
    from google.auth import iam

    source, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    request = Request()
    source.refresh(request)
    sa_email = getattr(source, "service_account_email", "")
    if not sa_email:
        raise ConfigError(
            "keyless delegation needs a service-account identity; set CALSYNC_GOOGLE_SA_KEY_SECRET"
        )
    signer = iam.Signer(request, source, sa_email)
    return service_account.Credentials(
        signer, sa_email, config.calendar_token_uri, scopes=list(scopes), subject=email
    )


@dataclass(frozen=True)
class SalesforceSession:
    instance_url: str
    access_token: str


def salesforce_login(config: Config, http: requests.Session) -> SalesforceSession:
    """The OAuth 2.0 JWT-bearer exchange against the configured login URL.

    simple-salesforce's own JWT login only talks to *.salesforce.com, so calsync makes the
    exchange itself and hands the session to simple-salesforce (API-FACTS B4).
    """
    if config.sf_session_id:  # local stack: the emulator's fixed integration session
        return SalesforceSession(config.sf_instance_url, config.sf_session_id)
    for name, value in (
        ("CALSYNC_SF_CONSUMER_KEY", config.sf_consumer_key),
        ("CALSYNC_SF_USERNAME", config.sf_username),
    ):
        if not value:
            raise ConfigError(f"{name} is not set")
    now = int(time.time())
    claims = {
        "iss": config.sf_consumer_key,
        "sub": config.sf_username,
        "aud": config.sf_login_url,
        "exp": now + 180,
    }
    assertion = jwt.encode(claims, read_secret(config.sf_private_key_secret), algorithm="RS256")
    answer = http.post(
        f"{config.sf_login_url.rstrip('/')}/services/oauth2/token",
        data={"grant_type": SF_JWT_GRANT, "assertion": assertion},
        timeout=30,
    )
    if answer.status_code != 200:
        raise ConfigError(f"Salesforce login refused ({answer.status_code}): {answer.text[:200]}")
    body = answer.json()
    return SalesforceSession(
        body.get("instance_url") or config.sf_instance_url, body["access_token"]
    )


def salesforce_http(config: Config) -> requests.Session:
    """A requests session that trusts the local emulator's certificate when one is configured."""
    http = requests.Session()
    if config.sf_ca_cert:
        # REQUESTS_CA_BUNDLE in the environment would override `verify` on every request.
        http.trust_env = False
        http.verify = config.sf_ca_cert
    return http
