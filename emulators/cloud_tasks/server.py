"""The REST side: the routes of Cloud Tasks API v2 that google-cloud-tasks calls with
`transport="rest"`, JSON in and out through the library's own message types, and admin routes.

    POST/GET        /v2/projects/P/locations/L/queues                      create, list
    GET/PATCH/DELETE /v2/projects/P/locations/L/queues/Q                   get, update, delete
    POST            /v2/.../queues/Q:pause | :resume | :purge | :testIamPermissions
    POST/GET        /v2/.../queues/Q/tasks                                 create, list
    GET/DELETE      /v2/.../queues/Q/tasks/T                               get, delete
    POST            /v2/.../queues/Q/tasks/T:run
    GET  /_admin/stats   POST /_admin/reset   POST /_admin/config   POST /_admin/act_as

Every /v2 call needs `Authorization: Bearer dev:<caller email>` (401 otherwise), the caller that
IAM would see; `$alt=json;enum-encoding=int` makes enums integers, as the client asks.
"""

from __future__ import annotations

import json
import re
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.cloud import tasks_v2
from google.protobuf.json_format import ParseError

from .errors import ApiError, invalid, not_found
from .state import CloudTasks

_LOCATION = r"projects/[^/]+/locations/[^/]+"
_QUEUE = _LOCATION + r"/queues/[^/:]+"
_TASK = _QUEUE + r"/tasks/[^/:]+"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(rf"^/v2/({_LOCATION})/queues$"), "create_queue"),
    ("GET", re.compile(rf"^/v2/({_LOCATION})/queues$"), "list_queues"),
    ("GET", re.compile(rf"^/v2/({_QUEUE})$"), "get_queue"),
    ("PATCH", re.compile(rf"^/v2/({_QUEUE})$"), "update_queue"),
    ("DELETE", re.compile(rf"^/v2/({_QUEUE})$"), "delete_queue"),
    ("POST", re.compile(rf"^/v2/({_QUEUE}):(pause|resume|purge)$"), "queue_action"),
    ("POST", re.compile(rf"^/v2/({_QUEUE}):testIamPermissions$"), "test_permissions"),
    ("POST", re.compile(rf"^/v2/({_QUEUE})/tasks$"), "create_task"),
    ("GET", re.compile(rf"^/v2/({_QUEUE})/tasks$"), "list_tasks"),
    ("GET", re.compile(rf"^/v2/({_TASK})$"), "get_task"),
    ("DELETE", re.compile(rf"^/v2/({_TASK})$"), "delete_task"),
    ("POST", re.compile(rf"^/v2/({_TASK}):run$"), "run_task"),
]
MAX_PAGE = 1000


class Api:
    """Routes one request to the emulator; answers (status, JSON document)."""

    def __init__(self, emulator: CloudTasks):
        self.emu = emulator

    def handle(self, method: str, path: str, headers: dict[str, str],
               body: bytes) -> tuple[int, Any]:  # fmt: skip
        url = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if url.path.startswith("/_admin/"):
                return 200, self._admin(method, url.path, _json(body))
            if not url.path.startswith("/v2/"):
                raise not_found(f"no such path: {url.path}")
            caller = _caller(headers)
            for verb, pattern, name in ROUTES:
                match = pattern.match(url.path)
                if match and verb == method:
                    self.ints = "enum-encoding=int" in query.get("$alt", "")
                    return 200, getattr(self, name)(*match.groups(), query=query,
                                                    body=_json(body), caller=caller)  # fmt: skip
            if re.match(rf"^/v2/{_QUEUE}/tasks:(batchCreate|batchDelete)$", url.path):
                raise ApiError("UNIMPLEMENTED", "batch task methods are not emulated")
            if re.match(rf"^/v2/{_QUEUE}:(getIamPolicy|setIamPolicy)$", url.path):
                raise ApiError("UNIMPLEMENTED", "queue IAM policies are not emulated")
            raise not_found(f"no such method: {method} {url.path}")
        except ApiError as exc:
            return exc.http_status, exc.body()

    # -- queues -----------------------------------------------------------------------------

    def create_queue(self, parent: str, *, body: Any, **_: Any) -> Any:
        return self._out(self.emu.create_queue(parent, _parse(tasks_v2.Queue, body)))

    def list_queues(self, parent: str, *, query: dict[str, str], **_: Any) -> Any:
        if query.get("filter"):
            raise invalid("filter is not emulated")
        found, token = _page(self.emu.list_queues(parent), query)
        return {"queues": [self._dict(q) for q in found], **token}

    def get_queue(self, name: str, **_: Any) -> Any:
        return self._out(self.emu.get_queue(name))

    def update_queue(self, name: str, *, body: Any, query: dict[str, str], **_: Any) -> Any:
        queue = _parse(tasks_v2.Queue, body)
        if queue.name and queue.name != name:
            raise invalid("Queue.name does not match the URL")
        queue.name = name
        mask = [_snake(p.strip()) for p in query.get("updateMask", "").split(",") if p.strip()]
        return self._out(self.emu.update_queue(queue, mask))

    def delete_queue(self, name: str, **_: Any) -> Any:
        self.emu.delete_queue(name)
        return {}

    def queue_action(self, name: str, action: str, **_: Any) -> Any:
        if action == "purge":
            return self._out(self.emu.purge(name))
        state = tasks_v2.Queue.State.PAUSED if action == "pause" else tasks_v2.Queue.State.RUNNING
        return self._out(self.emu.set_state(name, state))

    def test_permissions(self, name: str, *, body: Any, **_: Any) -> Any:
        """TestIamPermissions: the emulator keeps no IAM policy on queues, so an authenticated
        caller holds every Cloud Tasks permission on an existing queue; on a missing one none
        (IAM answers an empty set there, not NOT_FOUND)."""
        asked = body.get("permissions") if isinstance(body, dict) else None
        if not isinstance(asked, list):
            raise invalid("TestIamPermissionsRequest.permissions is required")
        with self.emu.cond:
            exists = name in self.emu.queues
        held = [p for p in asked if exists and str(p).startswith("cloudtasks.")]
        return {"permissions": held} if held else {}

    # -- tasks ------------------------------------------------------------------------------

    def create_task(self, parent: str, *, body: Any, caller: str, **_: Any) -> Any:
        if not isinstance(body, dict) or "task" not in body:
            raise invalid("CreateTaskRequest.task is required")
        unknown = set(body) - {"task", "responseView"}
        if unknown:
            raise invalid(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}"')
        task = self.emu.create_task(parent, _parse(tasks_v2.Task, body["task"]), caller)
        return self._task(task, body.get("responseView"))

    def list_tasks(self, parent: str, *, query: dict[str, str], **_: Any) -> Any:
        found, token = _page(self.emu.list_tasks(parent), query)
        view = query.get("responseView")
        return {"tasks": [json.loads(self._task(t, view, text=True)) for t in found], **token}

    def get_task(self, name: str, *, query: dict[str, str], **_: Any) -> Any:
        return self._task(self.emu.get_task(name), query.get("responseView"))

    def delete_task(self, name: str, **_: Any) -> Any:
        self.emu.delete_task(name)
        return {}

    def run_task(self, name: str, *, body: Any, **_: Any) -> Any:
        view = body.get("responseView") if isinstance(body, dict) else None
        return self._task(self.emu.run_task(name), view)

    # -- output -----------------------------------------------------------------------------

    def _task(self, task: tasks_v2.Task, view: Any, text: bool = False) -> Any:
        shown = tasks_v2.Task(task)
        full = str(view) in ("2", "FULL")
        shown.view = tasks_v2.Task.View.FULL if full else tasks_v2.Task.View.BASIC
        return self._json_text(shown) if text else self._out(shown)

    def _json_text(self, message: Any) -> str:
        return type(message).to_json(message, use_integers_for_enums=self.ints, indent=None,
                                     always_print_fields_with_no_presence=False)  # fmt: skip

    def _out(self, message: Any) -> Any:
        return json.loads(self._json_text(message))

    def _dict(self, message: Any) -> Any:
        return self._out(message)

    # -- admin ------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: Any) -> Any:
        if method == "GET" and path == "/_admin/stats":
            return self.emu.snapshot()
        if method == "POST" and path == "/_admin/reset":
            self.emu.reset()
            return {"ok": True}
        if method == "POST" and path == "/_admin/config":
            if isinstance(body, dict) and "name_reuse_seconds" in body:
                self.emu.name_reuse_seconds = float(body["name_reuse_seconds"])
            return {"name_reuse_seconds": self.emu.name_reuse_seconds}
        if method == "POST" and path == "/_admin/act_as":
            if (
                not isinstance(body, dict)
                or not body.get("caller")
                or not body.get("service_account")
            ):
                raise invalid('give {"caller", "service_account"}')
            with self.emu.cond:
                self.emu.act_as.add((str(body["caller"]).lower(),
                                     str(body["service_account"]).lower()))  # fmt: skip
            return {"ok": True}
        raise not_found(f"no such admin route: {method} {path}")


def _caller(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer dev:") or not auth.removeprefix("Bearer dev:").strip():
        raise ApiError(
            "UNAUTHENTICATED",
            "Request is missing required authentication credential. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential.",
        )
    return auth.removeprefix("Bearer dev:").strip()


def _json(body: bytes) -> Any:
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise invalid("Invalid JSON payload received.") from None


def _parse(cls: Any, document: Any) -> Any:
    try:
        return cls.from_json(json.dumps(document if document is not None else {}))
    except ParseError as exc:
        raise invalid(f"Invalid JSON payload received. {exc}") from None


def _page(items: list[Any], query: dict[str, str]) -> tuple[list[Any], dict[str, str]]:
    try:
        size = int(query.get("pageSize") or MAX_PAGE)
        start = int(query.get("pageToken") or 0)
    except ValueError:
        raise invalid("pageSize and pageToken must be numbers here") from None
    if size < 0:
        raise invalid("pageSize must not be negative")
    size = min(size or MAX_PAGE, MAX_PAGE)
    chunk = items[start : start + size]
    more = start + size < len(items)
    return chunk, ({"nextPageToken": str(start + size)} if more else {})


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api: Api

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, document = self.api.handle(self.command, self.path, headers, body)
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def build(host: str, port: int, emulator: CloudTasks) -> Server:
    handler = type("BoundHandler", (_Handler,), {"api": Api(emulator)})
    return Server((host, port), handler)
