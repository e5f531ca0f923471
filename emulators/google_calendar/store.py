"""In-memory state: calendars of event copies, secondary calendars and their ACLs, a global
change counter, sync tokens.

Every write happens inside `store.transaction()`, which holds the one lock and, on exit, tells the
change listener (push notifications) which calendars changed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


def new_id() -> str:
    """A random event id in the alphabet the API allows (base32hex, lower case)."""
    return base64.b32hexencode(os.urandom(15)).decode().lower()


def new_opaque(prefix: str = "") -> str:
    return prefix + base64.urlsafe_b64encode(os.urandom(18)).decode().rstrip("=")


@dataclass
class Copy:
    """One calendar's copy of an event (a single event, a series master or an exception)."""

    calendar: str
    data: dict[str, Any]
    seq: int
    order: int

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def cancelled(self) -> bool:
        return self.data.get("status") == "cancelled"

    @property
    def organizer(self) -> str:
        return str(self.data.get("organizer", {}).get("email", "")).lower()

    @property
    def is_organizer_copy(self) -> bool:
        return self.organizer == self.calendar

    @property
    def etag(self) -> str:
        return f'"{3_000_000_000_000_000 + self.seq}"'


# Access roles, weakest first (AclRule.role in calendar.v3.json).
ROLES = ("none", "freeBusyReader", "reader", "writerWithoutPrivateAccess", "writer", "owner")
SCOPE_TYPES = ("default", "user", "group", "domain")


def role_level(role: str) -> int:
    return ROLES.index(role)


def rule_id(scope_type: str, value: str = "") -> str:
    """Google's ACL rule id: `user:alice@example.com`, `domain:example.com`, `default`."""
    return "default" if scope_type == "default" else f"{scope_type}:{value}"


@dataclass
class AclRule:
    scope_type: str
    value: str
    role: str
    seq: int

    @property
    def id(self) -> str:
        return rule_id(self.scope_type, self.value)


@dataclass
class Secondary:
    """A secondary (group) calendar: made by calendars.insert or the admin endpoint."""

    id: str
    summary: str
    time_zone: str
    data_owner: str
    description: str | None = None


@dataclass
class SyncPoint:
    calendar: str
    seq: int


@dataclass
class Store:
    domains: frozenset[str]
    calendars: dict[str, dict[str, Copy]] = field(default_factory=dict)
    secondary: dict[str, Secondary] = field(default_factory=dict)
    acls: dict[str, dict[str, AclRule]] = field(default_factory=dict)  # calendar → rule id → rule
    sync_points: dict[str, SyncPoint] = field(default_factory=dict)
    seq: int = 0
    order: int = 0
    acl_seq: int = 0
    on_change: Callable[[str], None] | None = None
    drive: Any = None  # the Drive files that attachments name (drive.Drive), set by the Api
    lock: threading.RLock = field(default_factory=threading.RLock)
    _touched: set[str] = field(default_factory=set)

    def is_hosted(self, email: str) -> bool:
        return email.rpartition("@")[2].lower() in self.domains

    def has_calendar(self, email: str) -> bool:
        """A primary calendar (hosted address) or a secondary calendar lives here."""
        email = email.lower()
        return email in self.secondary or self.is_hosted(email)

    def role_of(self, calendar: str, actor: str) -> str:
        """The actor's access to the calendar: a primary's own user is its owner; otherwise the
        strongest of the rules for the user, their domain and everyone ("default")."""
        actor = actor.lower()
        if calendar == actor and calendar not in self.secondary:
            return "owner"
        rules = self.acls.get(calendar, {})
        found = [
            rules.get(rule_id("user", actor)),
            rules.get(rule_id("domain", actor.rpartition("@")[2])),
            rules.get(rule_id("default")),
        ]
        return max((r.role for r in found if r is not None), key=role_level, default="none")

    def set_rule(self, calendar: str, scope_type: str, value: str, role: str) -> AclRule:
        self.acl_seq += 1
        rule = AclRule(scope_type, value, role, self.acl_seq)
        self.acls.setdefault(calendar, {})[rule.id] = rule
        return rule

    def add_secondary(self, calendar: Secondary) -> None:
        self.secondary[calendar.id] = calendar
        self.calendars.setdefault(calendar.id, {})
        if calendar.data_owner:
            self.set_rule(calendar.id, "user", calendar.data_owner, "owner")

    def events_of(self, email: str) -> dict[str, Copy] | None:
        """The user's primary calendar, created on first use; None if the address is not hosted."""
        email = email.lower()
        if email not in self.calendars:
            if not self.is_hosted(email):
                return None
            self.calendars[email] = {}
        return self.calendars[email]

    def get(self, calendar: str, event_id: str) -> Copy | None:
        events = self.events_of(calendar)
        return None if events is None else events.get(event_id)

    def save(self, calendar: str, data: dict[str, Any]) -> Copy:
        """Store `data` as the calendar's copy of its event with a new change number."""
        events = self.events_of(calendar)
        assert events is not None, calendar
        self.seq += 1
        existing = events.get(data["id"])
        if existing is not None:
            existing.data = data
            existing.seq = self.seq
            copy = existing
        else:
            self.order += 1
            copy = Copy(calendar=calendar.lower(), data=data, seq=self.seq, order=self.order)
            events[copy.id] = copy
        self._touched.add(copy.calendar)
        return copy

    def issue_sync_token(self, calendar: str, seq: int) -> str:
        token = new_opaque("CP")
        self.sync_points[token] = SyncPoint(calendar, seq)
        return token

    def reset(self) -> None:
        with self.lock:
            self.calendars.clear()
            self.secondary.clear()
            self.acls.clear()
            self.sync_points.clear()
            self._touched.clear()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        with self.lock:
            self._touched.clear()
            try:
                yield self
            finally:
                touched, self._touched = self._touched, set()
                if self.on_change:
                    for calendar in sorted(touched):
                        self.on_change(calendar)
