"""Who may use the dashboard (R-32): a Google sign-in checked in code against the `admins` org
setting, a signed session cookie, and CSRF tokens for its POSTs.

Sign-in is Google Identity Services' redirect mode: Google posts `credential` (an ID token for
the dashboard's OAuth client) and `g_csrf_token` (also set as a cookie: double submit) to the
login URI. The token is checked with the production verifier (infra/identity.py); on the local
stack the identity emulator's sign-in page posts the same two fields, signed by its throwaway
key, and the verifier trusts that key only there (infra/config.py).

The session cookie holds the address and an expiry, signed with a key derived from calsync's
signing secret; every request checks it again and looks the address up in `admins` again, so
removing an admin takes effect at once. A POST must carry the CSRF token derived from the
session (and the cookie is SameSite=Lax, so other sites' forms do not even send it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.users import normalise_email
from infra.choices import ChoiceSigner
from infra.identity import TokenRefused, Verifier

COOKIE = "calsync_admin"
GIS_CSRF = "g_csrf_token"
LIFETIME = timedelta(hours=8)


class SignInRefused(Exception):
    """The sign-in or session is not an admin's; `status` is 401 (who are you?) or 403 (not
    an admin). The message is for the log only."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AdminSession:
    email: str
    expires: datetime
    cookie: str  # the signed cookie value this session was read from (or made as)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class AdminAuth:
    signer: ChoiceSigner
    verifier: Verifier
    client_id: str  # the dashboard's OAuth client: the sign-in token's audience

    def _mac(self, purpose: str, text: str) -> str:
        key = self.signer.derive(purpose)
        return _b64(hmac.new(key, text.encode(), hashlib.sha256).digest())

    def sign_in(self, credential: str, form_csrf: str, cookie_csrf: str, admins: Iterable[str],
                now: datetime) -> AdminSession:  # fmt: skip
        """A new session for the Google account of `credential`, if it is an admin."""
        if not form_csrf or not hmac.compare_digest(form_csrf, cookie_csrf or ""):
            raise SignInRefused("sign-in without the double-submit CSRF token")
        if not self.client_id:
            raise SignInRefused("the dashboard's OAuth client is not configured")
        try:
            claims = self.verifier.verify(credential, self.client_id)
            email = normalise_email(str(claims.get("email", "")))
        except (TokenRefused, ValueError) as exc:
            raise SignInRefused(str(exc)) from None
        return self.issue(email, admins, now)

    def issue(self, email: str, admins: Iterable[str], now: datetime) -> AdminSession:
        """A session for `email`, which must be one of `admins` (403 otherwise)."""
        if email not in {a.lower() for a in admins}:
            raise SignInRefused(f"{email} is not an admin", status=403)
        expires = now + LIFETIME
        body = _b64(json.dumps({"e": email, "x": int(expires.timestamp()),
                                "n": secrets.token_urlsafe(8)}).encode())  # fmt: skip
        return AdminSession(email, expires, f"{body}.{self._mac('dashboard-session', body)}")

    def session(self, cookie: str, admins: Iterable[str], now: datetime) -> AdminSession:
        """The session of a cookie that calsync signed, still valid, of a current admin."""
        body, dot, mac = (cookie or "").partition(".")
        if not dot or not hmac.compare_digest(mac, self._mac("dashboard-session", body)):
            raise SignInRefused("no valid session")
        try:
            data = json.loads(_unb64(body))
            email, expires = str(data["e"]), datetime.fromtimestamp(int(data["x"]), now.tzinfo)
        except (ValueError, KeyError, TypeError):
            raise SignInRefused("no valid session") from None
        if expires <= now:
            raise SignInRefused("the session expired")
        if email not in {a.lower() for a in admins}:
            raise SignInRefused(f"{email} is no longer an admin", status=403)
        return AdminSession(email, expires, cookie)

    def csrf(self, session: AdminSession) -> str:
        """The token the session's forms carry."""
        return self._mac("dashboard-csrf", session.cookie)

    def check_csrf(self, session: AdminSession, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given, self.csrf(session))


def new_csrf_cookie() -> str:
    """A fresh double-submit value for the sign-in (Google's script sets its own)."""
    return secrets.token_urlsafe(24)
