"""`calendar_webhook`: receives Google Calendar push notifications and queues the user's session (R-27, R-34)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from functions.http import Answer, answer
from infra import wiring
from infra.channels import accepts, plausible_channel_id

log = logging.getLogger("calsync.webhook")


def calendar_webhook(request: Any) -> Answer:
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    token = request.headers.get("X-Goog-Channel-Token", "")
    state = request.headers.get("X-Goog-Resource-State", "")
    if not plausible_channel_id(channel_id):
        # Not an id calsync issues: refused without a Firestore read (audit L1).
        return answer(403, error="unknown channel or token")
    user = wiring.settings_store().user_for_channel(channel_id)
    if not accepts(user, channel_id, token):
        log.warning("push refused", extra={"channel": channel_id})
        return answer(403, error="unknown channel or token")
    assert user is not None
    if state == "sync":  # the channel was just opened: nothing changed yet
        return answer(200, queued=False)
    queued = wiring.session_queue().enqueue(user.email, datetime.now(UTC), reason="push")
    log.info(
        "push accepted", extra={"user": user.email, "status": "queued" if queued else "coalesced"}
    )
    return answer(200, queued=queued)
