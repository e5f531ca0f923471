"""Small helpers shared by the HTTP entry points: JSON answers and the task/scheduler check."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from infra.config import Config
from infra.identity import TokenRefused, Verifier, bearer
from infra.tasks import SECRET_HEADER

Answer = tuple[str, int, dict[str, str]]
log = logging.getLogger("calsync.http")


def answer(status: int, **body: Any) -> Answer:
    return json.dumps(body, default=str), status, {"Content-Type": "application/json"}


def from_google_infra(request: Any, config: Config, function: str, verifier: Verifier) -> bool:
    """R-34: task and scheduler endpoints accept only Cloud Tasks' and Cloud Scheduler's calls.

    With an invoker service account configured (production, and a local stack whose Cloud Tasks
    signs its calls), the call must carry a Google-signed OIDC token for this function's URL
    whose verified email is that account; Cloud Run's IAM check before this code is a second
    barrier, not the only one. Without one, a local stack may use its shared secret instead.
    Neither configured: every call is refused.
    """
    if config.tasks_service_account:
        try:
            verifier.verify(
                bearer(request.headers),
                f"{config.functions_url}/{function}",
                emails=[config.tasks_service_account],
            )
        except TokenRefused as exc:
            log.warning("call refused: %s", exc, extra={"action": function})
            return False
        return True
    if config.shared_secret and config.local:
        given = request.headers.get(SECRET_HEADER, "")
        return _same(given, config.shared_secret)
    log.error("call refused: no invoker identity configured", extra={"action": function})
    return False


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also refuses non-ASCII input instead of raising."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
