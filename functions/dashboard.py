"""`dashboard`: the admins' sync-issues page (R-32). Only admins get in: a Google sign-in
checked in code against the `admins` org setting (infra/admin_auth.py); everything else gets a
401/403 with no data in it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra import wiring
from infra.dashboard_page import Dashboard


def dashboard(request: Any) -> Any:
    return Dashboard(wiring.dashboard_services(), datetime.now(UTC)).handle(request)
