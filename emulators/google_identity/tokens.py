"""Minting ID tokens the way Google signs them: RS256, a `kid` that names the certificate."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

GOOGLE_ISSUER = "https://accounts.google.com"
LIFETIME = 3600


@dataclass(frozen=True)
class Issuer:
    """A signing key and its certificate; `kid` is the certificate's SHA-1 fingerprint, as the
    keys listed at Google's /oauth2/v1/certs are named by a hex id."""

    private_pem: str
    cert_pem: str

    @classmethod
    def from_files(cls, key_path: str | Path, cert_path: str | Path) -> Issuer:
        return cls(Path(key_path).read_text(), Path(cert_path).read_text())

    @property
    def kid(self) -> str:
        cert = x509.load_pem_x509_certificate(self.cert_pem.encode())
        return cert.fingerprint(hashes.SHA1()).hex()  # noqa: S324 - an id, not a security hash

    def certs(self) -> dict[str, str]:
        """The document /oauth2/v1/certs answers: key id → PEM certificate."""
        return {self.kid: self.cert_pem}

    def mint(self, claims: dict[str, Any], now: float | None = None) -> str:
        """An ID token with these claims; `iss`, `iat` and `exp` are filled in when absent."""
        issued = int(now if now is not None else time.time())
        body = {"iss": GOOGLE_ISSUER, "iat": issued, "exp": issued + LIFETIME, **claims}
        if "sub" not in body and "email" in body:
            # Google's `sub` is a stable numeric id per account.
            digest = hashlib.sha256(str(body["email"]).lower().encode()).hexdigest()
            body["sub"] = str(int(digest[:15], 16))
        return jwt.encode(body, self.private_pem, algorithm="RS256", headers={"kid": self.kid})


def service_account_token(issuer: Issuer, email: str, audience: str) -> str:
    """What IAM's generateIdToken (includeEmail) returns for a service account."""
    return issuer.mint({"aud": audience, "azp": email, "email": email, "email_verified": True})


def user_claims(email: str, client_id: str) -> dict[str, Any]:
    """The claims of a Google account's ID token for an OAuth client: a sign-in, or the user ID
    token of a Workspace add-on request (`hd` is the Workspace domain)."""
    address = email.strip().lower()
    return {
        "aud": client_id,
        "azp": client_id,
        "email": address,
        "email_verified": True,
        "hd": address.rpartition("@")[2],
    }
