"""`status`: a health answer for anyone (the service answers, Firestore too), and an admin view
for a caller with a Google-signed ID token for this function whose address is in the org
setting `admins`: enabled users and the org's Salesforce API budget (audit M7: an
unauthenticated caller learns nothing that is not public)."""

from __future__ import annotations

import logging
from typing import Any

from core.settings import resolve
from functions.http import Answer, answer
from infra import wiring
from infra.identity import TokenRefused, bearer

log = logging.getLogger("calsync.status")


def status(request: Any) -> Answer:
    store = wiring.settings_store()
    org = store.org_settings()  # also proves that Firestore answers
    token = bearer(request.headers)
    if not token:
        return answer(200, service="calsync", firestore="ok")
    admins = resolve(org)[0].admins
    try:
        if not admins:
            raise TokenRefused("no admins set (org setting `admins`)")
        audience = f"{wiring.config().functions_url}/status"
        wiring.verifier().verify(token, audience, emails=admins)
    except TokenRefused as exc:
        log.warning("status refused: %s", exc, extra={"action": "status"})
        return answer(403, error="not an admin of this calsync")
    return answer(200, service="calsync", firestore="ok", **admin_view(store))


def admin_view(store: Any) -> dict[str, Any]:
    """What an admin sees: users and the Salesforce API budget (infra/budget.py)."""
    users = store.list_users()
    budget = wiring.budget()
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
