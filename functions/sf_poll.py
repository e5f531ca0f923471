"""`sf_poll`: the Cloud Scheduler target that runs the org's poller of Salesforce changes once a
minute (R-21..R-25; infra/sf_poll.py). A poll that another one is running answers 200 at once;
a failure a retry can fix answers 503 (the next run, a minute later, makes good for it, as
Cloud Scheduler's job does not retry); one it cannot fix is the admin issue CS-024 and 500."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from core.errors import RetryableError
from functions.http import Answer, answer, from_google_infra
from infra import wiring

log = logging.getLogger("calsync.sf_poll")


def sf_poll(request: Any) -> Answer:
    if not from_google_infra(request, wiring.config(), "sf_poll", wiring.verifier()):
        return answer(403, error="not from Cloud Scheduler")
    return poll_now()


def poll_now() -> Answer:
    """One poll, answered as the function answers (the sweep runs one too)."""
    from core.errors import CalsyncError

    try:
        report = wiring.poller().run(datetime.now(UTC))
    except RetryableError as exc:
        log.warning("poll will run again", extra={"code": exc.code})
        return answer(503, retry=True, code=exc.code)
    except CalsyncError as exc:
        return answer(500, failed=True, code=exc.code)
    return answer(200, **report.answer())
