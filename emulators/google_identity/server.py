"""The HTTP side: the certificates, IAM Credentials `generateIdToken`, the add-on framework's
tokens, a "Sign in with Google" page, and admin minting.

    GET  /oauth2/v1/certs                      key id → PEM certificate (what verifiers fetch)
    POST /v1/projects/-/serviceAccounts/{SA}:generateIdToken   {"audience", "includeEmail"}
    POST /_admin/addon_tokens                  {"endpoint", "user"} → the two tokens a Google
                                               Workspace add-on request carries (R-33)
    GET  /signin?client_id&login_uri&state     a local sign-in page: type an address, and it
    POST /signin                               posts `credential` (an ID token for client_id)
                                               and `g_csrf_token` to login_uri, as Google
                                               Identity Services' redirect mode does (R-32)
    POST /_admin/id_token                      {claims} → {"token"} (local stack and tests only)

Add-on tokens are minted the way Google mints them: the system ID token as the project's add-on
service agent (`--addon-agent`), `aud` the exact endpoint URL with its query; the user ID token
for the add-on's OAuth client (`--addon-client-id`) with the user's `email` and `hd`.

generateIdToken is refused as IAM refuses it: 401 without a bearer token, 404 for a service
account the emulator does not know, 403 when the caller holds no Token Creator grant on it.
Callers are named by `Bearer dev:<email>` tokens (as in the Calendar emulator); grants are given
at start (`--grant CALLER=SERVICE_ACCOUNT`) or through POST /_admin/grants.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import signin
from .tokens import Issuer, service_account_token, user_claims

_GENERATE = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):generateIdToken$")


class Identity:
    """The emulator's state: the issuer, the known service accounts and who may sign as them,
    and the add-on's service agent and OAuth client."""

    def __init__(self, issuer: Issuer, service_accounts: list[str], grants: list[tuple[str, str]],
                 addon_agent: str = "", addon_client_id: str = ""):  # fmt: skip
        self.issuer = issuer
        self.service_accounts = {s.lower() for s in service_accounts}
        self.grants = {(c.lower(), s.lower()) for c, s in grants}
        self.addon_agent = addon_agent.lower()
        self.addon_client_id = addon_client_id
        self.lock = threading.Lock()
        self.minted = 0

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        route = urlsplit(path).path
        if method == "GET" and route == "/oauth2/v1/certs":
            return 200, self.issuer.certs()
        if method == "POST" and (m := _GENERATE.match(route)):
            return self._generate(unquote(m.group(1)).lower(), headers, _json(body))
        if method == "POST" and route == "/_admin/addon_tokens":
            return self._addon_tokens(_json(body))
        if route == "/signin" and method == "GET":
            return 200, signin.page(dict(parse_qsl(urlsplit(path).query)))
        if route == "/signin" and method == "POST":
            return self._signin(dict(parse_qsl(body.decode("utf-8", "replace"))))
        if method == "POST" and route == "/_admin/id_token":
            claims = _json(body)
            if not isinstance(claims, dict) or "aud" not in claims:
                return _error(400, "INVALID_ARGUMENT", "give the token's claims, with aud")
            return 200, {"token": self._count(self.issuer.mint(claims))}
        if method == "POST" and route == "/_admin/grants":
            doc = _json(body)
            with self.lock:
                self.service_accounts.add(str(doc["service_account"]).lower())
                self.grants.add((str(doc["caller"]).lower(), str(doc["service_account"]).lower()))
            return 200, {"ok": True}
        if method == "GET" and route == "/_admin/calls":
            return 200, {"minted": self.minted}
        return _error(404, "NOT_FOUND", f"no such method: {method} {route}")

    def _generate(self, account: str, headers: dict[str, str], doc: Any) -> tuple[int, Any]:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer dev:"):
            return _error(
                401, "UNAUTHENTICATED", "Request is missing required authentication credential."
            )
        caller = auth.removeprefix("Bearer dev:").strip().lower()
        if account not in self.service_accounts:
            return _error(404, "NOT_FOUND", f"Not found; Gaia id not found for email {account}")
        if (caller, account) not in self.grants:
            return _error(403, "PERMISSION_DENIED",
                          "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource "
                          "(or it may not exist).")  # fmt: skip
        audience = doc.get("audience") if isinstance(doc, dict) else None
        if not audience:
            return _error(400, "INVALID_ARGUMENT", "Audience is required.")
        return 200, {"token": self._count(service_account_token(self.issuer, account, audience))}

    def _addon_tokens(self, doc: Any) -> tuple[int, Any]:
        if not self.addon_agent or not self.addon_client_id:
            return _error(400, "FAILED_PRECONDITION",
                          "start the emulator with --addon-agent and --addon-client-id")  # fmt: skip
        if not isinstance(doc, dict) or not doc.get("endpoint") or "@" not in str(doc.get("user")):
            return _error(400, "INVALID_ARGUMENT", 'give {"endpoint": URL, "user": EMAIL}')
        user = str(doc["user"]).lower()
        system = service_account_token(self.issuer, self.addon_agent, str(doc["endpoint"]))
        person = self.issuer.mint(user_claims(user, self.addon_client_id))
        self._count(system)
        return 200, {"systemIdToken": system, "userIdToken": self._count(person)}

    def _signin(self, form: dict[str, str]) -> tuple[int, Any]:
        problem = signin.problem(form)
        if problem:
            return 400, signin.page(form, problem)
        token = self._count(self.issuer.mint(user_claims(form["email"], form["client_id"])))
        return 200, signin.post_back(form["login_uri"], token, form.get("state", ""))

    def _count(self, token: str) -> str:
        with self.lock:
            self.minted += 1
        return token


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return None


def _error(status: int, reason: str, message: str) -> tuple[int, Any]:
    # The shape of Google's JSON errors (google.rpc.Status in the REST mapping).
    return status, {"error": {"code": status, "message": message, "status": reason}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    identity: Identity

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, document = self.identity.handle(self.command, self.path, headers, body)
        page = isinstance(document, signin.Html)
        data = document.encode() if page else json.dumps(document).encode()
        self.send_response(status)
        kind = "text/html" if page else "application/json"
        self.send_header("Content-Type", f"{kind}; charset=UTF-8")
        if self.path.startswith("/oauth2/v1/certs"):
            self.send_header("Cache-Control", "public, max-age=300")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True


def build(host: str, port: int, identity: Identity) -> Server:
    handler = type("BoundHandler", (_Handler,), {"identity": identity})
    return Server((host, port), handler)
