"""Watch channels (R-27): open one per enabled user's calendar, renew before expiry, accept only
the channel and token calsync issued (R-34), stop the channel of a user who is disabled.

Only the channel's own fields of the user's state are written (audit M1): a session that runs
while the sweep renews the channel cannot write the old channel back, and a failed renewal puts
the old channel back only if the pending one is still the stored one.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta

from core.errors import CalsyncError
from core.ports import Calendar, Channel, SettingsStore
from core.users import User

log = logging.getLogger("calsync.channels")
RENEW_BEFORE = timedelta(days=2)  # channels live about 7 days (API-FACTS A5)
CHANNEL_ID = re.compile(
    r"^calsync-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)
FIELDS = ("channel_id", "channel_token", "channel_resource_id", "channel_expiration_ms")


def webhook_address(functions_url: str) -> str:
    return f"{functions_url.rstrip('/')}/calendar_webhook"


def _fields(channel_id: str, token: str, resource_id: str, expiration_ms: int) -> dict[str, object]:
    return dict(zip(FIELDS, (channel_id, token, resource_id, expiration_ms), strict=True))


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
    state are written (field paths), so a session saving its sync token at the same time keeps
    it (audit M1)."""
    old = user.state
    channel_id, token = f"calsync-{uuid.uuid4()}", secrets.token_urlsafe(32)
    # Stored before the watch call: Google's opening `sync` message may arrive before it returns.
    store.set_state_fields(user.email, _fields(channel_id, token, "", old.channel_expiration_ms))
    try:
        channel = calendar.watch(user.email, webhook_address(functions_url), channel_id, token)
    except Exception:
        # The old channel keeps working until it expires; put it back unless another renewal
        # stored a channel of its own meanwhile.
        store.set_state_fields(
            user.email,
            _fields(
                old.channel_id,
                old.channel_token,
                old.channel_resource_id,
                old.channel_expiration_ms,
            ),  # fmt: skip
            expect={"channel_id": channel_id},
        )
        raise
    store.set_state_fields(
        user.email,
        {
            "channel_resource_id": channel.resource_id,
            "channel_expiration_ms": channel.expiration_ms,
        },
        expect={"channel_id": channel_id},
    )
    if old.channel_id:
        stop_channel(calendar, user, Channel(old.channel_id, old.channel_token,
                                             old.channel_resource_id, 0))  # fmt: skip
    return channel


def stop_channel(calendar: Calendar, user: User, channel: Channel) -> bool:
    """Stop a channel; an old one that is already gone is no loss (it expires anyway), but a
    failure is logged, so that leaked channels can be seen (audit L5)."""
    try:
        calendar.stop(channel)
        return True
    except CalsyncError as exc:
        log.warning("channel not stopped", extra={"user": user.email, "channel": channel.id,
                                                  "code": exc.code})  # fmt: skip
        return False


def close_channel(store: SettingsStore, calendar: Calendar, user: User) -> bool:
    """R-27 for a disabled user: stop their channel (Google would push for up to 7 days) and
    forget it, unless a newer one was stored meanwhile."""
    state = user.state
    if not state.channel_id:
        return False
    stopped = stop_channel(calendar, user, Channel(state.channel_id, state.channel_token,
                                                   state.channel_resource_id, 0))  # fmt: skip
    store.set_state_fields(user.email, _fields("", "", "", 0),
                           expect={"channel_id": state.channel_id})  # fmt: skip
    return stopped


def needs_renewal(user: User, now: datetime) -> bool:
    expires = user.state.channel_expiration_ms
    return not user.state.channel_id or expires <= (now + RENEW_BEFORE).timestamp() * 1000


def plausible_channel_id(channel_id: str) -> bool:
    """Only ids calsync issues (audit L1): anything else is refused before any Firestore read."""
    return bool(CHANNEL_ID.match(channel_id))


def accepts(user: User | None, channel_id: str, token: str) -> bool:
    """R-34: the push names the channel calsync stored for this user, with its (non-empty) token."""
    if user is None or not user.enabled or not user.state.channel_id:
        return False
    stored = user.state.channel_token
    if not stored:
        return False  # a stored id without a token must not accept a push without one (L1)
    same_id = hmac.compare_digest(
        user.state.channel_id.encode(), channel_id.encode("utf-8", "replace")
    )
    same_token = hmac.compare_digest(stored.encode(), token.encode("utf-8", "replace"))
    return same_id and same_token
