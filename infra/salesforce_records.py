"""The records a rep can pick in the sidebar (R-33): searches of Contacts and Leads (Name) and of
Accounts and Opportunities (Related To), and the check that the rep may link a record.

Every typed text goes into SOQL through simple_salesforce's `format_soql` with the `like`
escape (R-35): quotes, backslashes, `%` and `_` match themselves and cannot widen a query.
Searches are bounded: at least 2 and at most 80 characters, a few rows per object.

The access check asks Salesforce, not the event: `UserRecordAccess` answers whether the rep's
Salesforce User can read each record, so a rep can only link what they could see in Salesforce
themselves (audit L3: the integration user's wider rights are not lent out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce.format import format_soql

from core.fields import ID_PREFIXES, WHAT_PREFIXES

Query = Callable[[str], list[dict[str, Any]]]
MIN_SEARCH, MAX_SEARCH = 2, 80
PER_OBJECT = 5
ACCESS_CHUNK = 200  # UserRecordAccess takes at most 200 record ids per query
WHO_OBJECTS = tuple(kind.value for kind in ID_PREFIXES.values())  # Contact, Lead
WHAT_OBJECTS = tuple(WHAT_PREFIXES.values())  # Account, Opportunity


class SearchRefused(ValueError):
    """The search text is too short or too long; the message says so, for the card."""


@dataclass(frozen=True)
class Record:
    """A record the rep may pick: what the card shows and the id it writes."""

    id: str
    kind: str  # Contact, Lead, Account, Opportunity
    name: str
    detail: str = ""  # a Contact's email and Account, a Lead's company, an Opportunity's Account

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind}{', ' + self.detail if self.detail else ''})"


_FIELDS = {
    "Contact": "Id, Name, Email, Account.Name",
    "Lead": "Id, Name, Email, Company",
    "Account": "Id, Name, Website",
    "Opportunity": "Id, Name, Account.Name",
}
_SEARCHED = {
    "Contact": ("Name", "Email"),
    "Lead": ("Name", "Email", "Company"),
    "Account": ("Name",),
    "Opportunity": ("Name",),
}


def _record(kind: str, row: dict[str, Any]) -> Record:
    account = (row.get("Account") or {}).get("Name") or ""
    detail = {
        "Contact": ", ".join(v for v in (row.get("Email") or "", account) if v),
        "Lead": row.get("Company") or "",
        "Account": row.get("Website") or "",
        "Opportunity": account,
    }[kind]
    return Record(str(row["Id"]), kind, str(row.get("Name") or ""), detail)


def _checked(text: str) -> str:
    text = " ".join(text.split())
    if len(text) < MIN_SEARCH:
        raise SearchRefused(f"Type at least {MIN_SEARCH} characters to search.")
    if len(text) > MAX_SEARCH:
        raise SearchRefused(f"Search for at most {MAX_SEARCH} characters.")
    return text


def search(query: Query, objects: Sequence[str], text: str) -> list[Record]:
    """Records of `objects` whose searched fields contain `text`, a few of each, by name."""
    wanted = _checked(text)
    out: list[Record] = []
    for kind in objects:
        pattern = format_soql("'%{:like}%'", wanted)
        where = " OR ".join(f"{name} LIKE {pattern}" for name in _SEARCHED[kind])
        extra = " AND IsConverted = false" if kind == "Lead" else ""
        soql = (f"SELECT {_FIELDS[kind]} FROM {kind} WHERE ({where}){extra} "
                f"ORDER BY Name LIMIT {PER_OBJECT}")  # fmt: skip
        out += [_record(kind, row) for row in query(soql)]
    return out


def records(query: Query, ids: Iterable[str]) -> dict[str, Record]:
    """The named records among `ids` (Contacts, Leads, Accounts, Opportunities), by id; ids of
    other kinds, unknown or deleted ones are left out."""
    by_kind: dict[str, list[str]] = {}
    for record_id in dict.fromkeys(i for i in ids if i):
        kind = _kind(record_id)
        if kind:
            by_kind.setdefault(kind, []).append(record_id)
    out: dict[str, Record] = {}
    for kind, chunk in by_kind.items():
        soql = format_soql(f"SELECT {_FIELDS[kind]} FROM {kind} WHERE Id IN {{}}", chunk)
        for row in query(soql):
            rec = _record(kind, row)
            out[rec.id] = rec
            out[rec.id[:15]] = rec  # a 15-character id names the same record
    return out


def readable(query: Query, user_sf_id: str, ids: Iterable[str]) -> set[str]:
    """The ids among `ids` that the Salesforce User `user_sf_id` may read (UserRecordAccess);
    unknown ids, and every id when the user id is empty, are not readable."""
    wanted = list(dict.fromkeys(i for i in ids if i))
    if not user_sf_id or not wanted:
        return set()
    out: set[str] = set()
    for start in range(0, len(wanted), ACCESS_CHUNK):
        chunk = wanted[start : start + ACCESS_CHUNK]
        soql = format_soql(
            "SELECT RecordId, HasReadAccess FROM UserRecordAccess WHERE UserId = {} AND "
            "RecordId IN {}",
            user_sf_id,
            chunk,
        )
        out |= {str(r["RecordId"]) for r in query(soql) if r.get("HasReadAccess") is True}
    # Salesforce answers with 18-character ids; the caller may have given 15.
    return {i for i in wanted if i in out or any(o.startswith(i) for o in out if len(i) == 15)}


def _kind(record_id: str) -> str:
    prefix = record_id[:3]
    if prefix in ID_PREFIXES:
        return ID_PREFIXES[prefix].value
    return WHAT_PREFIXES.get(prefix, "")
