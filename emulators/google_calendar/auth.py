"""Who is calling: `Bearer dev:<email>` tokens, and the OAuth JWT-bearer grant at POST /token.

google-auth's service-account credentials (with `token_uri` pointed here and `with_subject`)
send a signed JWT; the emulator checks it (signature too, when given the service account's
certificate) and hands out an access token that acts as the subject.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import errors
from .store import new_opaque

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always puts Google's token URL in `aud`, even when token_uri points elsewhere.
ACCEPTED_AUDIENCES = (
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
)
TOKEN_LIFETIME = 3600
CLOCK_SKEW = 300
WRITE_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/calendar",
        "https://www.googleapis.com/auth/calendar.events",
        "https://www.googleapis.com/auth/calendar.events.owned",
    }
)
READ_SCOPES = WRITE_SCOPES | {
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/calendar.events.owned.readonly",
}


@dataclass(frozen=True)
class Caller:
    email: str
    scopes: frozenset[str] | None  # None: any scope (dev tokens)

    def require(self, write: bool, allowed: frozenset[str] | None = None) -> None:
        """403 unless the token has one of `allowed` (default: the events read/write scopes)."""
        if self.scopes is None:
            return
        if allowed is None:
            allowed = WRITE_SCOPES if write else READ_SCOPES
        if not self.scopes & allowed:
            raise errors.ApiError(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
            )


def load_public_keys(paths: list[str]) -> list[Any]:
    """Public keys from PEM files holding X.509 certificates or bare public keys. An entry
    `EMAIL=PATH` binds its keys to that service account: they verify only assertions it issued,
    as Google checks an assertion against the keys of its `iss` (returned as (email, key))."""
    keys: list[Any] = []
    for entry in paths:
        owner, sep, path = entry.partition("=")
        if not sep:
            owner, path = "", entry
        found = []
        text = Path(path).read_bytes()
        for block in text.split(b"-----BEGIN ")[1:]:
            pem = b"-----BEGIN " + block
            if pem.startswith(b"-----BEGIN CERTIFICATE"):
                found.append(x509.load_pem_x509_certificate(pem).public_key())
            elif b"PUBLIC KEY" in pem.split(b"\n", 1)[0]:
                found.append(serialization.load_pem_public_key(pem))
        keys += [(owner.lower(), key) if owner else key for key in found]
    if paths and not keys:
        raise ValueError(f"no certificate or public key found in {paths}")
    return keys


UNAUTHORIZED_CLIENT = (
    "Client is unauthorized to retrieve access tokens using this method, or client not "
    "authorized for any of the scopes requested."
)


class Authenticator:
    def __init__(
        self,
        public_keys: list[Any],
        allow_dev_tokens: bool = True,
        delegation: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.public_keys = public_keys
        self.allow_dev_tokens = allow_dev_tokens
        # The Admin console's domain-wide delegation entries: service account -> authorised
        # scopes. None: every assertion may act for anyone (no entries are being emulated).
        self.delegation = delegation
        self.tokens: dict[str, tuple[Caller, float]] = {}
        self.lock = threading.Lock()
        # The Admin console's domain-wide delegation entry: the scopes a delegated token may
        # carry (None: any, the default). Asking for one outside it is refused as Google does.
        self.delegated_scopes: frozenset[str] | None = None

    def caller(self, authorization: str | None) -> Caller:
        """The caller behind an Authorization header, or 401 like the API."""
        if not authorization:
            raise errors.login_required()
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.invalid_credentials()
        if token.startswith("dev:") and self.allow_dev_tokens:
            email = token[4:].strip().lower()
            if "@" not in email:
                raise errors.invalid_credentials()
            return Caller(email, None)
        with self.lock:
            found = self.tokens.get(token)
        if found is None or found[1] < time.time():
            raise errors.invalid_credentials()
        return found[0]

    def token_endpoint(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """POST /token: the JWT-bearer grant; answers like Google's OAuth server."""
        form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if form.get("grant_type") != JWT_BEARER:
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "Invalid grant_type",
            }
        try:
            claims = self._claims(form.get("assertion", ""))
        except ValueError as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        email = str(claims.get("sub") or claims["iss"]).lower()
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            return 400, {"error": "invalid_scope", "error_description": "No scope requested."}
        if claims.get("sub"):
            # Acting for a user needs a delegation entry covering every scope asked for: the one
            # set through /_admin/delegation, else the account's entry given at start.
            allowed = self.delegated_scopes
            if allowed is None and self.delegation is not None:
                allowed = self.delegation.get(str(claims["iss"]).lower(), frozenset())
            if allowed is not None and not scopes <= allowed:
                return 401, {
                    "error": "unauthorized_client",
                    "error_description": UNAUTHORIZED_CLIENT,
                }
        token = new_opaque("ya29.emu-")
        with self.lock:
            self.tokens[token] = (Caller(email, scopes), time.time() + TOKEN_LIFETIME)
        return 200, {
            "access_token": token,
            "expires_in": TOKEN_LIFETIME - 1,
            "token_type": "Bearer",
        }

    def _claims(self, assertion: str) -> dict[str, Any]:
        try:
            if self.public_keys:
                claims = self._verified(assertion)
            else:
                claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise ValueError(f"Invalid JWT: {exc}") from None
        now = time.time()
        if not claims.get("iss"):
            raise ValueError("Invalid JWT: no iss claim.")
        if claims.get("aud") not in ACCEPTED_AUDIENCES:
            raise ValueError("Invalid JWT: aud must be https://oauth2.googleapis.com/token.")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now - CLOCK_SKEW:
            raise ValueError(
                "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
            )
        if isinstance(claims.get("iat"), int | float) and claims["iat"] > now + CLOCK_SKEW:
            raise ValueError("Invalid JWT: iat is in the future.")
        return claims

    def _verified(self, assertion: str) -> dict[str, Any]:
        last: jwt.PyJWTError | None = None
        issuer = str(jwt.decode(assertion, options={"verify_signature": False}).get("iss", ""))
        for entry in self.public_keys:
            if isinstance(entry, tuple):  # bound to one account: only that account's assertions
                owner, key = entry
                if owner != issuer.lower():
                    continue
            else:
                key = entry
            try:
                return jwt.decode(
                    assertion,
                    key=key,
                    algorithms=["RS256"],
                    options={"verify_aud": False, "verify_exp": False},
                )
            except jwt.InvalidSignatureError as exc:
                last = exc
        raise last or jwt.InvalidSignatureError("Invalid JWT Signature.")
