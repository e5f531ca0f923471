"""A Google Workspace add-on request (HTTP runtime), verified (R-33, R-34).

Google signs every request twice (API-FACTS-2 §2.3): the system ID token (also the bearer of the
`Authorization` header) is the project's add-on service agent's, for the exact endpoint URL,
path and query included; the user ID token is the user's, for the add-on's OAuth client. Both are
checked with the production verifier (infra/identity.py); the endpoint URL is rebuilt from
CALSYNC_FUNCTIONS_URL, not from what the proxy in front of the function reports. A request that
fails any check is refused before anything is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.users import normalise_email
from infra.config import Config
from infra.identity import TokenRefused, Verifier, bearer


class AddonRefused(Exception):
    """The request is not a verified add-on request of this user; the message says why (for the
    log: never a token, never event data)."""


@dataclass(frozen=True)
class AddonEvent:
    """The Calendar event object: ids only (it carries no title or time, API-FACTS-2 §2.2)."""

    calendar_id: str
    event_id: str
    recurring_event_id: str = ""


@dataclass(frozen=True)
class AddonRequest:
    user: str  # the verified address of the user
    event: AddonEvent | None
    action: str = ""  # the `action` query parameter of the URL Google called
    form: dict[str, str] = field(default_factory=dict)  # widget name → its (first) value
    params: dict[str, str] = field(default_factory=dict)  # the clicked action's parameters


def endpoint_url(config: Config, function: str, query: str) -> str:
    """The URL Google was told to call: the audience of the system ID token."""
    return f"{config.functions_url}/{function}" + (f"?{query}" if query else "")


def verify(body: Any, headers: Mapping[str, str], url: str, config: Config,
           verifier: Verifier, action: str = "") -> AddonRequest:  # fmt: skip
    """The request, once both tokens verify and the event (if any) is on the user's own
    calendar. Raises AddonRefused otherwise."""
    if not config.addon_service_account or not config.addon_client_id:
        raise AddonRefused("the add-on is not configured (service agent, OAuth client)")
    if not isinstance(body, Mapping):
        raise AddonRefused("not an add-on request")
    tokens = _obj(body.get("authorizationEventObject"))
    system = bearer(headers) or _text(tokens.get("systemIdToken"))
    if _text(tokens.get("systemIdToken")) not in ("", system):
        raise AddonRefused("two different system tokens")
    try:
        verifier.verify(system, url, emails=[config.addon_service_account])
        claims = verifier.verify(_text(tokens.get("userIdToken")), config.addon_client_id)
        user = normalise_email(str(claims.get("email", "")))
    except (TokenRefused, ValueError) as exc:
        raise AddonRefused(str(exc)) from None
    common = _obj(body.get("commonEventObject"))
    params = {str(k): _text(v) for k, v in _obj(common.get("parameters")).items()}
    # The card's buttons carry the event's ids too, in case a callback lacks the event object.
    event = _event(body.get("calendar")) or _event(
        {"calendarId": params.get("calendarId"), "id": params.get("eventId")})  # fmt: skip
    if event is not None and event.calendar_id.lower() != user:
        raise AddonRefused("the event is not on the user's own calendar")
    return AddonRequest(user, event, action, _form(common.get("formInputs")), params)


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _event(value: Any) -> AddonEvent | None:
    calendar = _obj(value)
    event_id = _text(calendar.get("id"))
    if not event_id:
        return None  # the homepage, or a new event not saved yet
    return AddonEvent(_text(calendar.get("calendarId")), event_id,
                      _text(calendar.get("recurringEventId")))  # fmt: skip


def _form(value: Any) -> dict[str, str]:
    """`{name: {"stringInputs": {"value": [..]}}}` → `{name: first value}`."""
    out: dict[str, str] = {}
    for name, widget in _obj(value).items():
        values = _obj(_obj(widget).get("stringInputs")).get("value")
        if isinstance(values, list) and values and isinstance(values[0], str):
            out[str(name)] = values[0]
    return out
