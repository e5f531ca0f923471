"""The HTTPS server: request limits, auth, API call accounting and fault injection, JSON I/O."""

from __future__ import annotations

import json
import socket
import ssl
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import admin, api, multipart
from .api import Emulator, Request, Response
from .auth import OAuthError
from .errors import ApiError
from .usage import LOST_ANSWER, fault_error

MAX_URI = 16_384  # the REST API caps URI + headers at 16 KB
COLLECTION_KINDS = (
    "collections_create",
    "collections_update",
    "collections_delete",
    "collections_upsert",
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "calsync-salesforce-emulator"
    emulator: Emulator  # set on the subclass made by serve()

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes; without this Nagle + delayed ACK add
        # ~40 ms to every keep-alive request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # quiet: tests and benchmarks make many requests

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    # -- plumbing --------------------------------------------------------------------------
    def _handle(self) -> None:
        header_bytes = sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if len(self.path) > MAX_URI:
            return self._send(
                Response(414, [{"errorCode": "URI_TOO_LONG", "message": "URI Too Long"}])
            )
        if len(self.path) + header_bytes > MAX_URI:
            return self._send(
                Response(
                    431,
                    [
                        {
                            "errorCode": "REQUEST_HEADER_FIELDS_TOO_LARGE",
                            "message": "Request Header Fields Too Large",
                        }
                    ],
                )
            )
        length = int(self.headers.get("Content-Length") or 0)
        url = urlsplit(self.path)
        content_type = self.headers.get("Content-Type", "")
        limit = (
            multipart.multipart_limit(url.path)
            if multipart.is_multipart(content_type)
            else multipart.JSON_LIMIT
        )
        if length > limit and url.path.startswith("/services/data/"):
            self._discard(length)  # read it all, so the client sees the answer, not a reset
            error = multipart.too_large(limit)
            return self._send(Response(error.status, error.body()))
        raw = self.rfile.read(length) if length else b""
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            if url.path.startswith("/_admin/"):
                response = admin.handle(
                    self.emulator, self.command, url.path, params, _json(raw) if raw else {}
                )
            elif url.path.rstrip("/") == "/services/oauth2/token":
                response = self._token(raw)
            elif url.path.rstrip("/") == "/services/data":
                response = Response(
                    200,
                    [
                        {"version": v, "label": "emulated", "url": f"/services/data/v{v}"}
                        for v in api.SUPPORTED_VERSIONS
                    ],
                )
            elif url.path.startswith("/services/data/"):
                response = self._api(url.path, params, raw, content_type)
            else:
                response = Response(
                    404,
                    [
                        {
                            "errorCode": "NOT_FOUND",
                            "message": "The requested resource does not exist",
                        }
                    ],
                )
        except ApiError as exc:
            response = Response(exc.status, exc.body())
        self._send(response)

    def _token(self, raw: bytes) -> Response:
        if self.command != "POST":
            return Response(405, {"error": "invalid_request", "error_description": "POST only"})
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        emu = self.emulator
        with emu.org.lock:
            users = {
                r["Username"].lower(): r["Id"]
                for r in emu.org.store.rows("User")
                if not r["IsDeleted"] and r["IsActive"]
            }
        try:
            token = emu.sessions.exchange(form, emu.base_url, users)
        except OAuthError as exc:
            return Response(400, {"error": exc.error, "error_description": exc.description})
        user_id = emu.sessions.user_for(token, "")
        return Response(
            200,
            {
                "access_token": token,
                "scope": "api",
                "instance_url": emu.base_url,
                "id": f"{emu.base_url}/id/{emu.org.org_id}/{user_id}",
                "token_type": "Bearer",
            },
        )

    def _discard(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                return
            length -= len(chunk)

    def _api(self, path: str, params: dict[str, str], raw: bytes, content_type: str) -> Response:
        emu = self.emulator
        segments = [unquote(s) for s in path.split("/") if s][2:]  # drop services/data
        version = api.VERSION.match(segments[0] if segments else "")
        if not version:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        user_id = self._session_user()
        if user_id is None:
            return Response(
                401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            )
        blobs: dict[str, tuple[str, bytes]] = {}
        if raw and multipart.is_multipart(content_type):
            parsed = multipart.parse(content_type, raw)
            body, blobs = parsed.fields, parsed.blobs
        else:
            body = _json(raw) if raw else None
        req = Request(
            self.command,
            path,
            segments[1:],
            version.group(1),
            params,
            body,
            {k.lower(): v for k, v in self.headers.items()},
            blobs,
        )
        kind, handler = api.route(req)
        if emu.latency_ms:  # outside the org lock: calls wait side by side, as on a real org
            time.sleep(emu.latency_ms / 1000)
        fault = emu.usage.pending_fault(self.command, path)
        if fault in ("503", "REQUEST_LIMIT_EXCEEDED"):
            raise fault_error(fault)
        emu.usage.charge(kind)
        if fault == "UNABLE_TO_LOCK_ROW":
            return _lock_failure(kind, req)
        org = emu.org
        with org.lock:
            org.running_user = user_id
            org.store.begin()
            try:
                response = handler(emu, req)
                wrote = org.store.wrote()
                events = org.store.written("Event")
                org.store.commit()
            except BaseException:
                org.store.rollback()
                raise
            finally:
                org.running_user = ""
            if events and emu.flow is not None:  # the Flow's asynchronous path, after commit
                emu.flow.after_commit([(old, org.store.get("Event", i)) for i, old in events],
                                      user_id)  # fmt: skip
        if wrote and emu.usage.lost_answer(self.command, path):
            raise fault_error(LOST_ANSWER)  # committed above: only the answer is lost
        response.headers["Sforce-Limit-Info"] = emu.usage.header()
        return response

    def _session_user(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return None
        emu = self.emulator
        return emu.sessions.user_for(token.strip(), emu.org.admin_user_id)

    def _send(self, response: Response) -> None:
        body: bytes
        content_type = response.headers.pop("Content-Type", "application/json;charset=UTF-8")
        if response.body is None:
            body = b""
        elif isinstance(response.body, bytes):
            body = response.body
        else:
            body = json.dumps(response.body, ensure_ascii=False).encode()
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None


def _lock_failure(kind: str, req: Request) -> Response:
    error = fault_error("UNABLE_TO_LOCK_ROW")
    if kind not in COLLECTION_KINDS:
        return Response(error.status, error.body())
    count = (
        len(req.params.get("ids", "").split(","))
        if kind == "collections_delete"
        else len((req.body or {}).get("records", []))
    )
    return Response(
        200,
        [{"id": None, "success": False, "errors": [error.collection_item()]} for _ in range(count)],
    )


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(emulator: Emulator, port: int, cert: str, key: str) -> Server:
    handler = type("BoundHandler", (Handler,), {"emulator": emulator})
    server = Server(("127.0.0.1", port), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    # handshake in the worker thread (first read), not in the accept loop
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    return server
