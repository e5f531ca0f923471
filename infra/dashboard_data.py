"""What the dashboard shows (R-32), read from Firestore: open issues with their catalogue entry,
each user's sync status, the Salesforce API budget and one item's history.

Reads only; the page (infra/dashboard_page.py) renders these value objects and the actions
write through the SettingsStore contract (shared-contracts.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from core.budget import Budget
from core.issues import BY_CODE, Severity
from core.model import ItemKey
from core.model import Mapping as ItemMapping
from core.users import HeldDelete, User
from infra.budget import read_budget
from infra.history import HISTORY
from infra.sync_store import ISSUES, FirestoreMappingStore

AGES = (0, 1, 7, 30)  # the age filter's choices, in days open
_INSTANCE = re.compile(r"^(\d{8}T\d{6}Z|\d{8})$")


def item_key(text: str) -> ItemKey:
    """`str(ItemKey)` back as an ItemKey: an iCalUID may hold "@", an instance never does."""
    uid, at, tail = text.rpartition("@")
    return ItemKey(uid, tail) if at and _INSTANCE.match(tail) else ItemKey(text)


@dataclass(frozen=True)
class Filters:
    user: str = ""
    code: str = ""
    severity: str = ""  # "error", "pending" or "" for both
    age_days: int = 0  # open at least this many days

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        severity = args.get("severity", "")
        code = args.get("code", "")
        try:
            age = int(args.get("age", "0") or 0)
        except ValueError:
            age = 0
        return cls(
            user=args.get("user", "").strip().lower()[:254],
            code=code if code in BY_CODE else "",
            severity=severity if severity in {s.value for s in Severity} else "",
            age_days=age if age in AGES else 0,
        )

    def query(self) -> dict[str, str]:
        """The filters as query arguments (to keep them across a POST's redirect)."""
        pairs = {"user": self.user, "code": self.code, "severity": self.severity,
                 "age": str(self.age_days) if self.age_days else ""}  # fmt: skip
        return {k: v for k, v in pairs.items() if v}


@dataclass(frozen=True)
class IssueRow:
    code: str
    user: str
    key: str  # str(ItemKey), "" for a session-wide issue
    item_title: str
    start: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None
    count: int
    message: str

    @property
    def kind(self) -> Any:
        return BY_CODE[self.code]

    @property
    def severity(self) -> str:
        return str(self.kind.severity.value)


@dataclass(frozen=True)
class UserRow:
    user: User
    open_issues: int
    errors: int

    @property
    def channel_expires(self) -> datetime | None:
        ms = self.user.state.channel_expiration_ms
        return datetime.fromtimestamp(ms / 1000, UTC) if ms else None

    @property
    def held(self) -> tuple[HeldDelete, ...]:
        return self.user.state.held_deletes

    @property
    def release_pending(self) -> bool:
        """The admin released the held set; the next session carries the deletes out."""
        state = self.user.state
        return bool(state.held_id) and state.deletes_release == state.held_id


@dataclass(frozen=True)
class Overview:
    issues: list[IssueRow]  # filtered, ordered by user, code, start
    all_open: int
    by_user: Counter[str]  # of the filtered issues
    by_code: Counter[str]
    by_severity: Counter[str]
    users: list[UserRow]
    budget: Budget | None
    codes: list[str] = field(default_factory=list)  # codes with open issues (filter choices)


@dataclass(frozen=True)
class ItemHistory:
    user: str
    key: str
    mapping: ItemMapping | None
    issues: list[dict[str, Any]]  # open and closed, newest first
    conflicts: list[dict[str, Any]]  # the values that lost, newest first

    @property
    def title(self) -> str:
        return next((str(i.get("title")) for i in self.issues if i.get("title")), "")


def _row(doc: Mapping[str, Any]) -> IssueRow | None:
    code = str(doc.get("code", ""))
    if code not in BY_CODE:
        return None  # a code this version does not know: shown nowhere rather than crash
    return IssueRow(code, str(doc.get("user_email", "")), str(doc.get("key", "")),
                    str(doc.get("title") or ""), doc.get("start"), doc.get("first_seen"),
                    doc.get("last_seen"), int(doc.get("count") or 1),
                    str(doc.get("message") or ""))  # fmt: skip


def _wanted(row: IssueRow, f: Filters, now: datetime) -> bool:
    old_enough = f.age_days == 0 or (
        row.first_seen is not None and row.first_seen <= now - timedelta(days=f.age_days)
    )
    return ((not f.user or row.user == f.user) and (not f.code or row.code == f.code)
            and (not f.severity or row.severity == f.severity) and old_enough)  # fmt: skip


def overview(db: firestore.Client, users: Iterable[User], filters: Filters,
             now: datetime) -> Overview:  # fmt: skip
    docs = db.collection(ISSUES).where(filter=FieldFilter("open", "==", True)).stream()
    rows = [r for r in (_row(d.to_dict() or {}) for d in docs) if r is not None]
    never = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (r.user, r.code, r.start or never, r.key))
    shown = [r for r in rows if _wanted(r, filters, now)]
    per_user = Counter(r.user for r in rows)
    errors = Counter(r.user for r in rows if r.severity == Severity.ERROR.value)
    return Overview(
        issues=shown,
        all_open=len(rows),
        by_user=Counter(r.user for r in shown),
        by_code=Counter(r.code for r in shown),
        by_severity=Counter(r.severity for r in shown),
        users=[UserRow(u, per_user[u.email], errors[u.email]) for u in users],
        budget=budget(db),
        codes=sorted({r.code for r in rows}),
    )


def budget(db: firestore.Client) -> Budget | None:
    """The Salesforce API budget from the last `Sforce-Limit-Info` seen; None = unknown."""
    return read_budget(db)


def item_history(db: firestore.Client, user: str, key: str) -> ItemHistory:
    """Everything calsync recorded about one item of one user."""
    issues = [d.to_dict() or {} for d in db.collection(ISSUES)
              .where(filter=FieldFilter("user_email", "==", user))
              .where(filter=FieldFilter("key", "==", key)).stream()]  # fmt: skip
    conflicts = [d.to_dict() or {} for d in db.collection(HISTORY)
                 .where(filter=FieldFilter("key", "==", key)).stream()]  # fmt: skip
    conflicts = [c for c in conflicts if c.get("user_email") == user]
    oldest = datetime.min.replace(tzinfo=UTC)
    issues.sort(key=lambda i: i.get("last_seen") or oldest, reverse=True)
    conflicts.sort(key=lambda c: c.get("at") or oldest, reverse=True)
    mapping = FirestoreMappingStore(db).get(user, item_key(key)) if key else None
    return ItemHistory(user, key, mapping, issues, conflicts)
