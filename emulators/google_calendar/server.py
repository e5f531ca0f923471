"""The HTTP server: a threaded stdlib server that hands every request to `Api.handle`."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .api import Api, Response
from .auth import Authenticator
from .faults import Faults
from .push import PushHub
from .store import Store


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "calendar-emulator"
    api: Api
    verbose = False

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.api.handle(self.command, self.path, headers, body)
        except Exception as exc:  # noqa: BLE001 - answer 500 like the API, keep serving
            print(f"internal error on {self.command} {self.path}: {exc!r}", file=sys.stderr)
            from .errors import ApiError

            response = Response.error(ApiError(500, "backendError", "Backend Error"))
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        if self.verbose:
            super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def build(
    host: str,
    port: int,
    domains: list[str],
    public_keys: list[object],
    allow_dev_tokens: bool = True,
    verbose: bool = False,
    delegation: dict[str, frozenset[str]] | None = None,
) -> tuple[Server, Api]:
    store = Store(domains=frozenset(d.lower() for d in domains))
    handler = type("BoundHandler", (Handler,), {"verbose": verbose})
    server = Server((host, port), handler)
    base = f"http://{host}:{server.server_address[1]}"
    push = PushHub(api_base=base + "/calendar/v3")
    store.on_change = push.notify
    api = Api(store, Authenticator(public_keys, allow_dev_tokens, delegation), push, Faults())
    handler.api = api
    return server, api
