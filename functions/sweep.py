"""`sweep`: the Cloud Scheduler target: queues every enabled user's session and renews their
watch channels (R-27, R-28)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from functions.http import Answer, answer, from_google_infra
from infra import wiring
from infra.channels import needs_renewal, open_channel

log = logging.getLogger("calsync.sweep")


def sweep(request: Any) -> Answer:
    config = wiring.config()
    if not from_google_infra(request, config, "sweep", wiring.verifier()):
        return answer(403, error="not from Cloud Scheduler")
    now = datetime.now(UTC)
    store = wiring.settings_store()
    queue = wiring.session_queue()
    services = wiring.services()
    queued = renewed = failed = 0
    for user in store.list_users():
        if not user.enabled:
            continue
        if needs_renewal(user, now):
            try:
                open_channel(store, services.calendar_for(user.email), user, config.functions_url)
                renewed += 1
            except Exception:  # one user's channel must not stop the others' sessions
                failed += 1
                log.exception("channel renewal failed", extra={"user": user.email})
        queued += queue.enqueue(user.email, now, reason="sweep")
    return answer(200, queued=queued, renewed=renewed, failed=failed)
