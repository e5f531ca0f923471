"""`salesforce_webhook`: the callout of calsync's Salesforce Flow (salesforce/): an Event changed,
so its owner's session is queued at once (R-21..R-23: seconds instead of the poll's minute).

Public at the IAM layer (Salesforce carries no Google identity); the call must carry a JWT that
the org's certificate signs, for this URL, from this org, fresh (infra/flow_callout.py). Refused
calls get 401/403 and leave no trace but a log line. The poller stays the safety net.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from functions.http import Answer, answer
from infra import wiring
from infra.flow_callout import BadCallout, CalloutRefused, parse
from infra.identity import bearer

log = logging.getLogger("calsync.salesforce_webhook")


def salesforce_webhook(request: Any) -> Answer:
    if request.method != "POST":
        return answer(405, error="POST only")
    config = wiring.config()
    verifier = wiring.flow_verifier()
    if verifier is None:
        log.error("callout refused: the Flow's certificate or the org id is not configured")
        return answer(403, error="not configured")
    try:
        verifier.verify(bearer(request.headers))
        changes = parse(request.get_json(silent=True), config.sf_org_id)
    except CalloutRefused as exc:
        log.warning("callout refused: %s", exc, extra={"action": "salesforce_webhook"})
        return answer(401, error="not a call of this org's Flow")
    except BadCallout as exc:
        return answer(400, error=str(exc))
    result = wiring.callouts().handle(changes, datetime.now(UTC))
    log.info("callout accepted", extra={"count": len(changes),
                                        "status": f"queued {result.queued}"})  # fmt: skip
    return answer(200, routed=sum(len(v) for v in result.routed.values()), queued=result.queued,
                  left=result.left)  # fmt: skip
