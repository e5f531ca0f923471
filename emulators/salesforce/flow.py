"""The record-triggered Flow on Event that calsync ships (salesforce/), played by the emulator.

After each committed create and update of a top-level Event (not an invitee's child event) by a
user the Flow's entry condition lets through (not calsync's integration user, which
holds the `Calsync_Integration` custom permission), the Flow's asynchronous path calls calsync's
webhook through its Named Credential: an HTTPS POST whose `Authorization` header carries a JWT
that Salesforce signs with the org's certificate (RS256, `iss`, `aud`, `iat`, `exp`; API-FACTS-2
§1.7), and the change as JSON. Like the real async path it runs after commit, a little later
(`delay_ms`), once, with no retry: a lost callout is the poller's to find. Deletes send nothing,
as in a real org: a Flow triggered by a delete runs before the delete, on the synchronous path
only, where Salesforce forbids callouts; deletes reach calsync through the poll (queryAll's
IsDeleted rows, getDeleted).

Configured through `POST /_admin/flow`; `GET /_admin/flow` lists what was sent.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .errors import bad_request
from .store import Record
from .timeutil import format_datetime

SENT_KEPT = 1000  # the last callouts kept for GET /_admin/flow
TIMEOUT = 10.0  # seconds: Salesforce's callout timeout is 10 s by default


@dataclass
class FlowConfig:
    url: str = ""  # the Named Credential's URL: calsync's salesforce_webhook
    issuer: str = ""  # the JWT's iss ("" = the org id, as docs/deploy.md has the admin set it)
    audience: str = ""  # the JWT's aud ("" = the URL)
    subject: str = "calsync-flow"
    delay_ms: int = 200  # the asynchronous path runs after commit, in a queue of its own
    expiry_seconds: int = 120  # Salesforce's default JWT lifetime: 2 minutes
    skip_users: tuple[str, ...] = ()  # users the entry condition keeps out (default: calsync's)
    enabled: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url, "issuer": self.issuer, "audience": self.audience,
            "subject": self.subject, "delay_ms": self.delay_ms,
            "expiry_seconds": self.expiry_seconds, "skip_users": list(self.skip_users),
            "enabled": self.enabled,
        }  # fmt: skip


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    body: dict[str, Any] = field(compare=False)


class FlowPlayer:
    """Holds the org's signing certificate and the Flow's configuration; sends the callouts
    from one worker thread, in commit order."""

    def __init__(self, key_pem: str | None = None, cert_pem: bytes | None = None) -> None:
        if key_pem is None or cert_pem is None:
            from emulators.keys import keypair

            key_pem, cert_pem = keypair("calsync-local-salesforce-org")
        self.key_pem = key_pem
        self.cert_pem = cert_pem
        x509.load_pem_x509_certificate(cert_pem)  # refuse a broken certificate at start
        serialization.load_pem_private_key(key_pem.encode(), password=None)
        self.config = FlowConfig()
        self.org_id = ""
        self.sent: list[dict[str, Any]] = []
        self._due: list[_Due] = []
        self._seq = itertools.count()
        self._lock = threading.Condition()
        self._http = requests.Session()
        self._http.trust_env = False  # a proxy from the environment must not carry the callout
        threading.Thread(target=self._work, name="flow-callouts", daemon=True).start()

    # -- configuration ------------------------------------------------------------------
    def configure(self, body: Any, org_id: str, integration_user: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("INVALID_INPUT", "give the Flow's settings as an object")
        known = set(FlowConfig.__dataclass_fields__)
        unknown = sorted(set(body) - known)
        if unknown:
            raise bad_request("INVALID_INPUT", f"unknown Flow settings: {', '.join(unknown)}")
        with self._lock:
            config = FlowConfig(**{**self.config.__dict__, **body})
            if "skip_users" not in body and not self.config.skip_users:
                config.skip_users = (integration_user,)
            config.skip_users = tuple(config.skip_users)
            if config.enabled and not config.url.startswith(("http://", "https://")):
                raise bad_request("INVALID_INPUT", "an enabled Flow needs the webhook's url")
            if not 0 <= int(config.delay_ms) <= 600_000:
                raise bad_request("INVALID_INPUT", "delay_ms must be 0 to 600000")
            self.config = config
            self.org_id = org_id
            return self.describe()

    def describe(self) -> dict[str, Any]:
        return {**self.config.describe(), "org_id": self.org_id}

    def reset(self) -> None:
        with self._lock:
            self.config = FlowConfig()
            self.sent.clear()
            self._due.clear()

    # -- after each committed API transaction -------------------------------------------
    def after_commit(self, changes: list[tuple[Record | None, Record | None]],
                     running_user: str) -> None:  # fmt: skip
        """`changes`: (before, after) of every Event the transaction wrote."""
        config = self.config
        if not config.enabled or running_user in config.skip_users:
            return
        bodies = []
        for before, after in changes:
            kind = _change(before, after)
            if kind is None or (after or before or {}).get("IsChild"):
                continue  # the entry condition: IsChild = false
            rec = after or before
            assert rec is not None
            bodies.append({
                "orgId": self.org_id, "eventId": rec["Id"], "ownerId": rec.get("OwnerId"),
                "change": kind, "isChild": False,
                "lastModifiedById": rec.get("LastModifiedById"),
                "systemModstamp": format_datetime(rec["SystemModstamp"]),
            })  # fmt: skip
        if not bodies:
            return
        at = time.monotonic() + config.delay_ms / 1000
        with self._lock:
            for body in bodies:
                heapq.heappush(self._due, _Due(at, next(self._seq), body))
            self._lock.notify()

    # -- the worker -----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._due or self._due[0].at > time.monotonic():
                    wait = self._due[0].at - time.monotonic() if self._due else None
                    self._lock.wait(wait)
                due = heapq.heappop(self._due)
                config = self.config
            self._send(config, due.body)

    def token(self, config: FlowConfig | None = None, now: float | None = None) -> str:
        """The JWT the Named Credential's External Credential mints for one callout."""
        config = config or self.config
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": config.issuer or self.org_id,
            "sub": config.subject,
            "aud": config.audience or config.url,
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(config.expiry_seconds),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.key_pem, algorithm="RS256", headers={"typ": "JWT"})

    def _send(self, config: FlowConfig, body: dict[str, Any]) -> None:
        record = {"event_id": body["eventId"], "change": body["change"], "status": 0,
                  "sent_at": time.time()}  # fmt: skip
        try:
            answer = self._http.post(config.url, json=body, timeout=TIMEOUT,
                                     headers={"Authorization": f"Bearer {self.token(config)}"})  # fmt: skip
            record["status"] = answer.status_code
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__  # the flow fails; the admin gets an email
        with self._lock:
            self.sent.append(record)
            del self.sent[:-SENT_KEPT]


def _change(before: Record | None, after: Record | None) -> str | None:
    if after is None:
        return None
    if before is None:
        return None if after.get("IsDeleted") else "created"
    if after.get("IsDeleted"):
        return None  # a delete-triggered Flow has no asynchronous path: no callout
    return "updated"
