"""Ports: the small interfaces that the core and the sessions use, implemented in infra/ and tests/fakes.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Mapping as MappingABC
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.issues import Issue
from core.model import ItemKey, Mapping
from core.users import SyncState, User


class SettingsStore(Protocol):
    """The org settings document and the users' documents (Firestore in production)."""

    def org_settings(self) -> dict[str, Any]:
        """The org settings document as stored (raw, validated by core.settings.resolve)."""
        ...

    def set_org_settings(self, values: MappingABC[str, Any]) -> None:
        """Merge these values into the org settings document."""
        ...

    def get_user(self, email: str) -> User | None: ...

    def list_users(self) -> list[User]:
        """Every user document, enabled or not, ordered by email."""
        ...

    def enable_user(self, email: str, sf_user_id: str = "") -> User:
        """Create or re-enable a user (idempotent); an empty sf_user_id keeps the stored one."""
        ...

    def disable_user(self, email: str) -> None: ...

    def set_user_settings(self, email: str, values: MappingABC[str, Any]) -> None:
        """Merge overrides into an existing user's settings; KeyError if the user is unknown."""
        ...

    def save_sync_state(self, email: str, state: SyncState) -> None: ...


class SessionQueue(Protocol):
    """Queues a user's sync session (Cloud Tasks in production)."""

    def enqueue(self, email: str, now: datetime, reason: str = "push") -> bool:
        """True when a task was created, False when an already queued one covers it."""
        ...


class Lease(Protocol):
    """Mutual exclusion of one user's sessions (R-29)."""

    def acquire(self, email: str, holder: str, now: datetime, ttl: timedelta) -> bool: ...

    def release(self, email: str, holder: str) -> None: ...


class MappingStore(Protocol):
    """Item ↔ SF Event mappings (Firestore in production)."""

    def for_user(self, email: str) -> list[Mapping]: ...

    def for_ical_uids(self, uids: Iterable[str]) -> list[Mapping]:
        """Every user's mappings of these iCalUIDs (R-11: the organiser's)."""
        ...

    def put(self, mappings: Sequence[Mapping]) -> None: ...

    def delete(self, user_email: str, keys: Sequence[ItemKey]) -> None: ...


class IssueStore(Protocol):
    """Open and closed issues (R-31)."""

    def open_for_user(self, email: str) -> list[Issue]: ...

    def record(self, opened: Sequence[Issue], closed: Sequence[Issue], now: datetime) -> None: ...
