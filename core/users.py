"""An enabled user as calsync stores it: who they are in Salesforce, their overrides, their sync state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HeldDelete:
    """One SF Event delete that the deletion guard holds for the admin (R-37): what the admin is
    shown before confirming (`deletes show`), and what a confirmation releases, nothing more."""

    sync_key: str
    item_key: str  # str(ItemKey) of the item
    sf_event_id: str = ""
    title: str = ""  # shown to the admin, never logged
    start: str = ""  # RFC 3339, "" when unknown


@dataclass(frozen=True)
class SyncState:
    """Where a user's last session left off (R-27, R-30)."""

    calendar_sync_token: str = ""  # the primary calendar's
    group_sync_tokens: dict[str, str] = field(default_factory=dict)  # per group calendar
    window_end: str = ""  # ISO date: how far ahead the sweep has looked
    channel_id: str = ""
    channel_token: str = ""
    channel_resource_id: str = ""
    channel_expiration_ms: int = 0
    # the deletes held by the guard, a digest of that set, and the digest an admin released
    # with `deletes confirm` (a confirmation releases exactly the set it was given).
    held_deletes: tuple[HeldDelete, ...] = ()
    held_id: str = ""
    deletes_release: str = ""
    # R-37's rolling guard: "RFC 3339 instant count" per session that deleted, last 24 hours.
    recent_deletes: tuple[str, ...] = ()
    # R-21..R-23: SF Event ids that changed in Salesforce (found by the poller or the Flow's
    # callout) and that this user's session reads next; it removes those it settled.
    sf_changed: tuple[str, ...] = ()
    # set by the poll when it first sees this user as an enabled owner (or on a full
    # re-check): the session reads the user's Events of the window once, and clears the mark
    # (this exact value) when it succeeded. RFC 3339 of the poll that set it; "" when done.
    sf_onboard: str = ""
    # What the last session did, for `users show` and the dashboard.
    last_session_at: str = ""  # RFC 3339
    last_session_result: str = ""  # "ok", or "retry CS-011", "failed CS-014", ...


@dataclass(frozen=True)
class User:
    email: str
    enabled: bool = True
    sf_user_id: str = ""  # empty: matched by email on first session
    settings: dict[str, Any] = field(default_factory=dict)  # raw overrides, validated on read
    state: SyncState = SyncState()
    settings_last_valid: dict[str, Any] = field(default_factory=dict)  # SPEC §7: the fallback


def normalise_email(email: str) -> str:
    """Emails are compared and stored lower-case; refuse what is plainly not an address."""
    value = email.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or " " in value or "/" in value:
        raise ValueError(f"{email!r} is not an email address")
    return value
