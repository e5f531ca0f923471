"""User rules: the user type follows the profile; the defaults the Setup page fills in for seeds.

Through the API a User insert must carry Username, LastName, Email, Alias, TimeZoneSidKey,
LocaleSidKey, LanguageLocaleKey, EmailEncodingKey and ProfileId, as in Salesforce. Seed files are
a test convenience: `seed_defaults` fills the ones a seed leaves out the way Setup's "New User"
page proposes them, so that short seeds keep working.
"""

from __future__ import annotations

from typing import Any

from . import profiles
from .org import Org, register
from .store import Record

SEED_DEFAULTS = {
    "TimeZoneSidKey": "GMT",
    "LocaleSidKey": "en_US",
    "LanguageLocaleKey": "en_US",
    "EmailEncodingKey": "UTF-8",
}


def seed_defaults(org: Org, body: dict[str, Any]) -> dict[str, Any]:
    """A seed User's body with the missing standard fields filled in (given ones are kept)."""
    given = {k.lower() for k in body}
    out = dict(body)
    for name, value in SEED_DEFAULTS.items():
        if name.lower() not in given:
            out[name] = value
    if "alias" not in given:
        out["Alias"] = _alias(body)
    if "profileid" not in given:
        out["ProfileId"] = org.profiles[profiles.STANDARD_USER]
    return out


def _alias(body: dict[str, Any]) -> str:
    """First letter of the first name and the start of the last name, as Setup proposes it."""
    first = str(body.get("FirstName") or "")[:1]
    last = str(body.get("LastName") or "")[:4]
    alias = (first + last) or str(body.get("Username") or "user").split("@", 1)[0]
    return alias.lower()[:8]


class UserRules:
    def before_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        profile = org.store.get("Profile", rec["ProfileId"]) if rec.get("ProfileId") else None
        rec["UserType"] = profile["UserType"] if profile else None

    def after_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        return None

    def after_delete(self, org: Org, rec: Record) -> None:
        return None


register("User", UserRules())
