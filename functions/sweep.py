"""`sweep`: the Cloud Scheduler target: polls Salesforce's changes (infra/sf_poll.py), looks at
every enabled user (infra/session.Session.quiet: a few reads and one listing, no lease, no write,
on a few threads) and queues the session of each one with something to do, renews their watch
channels, stops those of disabled users, and
reports unreadable user documents and org settings (R-27, R-28). One user's trouble never stops the others' (audit L5, M6)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from core.issues import Issue
from core.ports import UserProblem
from core.settings import resolve
from functions.http import Answer, answer, from_google_infra
from infra import wiring
from infra.channels import close_channel, needs_renewal, open_channel
from infra.session import Session

log = logging.getLogger("calsync.sweep")
UNREADABLE_USER = "CS-017"
SETTINGS_IGNORED = "CS-018"


def sweep(request: Any) -> Answer:
    config = wiring.config()
    if not from_google_infra(request, config, "sweep", wiring.verifier()):
        return answer(403, error="not from Cloud Scheduler")
    now = datetime.now(UTC)
    polled = _poll(now)  # R-21..R-25: Salesforce's changes into the inboxes before the sessions run
    store = wiring.settings_store()
    queue = wiring.session_queue()
    services = wiring.services()
    problems: list[UserProblem] = []
    users = store.list_users(problems)
    quiet = _look(services, [u for u in users if u.enabled], now)
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
        if user.enabled and not quiet.get(user.email, False):
            try:
                queued += queue.enqueue(user.email, now, reason="sweep")
            except Exception as exc:  # noqa: BLE001 - counted and logged; the next user goes on
                failed += 1
                log.warning("session not queued", extra={"user": user.email,
                                                         "code": type(exc).__name__})  # fmt: skip
    _report(services.issues, store, problems, now)
    return answer(200, queued=queued, quiet=sum(quiet.values()), renewed=renewed, failed=failed,
                  stopped=stopped, unreadable=len(problems), polled=polled)  # fmt: skip


LOOKERS = 8  # threads looking at users at once (each waits on one Calendar listing)


def _look(services: Any, users: list[Any], now: datetime) -> dict[str, bool]:
    """Issue 14, R-28: which users have nothing for a session to do; a look that fails queues
    the session (it reports the trouble)."""

    def one(user: Any) -> bool:
        try:
            return Session(services, user.email, now).quiet(user)
        except Exception as exc:  # noqa: BLE001 - the session runs instead, and says why
            log.warning("look failed", extra={"user": user.email, "code": type(exc).__name__})
            return False

    if not users:
        return {}
    with ThreadPoolExecutor(max_workers=min(LOOKERS, len(users))) as pool:
        return dict(zip((u.email for u in users), pool.map(one, users), strict=True))


POLL_FRESH = timedelta(seconds=90)  # the poll's own job runs every minute


def _poll(now: datetime | None = None) -> str:
    """The sweep runs the poller too (the safety net's safety net) unless its own job polled
    in the last 90 seconds (one read, issue 14); its trouble never stops the sweep, and a poll
    already running is left to finish."""
    from functions.sf_poll import poll_now

    try:
        last = wiring.poller().store.read().last_poll_at
        if last is not None and (now or datetime.now(UTC)) - last < POLL_FRESH:
            return "fresh"
        _, status, _ = poll_now()
    except Exception as exc:  # noqa: BLE001 - logged; the sweep's sessions still run
        log.warning("poll failed in the sweep", extra={"code": type(exc).__name__})
        return "failed"
    return "ok" if status == 200 else f"failed {status}"


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
