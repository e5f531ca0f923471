"""`sync_user`: the Cloud Tasks target; runs one user's sync session (R-27..R-30).

Cloud Tasks retries every answer outside 2xx (the HttpRequest reference of the Cloud Tasks API),
so only a failure that a retry can fix answers 503 (another session holds the lease, rate limits,
5xx). A session that fails for good is recorded as the admin issue CS-020 and answers 200: a
retry would fail the same way, and the sweep tries again later anyway (audit H3).

Around a pushed session, the coalescing hooks (core/coalesce.py): `begin` before it reads
anything (a busy user's follow-up may snooze there: it queues itself a little later and ends),
`finish` after every 2xx end, which queues a follow-up when pushes came in the meantime. A
retried attempt begins again, so a 503 needs no finish. The sweep's sessions skip both.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from core.errors import RetryableError
from core.users import normalise_email
from functions.http import Answer, answer, from_google_infra
from infra import wiring
from infra.coalesce import counting
from infra.session import Session, SessionFailed

log = logging.getLogger("calsync.sync_user")


def sync_user(request: Any) -> Answer:
    if not from_google_infra(request, wiring.config(), "sync_user", wiring.verifier()):
        return answer(403, error="not from Cloud Tasks")
    body = request.get_json(silent=True) or {}
    try:
        email = normalise_email(str(body.get("user", "")))
    except ValueError:
        # Never sent by calsync; a retry cannot mend it, so it is not asked for (2xx).
        log.error("task refused: bad body", extra={"action": "sync_user"})
        return answer(200, error='body must be {"user": EMAIL}')
    queue, session = wiring.session_queue(), str(body.get("session", ""))
    sweep = body.get("reason") == "sweep"  # the sweep's sessions are not coalesced
    services, writes = counting(wiring.services())
    try:
        if not sweep:
            begun = queue.begin(email, session, datetime.now(UTC))
            if begun.snooze is not None:  # the user is still busy: the session runs a bit later
                log.info("session snoozed", extra={"user": email, "session": begun.snooze.task})
                return answer(200, user=email, snoozed=True)
        # The sweep looked before it queued this session (functions/sweep.py): no second look.
        report = Session(services, email, datetime.now(UTC)).run(sweep=sweep, look=False)
    except RetryableError as exc:
        log.warning("session will be retried", extra={"user": email, "code": exc.code})
        return answer(503, retry=True, code=exc.code)
    except SessionFailed as exc:
        if not sweep:
            queue.finish(email, session, datetime.now(UTC), writes.count)
        return answer(200, user=email, failed=True, code=exc.code)
    if not sweep:
        queue.finish(email, session, datetime.now(UTC), writes.count)
    return answer(200, user=email, created=len(report.created), failed=len(report.failed))
