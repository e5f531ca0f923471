"""In-memory state: calendars of event copies, a global change counter, sync tokens.

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


@dataclass
class SyncPoint:
    calendar: str
    seq: int


@dataclass
class Store:
    domains: frozenset[str]
    calendars: dict[str, dict[str, Copy]] = field(default_factory=dict)
    sync_points: dict[str, SyncPoint] = field(default_factory=dict)
    seq: int = 0
    order: int = 0
    on_change: Callable[[str], None] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    _touched: set[str] = field(default_factory=set)

    def is_hosted(self, email: str) -> bool:
        return email.rpartition("@")[2].lower() in self.domains

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
