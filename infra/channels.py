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


def open_channel(
    store: SettingsStore, calendar: Calendar, user: User, functions_url: str
) -> Channel:
    """A new channel for the user's primary calendar; the previous one (if any) is stopped after
    the new one is stored, so no change falls between the two."""
    old = user.state
    channel_id, token = f"calsync-{uuid.uuid4()}", secrets.token_urlsafe(32)
    # Stored before the watch call: Google's opening `sync` message may arrive before it returns.
    pending = replace(old, channel_id=channel_id, channel_token=token, channel_resource_id="")
    store.save_sync_state(user.email, pending)
    try:
        channel = calendar.watch(user.email, webhook_address(functions_url), channel_id, token)
    except Exception:
        store.save_sync_state(user.email, old)  # the old channel keeps working until it expires
        raise
    state = replace(
        pending,
        channel_resource_id=channel.resource_id,
        channel_expiration_ms=channel.expiration_ms,
    )
    store.save_sync_state(user.email, state)
    if old.channel_id:
        try:
            calendar.stop(Channel(old.channel_id, old.channel_token, old.channel_resource_id, 0))
        except Exception:  # an old channel that is already gone is no loss; it expires anyway
            pass
    return channel


def needs_renewal(user: User, now: datetime) -> bool:
    expires = user.state.channel_expiration_ms
    return not user.state.channel_id or expires <= (now + RENEW_BEFORE).timestamp() * 1000


def accepts(user: User | None, channel_id: str, token: str) -> bool:
    """R-34: the push names the channel calsync stored for this user, with its token."""
    if user is None or not user.enabled or not user.state.channel_id:
        return False
    same_id = hmac.compare_digest(user.state.channel_id, channel_id)
    return same_id and hmac.compare_digest(user.state.channel_token, token)
