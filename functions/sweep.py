"""`sweep`: the Cloud Scheduler target: queues every enabled user's session, renews their watch
channels, stops those of disabled users, and reports unreadable user documents and org settings
(R-27, R-28). One user's trouble never stops the others' (audit L5, M6)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from core.issues import Issue
from core.ports import UserProblem
from core.settings import resolve
from functions.http import Answer, answer, from_google_infra
from infra import wiring
from infra.channels import close_channel, needs_renewal, open_channel

log = logging.getLogger("calsync.sweep")
UNREADABLE_USER = "CS-017"
SETTINGS_IGNORED = "CS-018"


def sweep(request: Any) -> Answer:
    config = wiring.config()
    if not from_google_infra(request, config, "sweep", wiring.verifier()):
        return answer(403, error="not from Cloud Scheduler")
    now = datetime.now(UTC)
    store = wiring.settings_store()
    queue = wiring.session_queue()
    services = wiring.services()
    problems: list[UserProblem] = []
    users = store.list_users(problems)
    queued = renewed = failed = stopped = 0
    for user in users:
        try:
            if not user.enabled:
                if user.state.channel_id:
                    stopped += close_channel(store, services.calendar_for(user.email), user)
                continue
            if needs_renewal(user, now):
                open_channel(store, services.calendar_for(user.email), user, config.functions_url)
                renewed += 1
        except Exception as exc:  # noqa: BLE001 - counted and logged; the next user goes on
            # one user's channel must not stop the others' sessions (delegation refused, ...)
            failed += 1
            log.warning("channel renewal failed", extra={"user": user.email,
                                                         "code": type(exc).__name__})  # fmt: skip
        if user.enabled:
            try:
                queued += queue.enqueue(user.email, now, reason="sweep")
            except Exception as exc:  # noqa: BLE001 - counted and logged; the next user goes on
                failed += 1
                log.warning("session not queued", extra={"user": user.email,
                                                         "code": type(exc).__name__})  # fmt: skip
    _report(services.issues, store, problems, now)
    return answer(200, queued=queued, renewed=renewed, failed=failed, stopped=stopped,
                  unreadable=len(problems))  # fmt: skip


def _report(issues: Any, store: Any, problems: list[UserProblem], now: datetime) -> None:
    """Org-wide issues (user ""): unreadable user documents (CS-017), ignored org settings
    (CS-018); closed again once mended."""
    wanted = [Issue(UNREADABLE_USER, "", f"user:{p.doc_id}", f"{p.doc_id}: {p.reason}")
              for p in problems]  # fmt: skip
    _, ignored = resolve(store.org_settings(), None, "org")
    if ignored:
        text = "; ".join(str(p) for p in ignored)
        wanted.append(Issue(SETTINGS_IGNORED, "", "settings", text[:900]))
    have = [i for i in issues.open_for_user("") if i.code in (UNREADABLE_USER, SETTINGS_IGNORED)]
    opened = [w for w in wanted if not any(h.ident == w.ident and h.message == w.message
                                             for h in have)]  # fmt: skip
    closed = [h for h in have if not any(h.ident == w.ident for w in wanted)]
    if opened or closed:
        issues.record(opened, closed, now)
