"""`status`: a health answer for uptime checks (the service answers, its version, and Firestore
reads), and an admin view for a caller with a Google-signed ID token for this function whose
address is in the org setting `admins`: enabled users and the org's Salesforce API budget.

Without such a token it says nothing that is not public (audit M7). A human admin reads the same
with `python main.py status` (and the dashboard).
"""

from __future__ import annotations

import logging
from typing import Any

from core.settings import resolve
from core.version import VERSION
from functions.http import Answer, answer
from infra import wiring
from infra.identity import TokenRefused, bearer

log = logging.getLogger("calsync.status")


def status(request: Any) -> Answer:
    store = wiring.settings_store()
    store.org_status()  # a Firestore read: the answer says Firestore works
    public = {"service": "calsync", "version": VERSION, "firestore": "ok"}
    token = bearer(request.headers)
    if not token:
        return answer(200, **public)
    admins = resolve(store.org_settings())[0].admins
    try:
        if not admins:
            raise TokenRefused("no admins set (org setting `admins`)")
        audience = f"{wiring.config().functions_url}/status"
        wiring.verifier().verify(token, audience, emails=admins)
    except TokenRefused as exc:
        log.warning("status refused: %s", exc, extra={"action": "status"})
        return answer(403, error="not an admin of this calsync")
    return answer(200, **public, **admin_view(store, wiring.budget()))


def admin_view(store: Any, budget: Any) -> dict[str, Any]:
    """What an admin sees: users and the Salesforce API budget (infra/budget.py)."""
    users = store.list_users()
    return {
        "enabled_users": sum(1 for u in users if u.enabled),
        "users": len(users),
        "salesforce_api": budget_view(budget),
    }


def budget_view(budget: Any) -> dict[str, Any] | None:
    """The budget as `status` and `python main.py status` show it (None: not read yet)."""
    if budget is None:
        return None
    return {
        "remaining": budget.remaining,
        "max": budget.max,
        "used_share": round(budget.used / budget.max, 4) if budget.max else None,
        "read_at": budget.read_at.isoformat(),
        "bulk_reference": budget.reference,
    }
