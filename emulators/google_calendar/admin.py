"""Test-only endpoints under /_admin/: reset, raw state, counters, faults, channels, tokens.

POST   /_admin/reset                     forget all calendars, channels, counters, faults
GET    /_admin/calendars                 every calendar with its number of event copies
POST   /_admin/calendars                 a secondary calendar with a fixed id and members
GET    /_admin/calendars/{email}/events  raw stored copies (change number, etag, data)
GET    /_admin/counters                  calls per API method id (DELETE resets them)
GET    /_admin/faults                    configured faults; POST adds one; DELETE clears
GET    /_admin/channels                  push channels and the delivery log
POST   /_admin/sync-tokens/expire        make every issued sync token unknown (410 next)
*      /_admin/drive/...                 Drive files and shared drives (drive_http.py)
POST   /_admin/delegation                {"scopes": [...]}: the scopes domain-wide delegation
                                         may grant, as the Admin console lists them (null: any)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import drive_http, errors, sharing

if TYPE_CHECKING:
    from .api import Api, Response


def handle(api: Api, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Response:
    from .api import Response

    parts = [unquote(p) for p in path.strip("/").split("/")[1:]]
    route = (method, *parts)
    if route == ("POST", "reset"):
        api.store.reset()
        api.drive.reset()
        api.auth.delegated_scopes = None
        api.push.reset()
        api.faults.clear()
        with api.counter_lock:
            api.counters.clear()
        return Response.json(200, {"reset": True})
    if parts and parts[0] == "drive":
        return drive_http.handle_admin(api, method, parts[1:], _json(body) if body else {})
    if route == ("POST", "delegation"):
        scopes = _json(body).get("scopes")
        api.auth.delegated_scopes = None if scopes is None else frozenset(map(str, scopes))
        return Response.json(200, {"scopes": None if scopes is None else sorted(scopes)})
    if route == ("GET", "health"):
        return Response.json(200, {"ok": True})
    if route == ("GET", "calendars"):
        with api.store.lock:
            calendars = [
                {"id": email, "events": len(events)}
                for email, events in api.store.calendars.items()
            ]
        return Response.json(200, {"calendars": calendars})
    if route == ("POST", "calendars"):
        return Response.json(200, sharing.create_fixed(api.store, _json(body)))
    if len(parts) == 3 and parts[0] == "calendars" and parts[2] == "events" and method == "GET":
        return Response.json(200, {"items": _raw_events(api, parts[1].lower())})
    if route == ("GET", "counters"):
        with api.counter_lock:
            return Response.json(200, {"counters": dict(api.counters)})
    if route == ("DELETE", "counters"):
        with api.counter_lock:
            api.counters.clear()
        return Response.json(200, {"counters": {}})
    if route == ("GET", "faults"):
        return Response.json(200, api.faults.describe())
    if route == ("POST", "faults"):
        api.faults.add(_json(body))
        return Response.json(200, api.faults.describe())
    if route == ("DELETE", "faults"):
        api.faults.clear()
        return Response.json(200, api.faults.describe())
    if route == ("GET", "channels"):
        return Response.json(200, api.push.snapshot())
    if route == ("POST", "sync-tokens", "expire"):
        with api.store.lock:
            expired = len(api.store.sync_points)
            api.store.sync_points.clear()
        return Response.json(200, {"expired": expired})
    raise errors.not_found()


def _raw_events(api: Api, calendar: str) -> list[dict[str, Any]]:
    with api.store.lock:
        events = api.store.calendars.get(calendar)
        if events is None:
            raise errors.not_found()
        return [
            {"calendar": c.calendar, "seq": c.seq, "etag": c.etag, "data": c.data}
            for c in sorted(events.values(), key=lambda c: c.order)
        ]


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise errors.ApiError(400, "parseError", "Parse Error") from None
    if not isinstance(document, dict):
        raise errors.ApiError(400, "parseError", "Parse Error")
    return document
