"""`addon`: the Google Calendar add-on's HTTP endpoint (R-33): homepage, event card, actions.

Both of Google's ID tokens are verified before anything is read (infra/addon_request.py); a
request that fails gets a 401 with nothing in it. The user must be an enabled calsync user.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from functions.http import Answer
from infra import wiring
from infra.addon_request import AddonRefused, endpoint_url, verify
from infra.cards import Card, Section, Text, show
from infra.sidebar import Sidebar

log = logging.getLogger("calsync.addon")


def addon(request: Any) -> Answer:
    config = wiring.config()
    url = endpoint_url(config, "addon", request.query_string.decode("utf-8", "replace"))
    try:
        req = verify(request.get_json(silent=True), request.headers, url, config,
                     wiring.verifier(), request.args.get("action", ""))  # fmt: skip
    except AddonRefused as exc:
        log.warning("add-on request refused: %s", exc)
        return "", 401, {}
    user = wiring.settings_store().get_user(req.user)
    if user is None or not user.enabled:
        card = Card("calsync", req.user, (Section((Text(
            "calsync is not turned on for your calendar. Ask your Salesforce admin to enable "
            "you."),)),))  # fmt: skip
        return _json(show(card))
    return _json(Sidebar(wiring.sidebar_services(), datetime.now(UTC)).answer(req, user))


def _json(body: dict[str, Any]) -> Answer:
    return json.dumps(body), 200, {"Content-Type": "application/json"}
