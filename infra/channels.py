"""Watch channels (R-27): open one per enabled user's calendar, renew before expiry, accept only
the channel and token calsync issued (R-34)."""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from core.ports import Calendar, Channel, SettingsStore
from core.users import User

RENEW_BEFORE = timedelta(days=2)  # channels live about 7 days (API-FACTS A5)


def webhook_address(functions_url: str) -> str:
    return f"{functions_url.rstrip('/')}/calendar_webhook"


def _channel_fields(channel: Channel) -> dict[str, object]:
    return {
        "channel_id": channel.id,
        "channel_token": channel.token,
        "channel_resource_id": channel.resource_id,
        "channel_expiration_ms": channel.expiration_ms,
    }


def stored_channel(user: User) -> Channel | None:
    """The watch channel stored for the user, if any."""
    s = user.state
    if not s.channel_id:
        return None
    return Channel(s.channel_id, s.channel_token, s.channel_resource_id, s.channel_expiration_ms)


def open_channel(
    store: SettingsStore, calendar: Calendar, user: User, functions_url: str
) -> Channel:
    """A new channel for the user's primary calendar; the previous one (if any) is stopped after
    the new one is stored, so no change falls between the two. Only the channel's fields of the
    state are written (field paths), so a session saving its sync token at the same time keeps it."""
    old = stored_channel(user)
    channel_id, token = f"calsync-{uuid.uuid4()}", secrets.token_urlsafe(32)
    # Stored before the watch call: Google's opening `sync` message may arrive before it returns.
    store.set_state_fields(user.email, _channel_fields(Channel(channel_id, token, "", 0)))
    try:
        channel = calendar.watch(user.email, webhook_address(functions_url), channel_id, token)
    except Exception:  # the old channel keeps working until it expires
        store.set_state_fields(user.email, _channel_fields(old or Channel("", "", "", 0)))
        raise
    store.set_state_fields(
        user.email,
        _channel_fields(Channel(channel_id, token, channel.resource_id, channel.expiration_ms)),
    )
    if old is not None:
        try:
            calendar.stop(replace(old, expiration_ms=0))
        except Exception:  # an old channel that is already gone is no loss; it expires anyway
            pass
    return channel


def close_channel(store: SettingsStore, calendar: Calendar, user: User) -> bool:
    """Stop the user's channel and forget it (`users disable`, `users remove`); True when one
    was open. A channel Google no longer knows is simply forgotten."""
    channel = stored_channel(user)
    if channel is None:
        return False
    calendar.stop(channel)  # one Google no longer knows counts as stopped
    store.set_state_fields(user.email, _channel_fields(Channel("", "", "", 0)))
    return True


def needs_renewal(user: User, now: datetime) -> bool:
    expires = user.state.channel_expiration_ms
    return not user.state.channel_id or expires <= (now + RENEW_BEFORE).timestamp() * 1000


def accepts(user: User | None, channel_id: str, token: str) -> bool:
    """R-34: the push names the channel calsync stored for this user, with its token."""
    if user is None or not user.enabled or not user.state.channel_id:
        return False
    same_id = hmac.compare_digest(user.state.channel_id, channel_id)
    return same_id and hmac.compare_digest(user.state.channel_token, token)
