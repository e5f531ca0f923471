"""`backfill_slice`: the Cloud Tasks target of backfills (R-38): one bounded slice of a user's
backfill, which queues the next slice while work is left.

200 when the slice ran, found nothing to do, or found the backfill held (it queued a later
slice then); 403 unless Cloud Tasks sent it (R-34); a body a retry cannot fix is answered 200
with the error (Cloud Tasks retries every answer outside 2xx: audit H3). Anything unexpected is a
500, and Cloud Tasks retries the slice, which resumes from the checkpoint.
"""

from __future__ import annotations

import logging
from typing import Any

from core.users import normalise_email
from functions.http import Answer, answer, from_google_infra
from infra import wiring
from infra.backfill import run_slice

log = logging.getLogger("calsync.backfill_slice")


def backfill_slice(request: Any) -> Answer:
    if not from_google_infra(request, wiring.config(), "backfill_slice", wiring.verifier()):
        return answer(403, error="not from Cloud Tasks")
    body = request.get_json(silent=True) or {}
    try:
        email = normalise_email(str(body.get("user", "")))
        chain, slice_no = str(body["chain"]), int(body["slice"])
    except (KeyError, TypeError, ValueError):
        log.error("task refused: bad body", extra={"action": "backfill_slice"})
        return answer(200, error='body must be {"user": EMAIL, "chain": ID, "slice": N}')
    outcome = run_slice(wiring.backfill(), wiring.backfill_queue(), email, chain, slice_no)
    log.info("backfill slice", extra={"user": email, "count": outcome.get("read", 0)})
    return answer(200, user=email, slice=slice_no, **outcome)
