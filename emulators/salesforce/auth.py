"""OAuth 2.0 JWT bearer token exchange and session ids bound to users."""

from __future__ import annotations

import secrets
import threading

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

DEV_SESSION = "dev"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    """A token endpoint failure: `{"error", "error_description"}` with HTTP 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class Sessions:
    def __init__(self, consumer_key: str | None = None) -> None:
        self.consumer_key = consumer_key
        self._keys: list[RSAPublicKey] = []
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def register_cert(self, pem: bytes) -> None:
        """Trust JWTs signed by the key of this X.509 certificate (the connected app's cert)."""
        key = x509.load_pem_x509_certificate(pem).public_key()
        if not isinstance(key, RSAPublicKey):
            raise ValueError("the certificate must hold an RSA key")
        with self._lock:
            self._keys.append(key)

    def user_for(self, token: str, admin_user_id: str) -> str | None:
        if token == DEV_SESSION:
            return admin_user_id
        with self._lock:
            return self._tokens.get(token)

    def issue(self, user_id: str) -> str:
        """A new session of this user (a person's own login, for the admin endpoints)."""
        token = "00DgK0000000001!" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = user_id
        return token

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def exchange(self, form: dict[str, str], own_url: str, users: dict[str, str]) -> str:
        """Verify a JWT bearer assertion; return a new access token. `users`: username → id."""
        if form.get("grant_type") != JWT_GRANT:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        assertion = form.get("assertion", "")
        with self._lock:
            keys = list(self._keys)
        claims = None
        for key in keys:
            try:
                claims = jwt.decode(
                    assertion,
                    key,
                    algorithms=["RS256"],
                    audience=[*AUDIENCES, own_url],
                    options={"require": ["exp", "sub", "aud", "iss"]},
                )
                break
            except jwt.ExpiredSignatureError:
                raise OAuthError("invalid_grant", "expired authorization code") from None
            except jwt.InvalidAudienceError:
                raise OAuthError("invalid_grant", "audience is invalid") from None
            except jwt.InvalidTokenError:
                continue
        if claims is None:
            raise OAuthError("invalid_grant", "invalid assertion")
        if self.consumer_key and claims["iss"] != self.consumer_key:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        user_id = users.get(str(claims["sub"]).lower())
        if user_id is None:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return self.issue(user_id)
