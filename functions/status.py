"""`status`: a health answer for uptime checks: the service answers and reads Firestore.

It says nothing that is not public (audit M7): no user counts, no settings. Admins read the
details with `python main.py status` (and the dashboard).
"""

from __future__ import annotations

import json
from typing import Any

from core.version import VERSION
from infra.wiring import settings_store


def status(request: Any) -> tuple[str, int, dict[str, str]]:
    settings_store().org_status()  # a Firestore read: the answer says Firestore works
    body = {"service": "calsync", "version": VERSION, "firestore": "ok"}
    return json.dumps(body), 200, {"Content-Type": "application/json"}
