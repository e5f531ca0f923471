"""Record access, as `UserRecordAccess` reports it: org-wide defaults, ownership, "View All
Data", parent-controlled Contacts and manual shares.

The rest of the emulator still lets every session see everything (the integration user has View
All Data in calsync's deployment anyway); this model answers only the question the sidebar asks
before it writes a choice: may this user link that record (R-33)?

Levels, lowest first, as MaxAccessLevel names them: None, Read, Edit, Delete, Transfer, All.
Org-wide defaults: "Private" (owner and admins only), "Read" (Public Read Only), "Edit" (Public
Read/Write) and, for Contacts, "ControlledByParent" (the Account's access; a Contact without an
Account is private). The owner and users with View All Data have All.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ids
from .errors import bad_request

LEVELS = ("None", "Read", "Edit", "Delete", "Transfer", "All")
# The objects on the Sharing Settings page that calsync links Events to (or owns).
DEFAULTS = {
    "Account": "Edit",
    "Contact": "ControlledByParent",
    "Lead": "Edit",
    "Opportunity": "Edit",
    "Event": "Private",
    "User": "Read",
}
_OWD = {"Private": "None", "Read": "Read", "Edit": "Edit"}
ACCESS_FIELDS = ("HasReadAccess", "HasEditAccess", "HasDeleteAccess", "HasTransferAccess",
                 "HasAllAccess")  # fmt: skip


def _rank(level: str) -> int:
    return LEVELS.index(level)


@dataclass
class Sharing:
    defaults: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    grants: dict[tuple[str, str], str] = field(default_factory=dict)  # (user, record) → level
    view_all: set[str] = field(default_factory=set)

    def configure(self, body: Any) -> None:
        """`POST /_admin/sharing {"defaults": {OBJECT: OWD}, "grants": [{"user", "record",
        "level"}], "view_all": [USER ID]}`; each part is optional and adds to what is set."""
        if not isinstance(body, dict):
            raise bad_request("JSON_PARSER_ERROR", "expected an object")
        for name, owd in (body.get("defaults") or {}).items():
            allowed = ("Private", "Read", "Edit") + (("ControlledByParent",)
                                                     if name == "Contact" else ())  # fmt: skip
            if name not in DEFAULTS or owd not in allowed:
                raise bad_request("INVALID_FIELD", f"no org-wide default {owd!r} for {name!r}")
            self.defaults[name] = owd
        for grant in body.get("grants") or ():
            level = grant.get("level")
            if level not in ("Read", "Edit"):
                raise bad_request("INVALID_FIELD", "a manual share gives Read or Edit")
            key = (ids.normalise(grant.get("user")), ids.normalise(grant.get("record")))
            if None in key:
                raise bad_request("MALFORMED_ID", "grants need 15- or 18-character ids")
            self.grants[key] = level  # type: ignore[index]
        self.view_all |= {ids.normalise(u) or "" for u in body.get("view_all") or ()}

    def level(self, org: Any, user_id: str, record_id: str) -> str | None:
        """`user_id`'s access to the record, or None when there is no such live record on an
        object of the sharing settings (UserRecordAccess then has no row for it)."""
        found = org.find(record_id)
        if found is None or found[0] not in self.defaults or found[1]["IsDeleted"]:
            return None
        sobject, rec = found
        user = org.user(user_id)
        if user is None or not user.get("IsActive", True):
            return "None"
        if user["Id"] in self.view_all or user["Id"] == org.admin_user_id:
            return "All"
        return self._level(org, user["Id"], sobject, rec)

    def _level(self, org: Any, user_id: str, sobject: str, rec: dict[str, Any]) -> str:
        if rec.get("OwnerId") == user_id or (sobject == "User" and rec["Id"] == user_id):
            return "All"
        owd = self.defaults[sobject]
        if owd == "ControlledByParent":
            parent = org.find(rec.get("AccountId")) if rec.get("AccountId") else None
            base = self._level(org, user_id, "Account", parent[1]) if parent else "None"
            base = base if _rank(base) <= _rank("Edit") else "Edit"
        else:
            base = _OWD[owd]
        granted = self.grants.get((user_id, rec["Id"]), "None")
        return max(base, granted, key=_rank)


def access_row(user_id: str, record_id: str, level: str) -> dict[str, Any]:
    """One UserRecordAccess row as the query engine filters and projects it."""
    rank = _rank(level)
    return {
        "Id": record_id,
        "UserId": user_id,
        "RecordId": record_id,
        "HasReadAccess": rank >= _rank("Read"),
        "HasEditAccess": rank >= _rank("Edit"),
        "HasDeleteAccess": rank >= _rank("Delete"),
        "HasTransferAccess": rank >= _rank("Transfer"),
        "HasAllAccess": rank >= _rank("All"),
        "MaxAccessLevel": level,
        "IsDeleted": False,
    }
