"""Verifying the Google-signed ID tokens that reach calsync (R-34): Cloud Tasks' and Cloud
Scheduler's OIDC tokens on the task endpoints, the add-on's system and user tokens, and an
admin's Google sign-in.

The check is google-auth's own (`google.oauth2.id_token.verify_token`: signature against
Google's certificates, `aud`, `exp`), then what that function leaves to the caller: the issuer,
`email_verified` and the expected `email`. Only the certificates URL is configurable, and only on
a local stack, where the identity emulator signs with a throwaway key (infra/config.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import google.auth.transport.requests
import requests
from google.auth import exceptions as gexc
from google.oauth2 import id_token

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
CLOCK_SKEW_SECONDS = 10
DEFAULT_CERTS_TTL = 300.0


class TokenRefused(Exception):
    """The token is missing, malformed, forged, expired or for someone else. The message names
    the reason (never the token)."""


class _CachingRequest(google.auth.transport.requests.Request):
    """google-auth's transport, caching the certificates for their Cache-Control max-age
    (verify_token fetches them on every call otherwise: API-FACTS-2 §3.2)."""

    def __init__(self) -> None:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE must not replace the system's CAs
        super().__init__(session=session)
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        if method != "GET":
            return super().__call__(url, method, *args, **kwargs)
        with self._lock:
            hit = self._cache.get(url)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
        response = super().__call__(url, method, *args, timeout=10, **kwargs)
        if response.status == 200:
            with self._lock:
                self._cache[url] = (time.monotonic() + _max_age(response.headers), response)
        return response


def _max_age(headers: Any) -> float:
    for part in str(headers.get("cache-control", "")).split(","):
        name, _, value = part.strip().partition("=")
        if name == "max-age" and value.isdigit():
            return float(value)
    return DEFAULT_CERTS_TTL


@dataclass
class Verifier:
    """Checks ID tokens against one certificates URL (Google's, or the local stack's)."""

    certs_url: str = GOOGLE_CERTS_URL

    def __post_init__(self) -> None:
        self._request = _CachingRequest()

    def verify(self, token: str, audience: str | Iterable[str], *, emails: Iterable[str] = (),
               hosted_domain: str = "") -> dict[str, Any]:  # fmt: skip
        """The token's claims, when it is a Google ID token for `audience` (one, or any of
        several) whose verified `email` is one of `emails` (any, when none are given) and, when
        given, whose `hd` is `hosted_domain`. Raises TokenRefused otherwise."""
        if not token or token.count(".") != 2:
            raise TokenRefused("not a JWT")
        wanted = [audience] if isinstance(audience, str) else list(audience)
        if not wanted or not all(wanted):
            raise TokenRefused("no audience configured")  # never verify without an audience
        try:
            claims: dict[str, Any] = id_token.verify_token(
                token, self._request, audience=wanted, certs_url=self.certs_url,
                clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
            )  # fmt: skip
        except (gexc.GoogleAuthError, ValueError) as exc:
            raise TokenRefused(f"token refused: {type(exc).__name__}") from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise TokenRefused("token not issued by Google")
        allowed = {e.strip().lower() for e in emails if e.strip()}
        if (allowed or "email" in claims) and claims.get("email_verified") is not True:
            raise TokenRefused("email not verified")
        if allowed and str(claims.get("email", "")).lower() not in allowed:
            raise TokenRefused("token of another identity")
        if hosted_domain and str(claims.get("hd", "")).lower() != hosted_domain.lower():
            raise TokenRefused("token of another domain")
        return claims


def bearer(headers: Any) -> str:
    """The token of an `Authorization: Bearer …` header, "" when there is none."""
    value = str(headers.get("Authorization", "") or "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
