"""Who is who in the identity emulator: service accounts (with their Google-managed keys), the
Token Creator grants between callers and accounts, and the access tokens it has handed out.

Access tokens come from the metadata server (the instance's account), from IAM
`generateAccessToken` (an impersonated account) and from the OAuth refresh-token grant (a user's
application-default credentials). `Bearer dev:<email>` stays accepted as a named caller, as in the
Calendar emulator.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TOKEN_LIFETIME = 3600
MAX_SIGNED_JWT_LIFETIME = 12 * 3600  # IAM refuses signJwt payloads that expire later than this


class Refused(Exception):
    """An IAM-shaped refusal: HTTP status, google.rpc status name, message."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclass
class Account:
    email: str
    key_pem: str = ""  # the Google-managed key IAM signs with; "" = this account cannot sign

    @property
    def key_id(self) -> str:
        return "local-" + self.email.split("@", 1)[0]

    def sign(self, data: bytes) -> bytes:
        if not self.key_pem:
            raise Refused(400, "FAILED_PRECONDITION", f"{self.email} has no signing key here")
        key = serialization.load_pem_private_key(self.key_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


@dataclass
class Directory:
    accounts: dict[str, Account] = field(default_factory=dict)
    grants: set[tuple[str, str]] = field(default_factory=set)  # (caller, account): Token Creator
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (email, expiry)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_account(self, email: str, key_path: str | Path | None = None) -> None:
        email = email.lower()
        key = Path(key_path).read_text() if key_path else ""
        with self.lock:
            known = self.accounts.get(email)
            self.accounts[email] = Account(email, key or (known.key_pem if known else ""))

    def grant(self, caller: str, account: str) -> None:
        with self.lock:
            self.grants.add((caller.lower(), account.lower()))

    def issue(self, email: str) -> tuple[str, int]:
        token = "ya29.local-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = (email.lower(), time.time() + TOKEN_LIFETIME)
        return token, TOKEN_LIFETIME

    def caller(self, authorization: str) -> str:
        """The identity behind an Authorization header; 401 as IAM answers without one."""
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token.startswith("dev:") and "@" in token:
            return token[4:].strip().lower()
        with self.lock:
            found = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if found is None or found[1] < time.time():
            raise Refused(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
            )
        return found[0]

    def account_for(self, caller: str, account: str, permission: str) -> Account:
        """The account `caller` may act as, with `permission` named in the 403 as IAM names it.
        IAM requires the grant even when an account signs as itself."""
        found = self.accounts.get(account.lower())
        if found is None:
            raise Refused(404, "NOT_FOUND", f"Not found; Gaia id not found for email {account}")
        if (caller, found.email) not in self.grants:
            raise Refused(
                403,
                "PERMISSION_DENIED",
                f"Permission '{permission}' denied on resource (or it may not exist).",
            )
        return found


def sign_blob(account: Account, payload_b64: str) -> dict[str, Any]:
    try:
        payload = base64.b64decode(payload_b64, validate=True)
    except (ValueError, TypeError):
        raise Refused(400, "INVALID_ARGUMENT", "payload must be base64") from None
    signature = account.sign(payload)
    return {"keyId": account.key_id, "signedBlob": base64.b64encode(signature).decode()}


def sign_jwt(account: Account, payload: str, now: float | None = None) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except (ValueError, TypeError):
        raise Refused(400, "INVALID_ARGUMENT", "payload must be a JSON object") from None
    if not isinstance(claims, dict):
        raise Refused(400, "INVALID_ARGUMENT", "payload must be a JSON object")
    issued = now if now is not None else time.time()
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp > issued + MAX_SIGNED_JWT_LIFETIME:
        raise Refused(400, "INVALID_ARGUMENT", "exp must be at most 12 hours in the future")
    header = {"alg": "RS256", "typ": "JWT", "kid": account.key_id}
    signing_input = f"{_b64(json.dumps(header))}.{_b64(json.dumps(claims))}"
    signature = base64.urlsafe_b64encode(account.sign(signing_input.encode())).rstrip(b"=")
    return {"keyId": account.key_id, "signedJwt": f"{signing_input}.{signature.decode()}"}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
