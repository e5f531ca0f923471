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
from typing import Any

import jwt
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from infra.config import Config, ConfigError

# The OAuth scopes calsync asks for through domain-wide delegation. Each API gets credentials
# with its own scopes only: the Calendar client never holds Drive access, and the Drive scope is
# requested only by the attachment reader, which exists only while `save_attachments` is on
# . `delegation_scopes` is what the Admin console entry must list (terraform output
# `dwd_scopes`, docs/deploy.md step 4; tests/test_terraform.py holds the two equal).
CALENDAR_SCOPES = ("https://www.googleapis.com/auth/calendar.events",)
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
DRIVE_SCOPES = ("https://www.googleapis.com/auth/drive.readonly",)  # read attachments


def delegation_scopes(save_attachments: bool) -> tuple[str, ...]:
    """Every scope calsync may request for a user, given the org's `save_attachments`."""
    return CALENDAR_SCOPES + (DRIVE_SCOPES if save_attachments else ())


SF_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SF_TIMEOUT = 60.0  # seconds for one Salesforce call (connect and read)


def read_secret(name: str) -> str:
    """The text of a secret: `file:/path`, or a Secret Manager name (latest version)."""
    if not name:
        raise ConfigError("a secret is needed but its name is not configured")
    if name.startswith("file:"):
        return Path(name[len("file:") :]).read_text()
    import google.auth

    credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
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
    return keyless_credentials(config, email, scopes)


def keyless_credentials(
    config: Config, email: str, scopes: tuple[str, ...] = CALENDAR_SCOPES
) -> service_account.Credentials:
    """No key anywhere: the runtime service account signs the delegation JWT through IAM
    Credentials signBlob, with whatever Google identity this process has (API-FACTS-2 §3.1).

    In a function that identity is the runtime account itself, from the metadata server (it holds
    Token Creator on itself). On an admin's machine it is the admin's application-default login,
    usually impersonating the runtime account (docs/deploy.md, step 7); the account to sign as
    comes from CALSYNC_RUNTIME_SERVICE_ACCOUNT, because a user's credentials name none.
    """
    import google.auth
    from google.auth import iam

    from infra.google_http import google_request

    source, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
    request = google_request(config)
    signer_email = config.runtime_service_account or _own_service_account(source, request)
    signer = iam.Signer(request, source, signer_email)
    return service_account.Credentials(
        signer, signer_email, config.calendar_token_uri, scopes=list(scopes), subject=email
    )


def _own_service_account(source: Any, request: Any) -> str:
    """The service account behind `source`: a metadata-server identity names it only after a
    refresh (it reads "default" before), impersonated credentials name their target."""
    email = str(getattr(source, "service_account_email", "") or "")
    if email in {"", "default"}:
        source.refresh(request)
        email = str(getattr(source, "service_account_email", "") or "")
    if email in {"", "default"}:
        raise ConfigError(
            "keyless delegation signs as the runtime service account, and these Google "
            "credentials name none: set CALSYNC_RUNTIME_SERVICE_ACCOUNT (`terraform output "
            "admin_env` sets it) and sign in with `terraform output cli_login` "
            "(docs/deploy.md, step 7)"
        )
    return email


@dataclass(frozen=True)
class SalesforceSession:
    instance_url: str
    access_token: str
    user_id: str = ""  # the integration user, from the token answer's identity URL (…/id/ORG/USER)


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
        body.get("instance_url") or config.sf_instance_url,
        body["access_token"],
        str(body.get("id") or "").rstrip("/").rpartition("/")[2],
    )


class _PatientSession(requests.Session):
    """A requests session whose calls give up after SF_TIMEOUT seconds unless told otherwise:
    simple-salesforce sets no timeout, and a call that never ends would hold a session (or the
    admin's command) until the function's own deadline."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", SF_TIMEOUT)
        return super().request(method, url, *args, **kwargs)


def salesforce_http(config: Config) -> requests.Session:
    """A requests session that trusts the local emulator's certificate when one is configured."""
    http = _PatientSession()
    if config.sf_ca_cert:
        # REQUESTS_CA_BUNDLE in the environment would override `verify` on every request.
        http.trust_env = False
        http.verify = config.sf_ca_cert
    return http
