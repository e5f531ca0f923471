"""`status`: a health answer for the local stack and uptime checks: the service answers and Firestore too."""

from __future__ import annotations

import json
from typing import Any

from core.version import VERSION
from infra.wiring import settings_store


def status(request: Any) -> tuple[str, int, dict[str, str]]:
    store = settings_store()
    users = store.list_users()
    body = {
        "service": "calsync",
        "version": VERSION,
        "firestore": "ok",
        "enabled_users": sum(1 for u in users if u.enabled),
    }
    return json.dumps(body), 200, {"Content-Type": "application/json"}
