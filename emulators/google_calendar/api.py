"""Request routing: one function from (method, path, headers, body) to a response.

The HTTP server and the batch endpoint both call `Api.handle`, so a call inside a batch behaves
exactly like the same call on its own.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import admin, batch, drive_http, errors, listing, sharing
from .auth import Authenticator, Caller
from .drive import Drive
from .events import EventService, resolve_calendar
from .faults import Faults
from .push import PushHub
from .store import Store

API_PREFIX = "/calendar/v3"
JSON = {"Content-Type": "application/json; charset=UTF-8"}

COLORS = {
    "1": ("#a4bdfc", "#1d1d1d"),
    "2": ("#7ae7bf", "#1d1d1d"),
    "3": ("#dbadff", "#1d1d1d"),
    "4": ("#ff887c", "#1d1d1d"),
    "5": ("#fbd75b", "#1d1d1d"),
    "6": ("#ffb878", "#1d1d1d"),
    "7": ("#46d6db", "#1d1d1d"),
    "8": ("#e1e1e1", "#1d1d1d"),
    "9": ("#5484ed", "#1d1d1d"),
    "10": ("#51b749", "#1d1d1d"),
    "11": ("#dc2127", "#1d1d1d"),
}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(document).encode(), {**JSON, **(headers or {})})

    @classmethod
    def error(cls, exc: errors.ApiError) -> Response:
        return cls.json(exc.code, exc.body(), exc.headers)


@dataclass
class Call:
    """One API call, after routing."""

    caller: Caller
    path_args: tuple[str, ...]
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def flat(self) -> dict[str, str]:
        return {k: v[-1] for k, v in self.params.items()}

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            document = json.loads(self.body)
        except ValueError:
            raise errors.ApiError(400, "parseError", "Parse Error") from None
        if not isinstance(document, dict):
            raise errors.ApiError(400, "parseError", "Parse Error")
        return document


Handler = Callable[["Api", Call], Response]
_SEG = "([^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], str, bool]] = [
    # (HTTP method, path pattern under /calendar/v3, method id, writes?)
    ("GET", re.compile(rf"^/calendars/{_SEG}/events$"), "calendar.events.list", False),
    ("POST", re.compile(rf"^/calendars/{_SEG}/events$"), "calendar.events.insert", True),
    ("POST", re.compile(rf"^/calendars/{_SEG}/events/import$"), "calendar.events.import", True),
    ("POST", re.compile(rf"^/calendars/{_SEG}/events/watch$"), "calendar.events.watch", False),
    (
        "GET",
        re.compile(rf"^/calendars/{_SEG}/events/{_SEG}/instances$"),
        "calendar.events.instances",
        False,
    ),
    ("GET", re.compile(rf"^/calendars/{_SEG}/events/{_SEG}$"), "calendar.events.get", False),
    ("PATCH", re.compile(rf"^/calendars/{_SEG}/events/{_SEG}$"), "calendar.events.patch", True),
    ("PUT", re.compile(rf"^/calendars/{_SEG}/events/{_SEG}$"), "calendar.events.update", True),
    ("DELETE", re.compile(rf"^/calendars/{_SEG}/events/{_SEG}$"), "calendar.events.delete", True),
    ("POST", re.compile(r"^/channels/stop$"), "calendar.channels.stop", False),
    ("POST", re.compile(r"^/calendars$"), "calendar.calendars.insert", True),
    ("GET", re.compile(rf"^/calendars/{_SEG}$"), "calendar.calendars.get", False),
    ("GET", re.compile(rf"^/calendars/{_SEG}/acl$"), "calendar.acl.list", False),
    ("POST", re.compile(rf"^/calendars/{_SEG}/acl$"), "calendar.acl.insert", True),
    ("GET", re.compile(rf"^/calendars/{_SEG}/acl/{_SEG}$"), "calendar.acl.get", False),
    ("DELETE", re.compile(rf"^/calendars/{_SEG}/acl/{_SEG}$"), "calendar.acl.delete", True),
    ("GET", re.compile(r"^/users/me/calendarList$"), "calendar.calendarList.list", False),
    ("GET", re.compile(r"^/colors$"), "calendar.colors.get", False),
]

_AUTH = "https://www.googleapis.com/auth/"
# Scopes of the calendar and ACL methods (calendar.v3.json); event methods use auth.py's sets.
METHOD_SCOPES: dict[str, frozenset[str]] = {
    method_id: frozenset(_AUTH + s for s in scopes.split())
    for method_id, scopes in {
        "calendar.calendars.insert": "calendar calendar.app.created calendar.calendars",
        "calendar.calendars.get": "calendar calendar.app.created calendar.calendars "
        "calendar.calendars.readonly calendar.readonly",
        "calendar.acl.list": "calendar calendar.acls calendar.acls.readonly",
        "calendar.acl.get": "calendar calendar.acls calendar.acls.readonly calendar.readonly",
        "calendar.acl.insert": "calendar calendar.acls",
        "calendar.acl.delete": "calendar calendar.acls",
        "calendar.calendarList.list": "calendar calendar.calendarlist "
        "calendar.calendarlist.readonly calendar.readonly",
    }.items()
}


class Api:
    def __init__(self, store: Store, auth: Authenticator, push: PushHub, faults: Faults) -> None:
        self.store = store
        self.auth = auth
        self.push = push
        self.faults = faults
        self.drive: Drive = store.drive if store.drive is not None else Drive()
        store.drive = self.drive  # event attachments name its files
        self.events = EventService(store)
        self.counters: Counter[str] = Counter()
        self.counter_lock = threading.Lock()

    def count(self, name: str) -> None:
        with self.counter_lock:
            self.counters[name] += 1

    # --- entry point -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """`headers` keys are lower case."""
        parts = urlsplit(target)
        path = parts.path
        try:
            if path.startswith("/_admin/") or path == "/_admin":
                return admin.handle(self, method, path, parse_qs(parts.query), body)
            if path == "/token" and method == "POST":
                self.count("oauth2.token")
                status, document = self.auth.token_endpoint(body)
                return Response.json(status, document, {"Cache-Control": "no-store"})
            if path in ("/batch/calendar/v3", "/batch") and method == "POST":
                return self._batch(headers, body)
            if path.startswith(API_PREFIX + "/"):
                return self._api_call(method, path[len(API_PREFIX) :], parts.query, headers, body)
            if path.startswith(drive_http.PREFIX):
                return drive_http.handle_api(self, method, path, parts.query, headers)
            raise errors.not_found()
        except errors.ApiError as exc:
            return Response.error(exc)

    def _api_call(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Response:
        route = self._route(method, path)
        if route is None:
            raise errors.not_found()
        method_id, writes, args = route
        self.count(method_id)
        caller = self.auth.caller(headers.get("authorization"))
        caller.require(writes, METHOD_SCOPES.get(method_id))
        fault = self.faults.check(method_id)
        if fault is not None:
            raise fault
        call = Call(caller, args, parse_qs(query, keep_blank_values=True), headers, body)
        response = HANDLERS[method_id](self, call)
        if response.status < 300:
            lost = self.faults.check_applied(method_id)
            if lost is not None:
                raise lost  # the write above stays applied; only its answer is lost
        return response

    @staticmethod
    def _route(method: str, path: str) -> tuple[str, bool, tuple[str, ...]] | None:
        for verb, pattern, method_id, writes in ROUTES:
            if verb != method:
                continue
            match = pattern.match(path)
            if match:
                return method_id, writes, tuple(unquote(g) for g in match.groups())
        return None

    def _batch(self, headers: dict[str, str], body: bytes) -> Response:
        self.count("batch")
        requests = batch.parse(headers.get("content-type", ""), body)
        outer_auth = headers.get("authorization")

        def run(sub: batch.SubRequest) -> batch.SubResponse:
            sub_headers = dict(sub.headers)
            if "authorization" not in sub_headers and outer_auth:
                sub_headers["authorization"] = outer_auth
            target = sub.target
            if target.startswith(("http://", "https://")):
                split = urlsplit(target)
                target = split.path + ("?" + split.query if split.query else "")
            if not target.startswith(API_PREFIX + "/"):
                result = Response.error(errors.not_found())
            else:
                result = self.handle(sub.method, target, sub_headers, sub.body)
            return batch.SubResponse(result.status, result.headers, result.body)

        content_type, payload = batch.respond(requests, run)
        return Response(200, payload, {"Content-Type": content_type})


# --- handlers ------------------------------------------------------------------------------------


def _list(api: Api, call: Call) -> Response:
    calendar = _calendar(api, call)
    return Response.json(200, listing.list_events(api.store, calendar, call.params))


def _instances(api: Api, call: Call) -> Response:
    calendar = _calendar(api, call)
    document = listing.list_instances(api.store, calendar, call.path_args[1], call.params)
    return Response.json(200, document)


def _calendar(api: Api, call: Call) -> str:
    with api.store.lock:
        return resolve_calendar(api.store, call.caller.email, call.path_args[0])


def _insert(api: Api, call: Call) -> Response:
    event = api.events.insert(call.caller.email, call.path_args[0], call.json(), call.flat)
    return Response.json(200, event)


def _import(api: Api, call: Call) -> Response:
    event = api.events.import_(call.caller.email, call.path_args[0], call.json(), call.flat)
    return Response.json(200, event)


def _get(api: Api, call: Call) -> Response:
    event = api.events.get(call.caller.email, call.path_args[0], call.path_args[1], call.flat)
    return Response.json(200, event, {"ETag": event["etag"]})


def _patch(api: Api, call: Call) -> Response:
    calendar_id, event_id = call.path_args
    event = api.events.patch(
        call.caller.email,
        calendar_id,
        event_id,
        call.json(),
        call.flat,
        call.headers.get("if-match"),
    )
    return Response.json(200, event, {"ETag": event["etag"]})


def _update(api: Api, call: Call) -> Response:
    calendar_id, event_id = call.path_args
    event = api.events.update(
        call.caller.email,
        calendar_id,
        event_id,
        call.json(),
        call.flat,
        call.headers.get("if-match"),
    )
    return Response.json(200, event, {"ETag": event["etag"]})


def _delete(api: Api, call: Call) -> Response:
    calendar_id, event_id = call.path_args
    api.events.delete(
        call.caller.email, calendar_id, event_id, call.flat, call.headers.get("if-match")
    )
    return Response(204)


def _watch(api: Api, call: Call) -> Response:
    calendar_id = call.path_args[0]
    calendar = _calendar(api, call)
    channel = api.push.watch(call.caller.email, calendar, calendar_id, call.json())
    return Response.json(200, channel)


def _stop(api: Api, call: Call) -> Response:
    api.push.stop(call.json())
    return Response(204)


def _calendar_resource(api: Api, call: Call) -> Response:
    return Response.json(200, sharing.get_calendar(api.store, call.caller.email, call.path_args[0]))


def _calendar_insert(api: Api, call: Call) -> Response:
    return Response.json(200, sharing.insert_calendar(api.store, call.caller.email, call.json()))


def _calendar_list(api: Api, call: Call) -> Response:
    return Response.json(200, sharing.calendar_list(api.store, call.caller.email))


def _acl_list(api: Api, call: Call) -> Response:
    return Response.json(200, sharing.list_rules(api.store, call.caller.email, call.path_args[0]))


def _acl_insert(api: Api, call: Call) -> Response:
    calendar_id = call.path_args[0]
    rule = sharing.insert_rule(api.store, call.caller.email, calendar_id, call.json())
    return Response.json(200, rule)


def _acl_get(api: Api, call: Call) -> Response:
    rule = sharing.get_rule(api.store, call.caller.email, *call.path_args)
    return Response.json(200, rule)


def _acl_delete(api: Api, call: Call) -> Response:
    sharing.delete_rule(api.store, call.caller.email, *call.path_args)
    return Response(204)


def _colors(api: Api, call: Call) -> Response:
    palette = {k: {"background": bg, "foreground": fg} for k, (bg, fg) in COLORS.items()}
    return Response.json(
        200,
        {
            "kind": "calendar#colors",
            "updated": "2012-02-14T00:00:00.000Z",
            "calendar": palette,
            "event": palette,
        },
    )


HANDLERS: dict[str, Handler] = {
    "calendar.events.list": _list,
    "calendar.events.insert": _insert,
    "calendar.events.import": _import,
    "calendar.events.watch": _watch,
    "calendar.events.instances": _instances,
    "calendar.events.get": _get,
    "calendar.events.patch": _patch,
    "calendar.events.update": _update,
    "calendar.events.delete": _delete,
    "calendar.channels.stop": _stop,
    "calendar.calendars.insert": _calendar_insert,
    "calendar.calendars.get": _calendar_resource,
    "calendar.acl.list": _acl_list,
    "calendar.acl.insert": _acl_insert,
    "calendar.acl.get": _acl_get,
    "calendar.acl.delete": _acl_delete,
    "calendar.calendarList.list": _calendar_list,
    "calendar.colors.get": _colors,
}
