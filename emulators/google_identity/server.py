"""The HTTP side: ID-token certificates, the IAM Credentials API, the metadata server, admin calls.

    GET  /oauth2/v1/certs                                        key id -> PEM certificate
    POST /v1/projects/-/serviceAccounts/{SA}:generateIdToken     {"audience", "includeEmail"}
    POST /v1/projects/-/serviceAccounts/{SA}:generateAccessToken {"scope": [...], "lifetime"}
    POST /v1/projects/-/serviceAccounts/{SA}:signBlob            {"payload": base64}
    POST /v1/projects/-/serviceAccounts/{SA}:signJwt             {"payload": "<JSON claims>"}
    POST /token                  OAuth refresh-token grant (a user's application-default login)
    GET  /computeMetadata/v1/... the metadata server of the instance calsync runs on
    POST /_admin/id_token        {claims} -> {"token"} (local stack and tests only)
    POST /_admin/grants          {"caller", "service_account"}: a Token Creator grant
    POST /_admin/addon_tokens    {"endpoint", "user"} -> the two tokens a Google Workspace add-on
                                 request carries (R-33)
    GET  /signin?client_id&login_uri&state   a local "Sign in with Google" page: type an address,
    POST /signin                 and it posts `credential` (an ID token for client_id) and
                                 `g_csrf_token` to login_uri, as Google Identity Services'
                                 redirect mode does (R-32)

Add-on tokens are minted the way Google mints them: the system ID token as the project's add-on
service agent (`--addon-agent`), `aud` the exact endpoint URL with its query; the user ID token
for the add-on's OAuth client (`--addon-client-id`) with the user's `email` and `hd`.

IAM methods are refused as IAM refuses them: 401 without a valid bearer token, 404 for an account
the emulator does not know, 403 without a Token Creator grant of the caller on the account (also
when an account signs as itself). Callers are `Bearer dev:<email>` or an access token this
emulator issued. The metadata server answers only requests with `Metadata-Flavor: Google`, and
puts that header on its answers, as Compute Engine and Cloud Run do.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from . import signin
from .accounts import Directory, Refused, sign_blob, sign_jwt
from .tokens import Issuer, service_account_token, user_claims

_IAM = re.compile(
    r"^/v1/projects/-/serviceAccounts/([^/:]+):"
    r"(generateIdToken|generateAccessToken|signBlob|signJwt)$"
)
_METADATA = "/computeMetadata/v1/"
_SA_PATH = re.compile(r"^instance/service-accounts/([^/]+)/?(email|token|identity|scopes)?$")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
REFRESH_PREFIX = "dev-refresh:"  # a local user's refresh token names the user


class Identity:
    """The emulator's state: the issuer, the accounts and grants, and the instance identity."""

    def __init__(
        self,
        issuer: Issuer,
        service_accounts: list[str],
        grants: list[tuple[str, str]],
        *,
        keys: list[tuple[str, str]] = (),  # type: ignore[assignment]
        instance_account: str = "",
        project: str = "calsync-local",
        addon_agent: str = "",
        addon_client_id: str = "",
    ):
        self.issuer = issuer
        self.addon_agent = addon_agent.lower()
        self.addon_client_id = addon_client_id
        self.directory = Directory()
        for email in service_accounts:
            self.directory.add_account(email)
        for email, key_path in keys:
            self.directory.add_account(email, key_path)
        for caller, account in grants:
            self.directory.grant(caller, account)
        self.instance_account = instance_account.lower()
        if self.instance_account:
            self.directory.add_account(self.instance_account)
        self.project = project
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}

    @property
    def service_accounts(self) -> set[str]:
        return set(self.directory.accounts)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, document or text, extra headers)."""
        parts = urlsplit(path)
        route, query = parts.path, parse_qs(parts.query)
        try:
            if route == "/" or route.startswith("/computeMetadata/"):
                return self._metadata(method, route, query, headers)
            status, doc = self._api(method, route, headers, body, path)
            return status, doc, {}
        except Refused as exc:
            return _error(exc.status, exc.reason, exc.message)

    def _api(
        self, method: str, route: str, headers: dict[str, str], body: bytes, path: str = ""
    ) -> tuple[int, Any]:
        if method == "GET" and route == "/oauth2/v1/certs":
            return 200, self.issuer.certs()
        if method == "POST" and (m := _IAM.match(route)):
            self._count(m.group(2))
            return self._iam(m.group(2), unquote(m.group(1)).lower(), headers, _json(body))
        if method == "POST" and route == "/token":
            return self._refresh(body)
        if method == "POST" and route == "/_admin/addon_tokens":
            return self._addon_tokens(_json(body))
        if route == "/signin" and method == "GET":
            return 200, signin.page(dict(parse_qsl(urlsplit(path).query)))
        if route == "/signin" and method == "POST":
            return self._signin(dict(parse_qsl(body.decode("utf-8", "replace"))))
        if method == "POST" and route == "/_admin/id_token":
            claims = _json(body)
            if not isinstance(claims, dict) or "aud" not in claims:
                raise Refused(400, "INVALID_ARGUMENT", "give the token's claims, with aud")
            self._count("mint")
            return 200, {"token": self.issuer.mint(claims)}
        if method == "POST" and route == "/_admin/grants":
            doc = _json(body)
            if not isinstance(doc, dict) or not doc.get("caller") or not doc.get("service_account"):
                raise Refused(400, "INVALID_ARGUMENT", "give caller and service_account")
            self.directory.add_account(str(doc["service_account"]))
            self.directory.grant(str(doc["caller"]), str(doc["service_account"]))
            return 200, {"ok": True}
        if method == "GET" and route == "/_admin/calls":
            with self.lock:
                calls = dict(self.calls)
            return 200, {"minted": calls.get("generateIdToken", 0) + calls.get("mint", 0), **calls}
        raise Refused(404, "NOT_FOUND", f"no such method: {method} {route}")

    def _count(self, name: str) -> None:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    # -- the add-on framework and Google sign-in (R-32, R-33) ------------------------------------

    def _addon_tokens(self, doc: Any) -> tuple[int, Any]:
        if not self.addon_agent or not self.addon_client_id:
            raise Refused(400, "FAILED_PRECONDITION",
                          "start the emulator with --addon-agent and --addon-client-id")  # fmt: skip
        if not isinstance(doc, dict) or not doc.get("endpoint") or "@" not in str(doc.get("user")):
            raise Refused(400, "INVALID_ARGUMENT", 'give {"endpoint": URL, "user": EMAIL}')
        user = str(doc["user"]).lower()
        system = service_account_token(self.issuer, self.addon_agent, str(doc["endpoint"]))
        person = self.issuer.mint(user_claims(user, self.addon_client_id))
        self._count("mint")
        self._count("mint")
        return 200, {"systemIdToken": system, "userIdToken": person}

    def _signin(self, form: dict[str, str]) -> tuple[int, Any]:
        problem = signin.problem(form)
        if problem:
            return 400, signin.page(form, problem)
        token = self.issuer.mint(user_claims(form["email"], form["client_id"]))
        self._count("mint")
        return 200, signin.post_back(form["login_uri"], token, form.get("state", ""))

    # -- IAM Credentials ------------------------------------------------------------------------

    def _iam(self, verb: str, account: str, headers: dict[str, str], doc: Any) -> tuple[int, Any]:
        caller = self.directory.caller(headers.get("authorization", ""))
        permission = {
            "generateIdToken": "iam.serviceAccounts.getOpenIdToken",
            "generateAccessToken": "iam.serviceAccounts.getAccessToken",
            "signBlob": "iam.serviceAccounts.signBlob",
            "signJwt": "iam.serviceAccounts.signJwt",
        }[verb]
        target = self.directory.account_for(caller, account, permission)
        doc = doc if isinstance(doc, dict) else {}
        if doc.get("delegates"):
            raise Refused(400, "INVALID_ARGUMENT", "delegation chains are not emulated")
        if verb == "generateIdToken":
            if not doc.get("audience"):
                raise Refused(400, "INVALID_ARGUMENT", "Audience is required.")
            return 200, {"token": service_account_token(self.issuer, target.email, doc["audience"])}
        if verb == "generateAccessToken":
            if not doc.get("scope"):
                raise Refused(400, "INVALID_ARGUMENT", "Scope is required.")
            token, lifetime = self.directory.issue(target.email)
            expires = datetime.now(UTC) + timedelta(seconds=lifetime)
            return 200, {"accessToken": token, "expireTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if verb == "signBlob":
            return 200, sign_blob(target, str(doc.get("payload", "")))
        return 200, sign_jwt(target, str(doc.get("payload", "")))

    def _refresh(self, body: bytes) -> tuple[int, Any]:
        """Google's OAuth token endpoint for a user's refresh token (`gcloud auth
        application-default login` stores one): `dev-refresh:<email>` names the local user."""
        form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if form.get("grant_type") != "refresh_token":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "Invalid grant_type",
            }
        token = form.get("refresh_token", "")
        if not token.startswith(REFRESH_PREFIX) or "@" not in token:
            return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
        access, lifetime = self.directory.issue(token[len(REFRESH_PREFIX) :])
        return 200, {"access_token": access, "expires_in": lifetime, "token_type": "Bearer",
                     "scope": CLOUD_PLATFORM}  # fmt: skip

    # -- the metadata server --------------------------------------------------------------------

    def _metadata(
        self, method: str, route: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        flavor = {"Metadata-Flavor": "Google"}
        if not self.instance_account:
            return 404, "no instance identity: start with --instance-account", {}
        if headers.get("metadata-flavor") != "Google":
            return 403, "Missing required header: Metadata-Flavor: Google", flavor
        if method != "GET":
            return 405, "Method not allowed", flavor
        if route == "/":
            return 200, "computeMetadata/\n", flavor
        path = route[len(_METADATA) :] if route.startswith(_METADATA) else None
        if path == "project/project-id":
            return 200, self.project, flavor
        if path == "universe/universe-domain":
            return 200, "googleapis.com", flavor
        match = _SA_PATH.match(path or "")
        if not match or match.group(1).lower() not in {"default", self.instance_account}:
            return 404, "Not Found", flavor
        email, leaf = self.instance_account, match.group(2)
        if leaf is None:
            info = {"aliases": ["default"], "email": email, "scopes": [CLOUD_PLATFORM]}
            return 200, info, flavor
        if leaf == "email":
            return 200, email, flavor
        if leaf == "scopes":
            return 200, CLOUD_PLATFORM + "\n", flavor
        if leaf == "token":
            self._count("metadataToken")
            token, lifetime = self.directory.issue(email)
            return (
                200,
                {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"},
                flavor,
            )
        audience = (query.get("audience") or [""])[0]
        if not audience:
            return 400, "non-empty audience parameter required", flavor
        return 200, service_account_token(self.issuer, email, audience), flavor


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return None


def _error(status: int, reason: str, message: str) -> tuple[int, Any, dict[str, str]]:
    # The shape of Google's JSON errors (google.rpc.Status in the REST mapping).
    return status, {"error": {"code": status, "message": message, "status": reason}}, {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    identity: Identity

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, document, extra = self.identity.handle(self.command, self.path, headers, body)
        if isinstance(document, signin.Html):
            data, kind = document.encode(), "text/html; charset=UTF-8"
        elif isinstance(document, str):
            data, kind = document.encode(), "application/text"
        else:
            data, kind = json.dumps(document).encode(), "application/json; charset=UTF-8"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for name, value in extra.items():
            self.send_header(name, value)
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
