"""An enabled user as calsync stores it: who they are in Salesforce, their overrides, their sync state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SyncState:
    """Where a user's last session left off (R-27, R-30)."""

    calendar_sync_token: str = ""  # the primary calendar's
    group_sync_tokens: dict[str, str] = field(default_factory=dict)  # per group calendar
    window_end: str = ""  # ISO date: how far ahead the sweep has looked
    deletes_confirmed: bool = False  # the admin released held deletes
    channel_id: str = ""
    channel_token: str = ""
    channel_resource_id: str = ""
    channel_expiration_ms: int = 0


@dataclass(frozen=True)
class User:
    email: str
    enabled: bool = True
    sf_user_id: str = ""  # empty: matched by email on first session
    settings: dict[str, Any] = field(default_factory=dict)  # raw overrides, validated on read
    state: SyncState = SyncState()


def normalise_email(email: str) -> str:
    """Emails are compared and stored lower-case; refuse what is plainly not an address."""
    value = email.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or " " in value or "/" in value:
        raise ValueError(f"{email!r} is not an email address")
    return value
