"""Small helpers shared by the HTTP entry points: JSON answers and the task/scheduler check."""

from __future__ import annotations

import hmac
import json
from typing import Any

from infra.config import Config
from infra.tasks import SECRET_HEADER

Answer = tuple[str, int, dict[str, str]]


def answer(status: int, **body: Any) -> Answer:
    return json.dumps(body, default=str), status, {"Content-Type": "application/json"}


def from_google_infra(request: Any, config: Config) -> bool:
    """R-34: task and scheduler endpoints. In production Cloud Functions lets only the invoker
    service account's OIDC token through (IAM, before this code runs); on a local stack the
    shared secret stands in for it."""
    if not config.shared_secret:
        return True
    given = request.headers.get(SECRET_HEADER, "")
    return hmac.compare_digest(given, config.shared_secret)
