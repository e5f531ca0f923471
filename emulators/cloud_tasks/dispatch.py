"""Sending one attempt of a task: the OIDC token, the request Cloud Tasks makes, the outcome.

The token comes from IAM Credentials' generateIdToken for the task's service account, called as
the Cloud Tasks service agent (which needs a Token Creator grant there, as in Google Cloud), and
is reused until shortly before it expires.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from google.cloud import tasks_v2

TOKEN_REUSE = 50 * 60  # ID tokens live an hour; a fresh one is fetched 10 minutes before that
# Headers Cloud Tasks computes, replaces or keeps for Google's own use (HttpRequest.headers).
DROPPED = ("host", "content-length", "user-agent")
DROPPED_PREFIXES = ("x-google-", "x-appengine-", "x-cloudtasks-")
USER_AGENT = "Google-Cloud-Tasks"


class SignError(Exception):
    """generateIdToken refused or failed; the attempt fails without reaching the target."""


class Signer:
    """ID tokens for service accounts, obtained as the Cloud Tasks service agent."""

    def __init__(self, identity_url: str, agent: str):
        self.identity_url = identity_url.rstrip("/")
        self.agent = agent
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._http = requests.Session()
        self._http.trust_env = False
        self.minted = 0

    def token(self, account: str, audience: str) -> str:
        key = (account.lower(), audience)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
        url = f"{self.identity_url}/v1/projects/-/serviceAccounts/{quote(account)}:generateIdToken"
        try:
            answer = self._http.post(
                url,
                json={"audience": audience, "includeEmail": True},
                headers={"Authorization": f"Bearer dev:{self.agent}"},
                timeout=10,
            )
        except requests.RequestException as exc:
            raise SignError(f"IAM unreachable: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            try:
                message = answer.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = answer.text[:200]
            raise SignError(f"generateIdToken for {account}: HTTP {answer.status_code}: {message}")
        token = str(answer.json()["token"])
        with self._lock:
            self._cache[key] = (time.monotonic() + TOKEN_REUSE, token)
            self.minted += 1
        return token


@dataclass(frozen=True)
class Outgoing:
    """The HTTP request of one attempt, with the queue's overrides applied."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    deadline: float
    oidc_account: str = ""
    oidc_audience: str = ""


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the target's HTTP status; None when no answer came
    reason: str  # for X-CloudTasks-TaskRetryReason and the attempt's response_status
    retry_after: float = 0.0
    dispatched: bool = True  # False when the attempt never left (no token)


def outgoing(task: tasks_v2.Task, queue: tasks_v2.Queue) -> Outgoing:
    """What the attempt sends: the task's request, overridden by the queue's HTTP target."""
    request = task.http_request
    target = queue.http_target
    method = tasks_v2.HttpMethod(target.http_method or request.http_method or 1).name
    headers = {k: v for k, v in request.headers.items() if not _dropped(k)}
    for override in target.header_overrides:
        if not _dropped(override.header.key):
            headers[override.header.key] = override.header.value
    url = _override_uri(request.url, target.uri_override) if target.uri_override else request.url
    oidc = target.oidc_token if "oidc_token" in target else request.oidc_token
    account = oidc.service_account_email if oidc else ""
    audience = (oidc.audience or url) if oidc else ""
    return Outgoing(method, url, headers, bytes(request.body), task.dispatch_deadline.total_seconds(),
                    account, audience)  # fmt: skip


def _dropped(name: str) -> bool:
    lowered = name.lower()
    return lowered in DROPPED or lowered.startswith(DROPPED_PREFIXES)


def _override_uri(url: str, override: tasks_v2.UriOverride) -> str:
    mode = override.uri_override_enforce_mode
    if mode == tasks_v2.UriOverride.UriOverrideEnforceMode.IF_NOT_EXISTS:
        return url  # every task here has its own URL, so the queue's never applies
    parts = urlsplit(url)
    scheme = {1: "http", 2: "https"}.get(int(override.scheme or 0), parts.scheme)
    host = override.host if "host" in override else (parts.hostname or "")
    port = parts.port
    if "port" in override:
        port = override.port or None
    netloc = host + (f":{port}" if port else "")
    path = override.path_override.path if "path_override" in override else parts.path
    query = override.query_override.query_params if "query_override" in override else parts.query
    return urlunsplit((scheme, netloc, path, query, ""))


def send(out: Outgoing, headers: dict[str, str], signer: Signer | None,
         http: requests.Session) -> Outcome:  # fmt: skip
    """One attempt; never raises."""
    headers = {**out.headers, **headers, "User-Agent": USER_AGENT}
    if out.oidc_account:
        if signer is None:
            return Outcome(None, "OIDC token requested but no IAM configured", dispatched=False)
        try:
            headers["Authorization"] = "Bearer " + signer.token(out.oidc_account, out.oidc_audience)
        except SignError as exc:
            return Outcome(None, str(exc), dispatched=False)
    try:
        answer = http.request(out.method, out.url, headers=headers, data=out.body or None,
                              timeout=out.deadline, allow_redirects=True)  # fmt: skip
    except requests.Timeout:
        return Outcome(None, "DEADLINE_EXCEEDED")
    except requests.RequestException as exc:
        return Outcome(None, f"UNAVAILABLE: {type(exc).__name__}")
    retry_after = _retry_after(answer.headers.get("Retry-After", ""))
    try:
        phrase = HTTPStatus(answer.status_code).phrase
    except ValueError:
        phrase = f"HTTP {answer.status_code}"
    return Outcome(answer.status_code, phrase, retry_after)


def _retry_after(value: str) -> float:
    value = value.strip()
    if not value:
        return 0.0
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 0.0
