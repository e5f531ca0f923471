"""The Salesforce Flow's callout (R-21: seconds where the org adds calsync's Flow): who may call,
and what a call does.

The Flow calls through a Named Credential whose External Credential uses the JWT protocol: each
call carries `Authorization: Bearer <JWT>` that Salesforce signs with a certificate of the org's
Certificate and Key Management (RS256 or RS512; API-FACTS-2 §1.7). calsync checks it against that
certificate (exported by the admin into Secret Manager: no shared secret exists), its `aud`
against the webhook's own URL, its `iss` against the org's id, and its age: issued at most
`MAX_AGE` ago, valid for at most `MAX_LIFETIME` (Salesforce's default is 2 minutes), so a token
captured later is refused. The body names the org again, which must match.

A call is a hint, never data: it names an Event that changed, and calsync adds that id to the
owner's inbox and queues the owner's session, which reads the Event from Salesforce itself. A
replayed call inside the window can therefore only make a session read again. The poller stays
the safety net (a callout is sent once; a failed one is not retried).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from core import sf_routing
from core.model import SfEventState
from core.ports import MappingStore, SessionQueue, SettingsStore
from core.settings import resolve
from core.sf_routing import SfChange, Why

log = logging.getLogger("calsync.flow_callout")

ALGORITHMS = ["RS256", "RS512"]  # what a JWT External Credential signs with
MAX_AGE = 300  # seconds: a token older than this is refused
MAX_LIFETIME = 600  # seconds between iat and exp
LEEWAY = 30  # seconds of clock difference allowed
CHANGES = ("created", "updated", "deleted")
MAX_EVENTS = 200  # one call names at most this many Events


class CalloutRefused(Exception):
    """Not a call of this org's Flow: the message names why (never the token)."""


def public_keys(pem_text: str) -> list[Any]:
    """The RSA public keys of one or more PEM certificates (or public keys): two while an admin
    rotates the org's certificate."""
    keys = []
    for block in pem_text.split("-----END ")[:-1]:
        begin = block.rfind("-----BEGIN ")
        if begin < 0:
            continue
        kind = block[begin + len("-----BEGIN ") :].split("-----", 1)[0]
        pem = (block[begin:] + "-----END " + kind + "-----\n").encode()
        if kind == "CERTIFICATE":
            keys.append(x509.load_pem_x509_certificate(pem).public_key())
        elif kind == "PUBLIC KEY":
            keys.append(load_pem_public_key(pem))
    if not keys:
        raise ValueError("no certificate or public key in the Flow's certificate secret")
    return keys


def same_org(a: str, b: str) -> bool:
    """Org ids compared on their 15 case-sensitive characters (the 18-character form adds a
    checksum)."""
    return len(a) in (15, 18) and len(b) in (15, 18) and a[:15] == b[:15]


@dataclass
class FlowVerifier:
    keys: list[Any]
    org_id: str
    audience: str
    clock: Callable[[], float] = field(default=lambda: __import__("time").time())

    def verify(self, token: str) -> dict[str, Any]:
        if not token or token.count(".") != 2:
            raise CalloutRefused("no JWT")
        if not self.audience or not self.org_id:
            raise CalloutRefused("the webhook's audience or org id is not configured")
        claims: dict[str, Any] | None = None
        for key in self.keys:
            try:
                claims = jwt.decode(
                    token, key, algorithms=ALGORITHMS, audience=self.audience, leeway=LEEWAY,
                    options={"require": ["iss", "aud", "iat", "exp"], "verify_iat": False},
                )  # fmt: skip
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidTokenError as exc:
                raise CalloutRefused(f"token refused: {type(exc).__name__}") from None
        if claims is None:
            raise CalloutRefused("token not signed by the org's certificate")
        now = self.clock()
        issued, expires = _number(claims.get("iat")), _number(claims.get("exp"))
        if issued is None or expires is None:
            raise CalloutRefused("token without a time")
        if issued > now + LEEWAY or now - issued > MAX_AGE + LEEWAY:
            raise CalloutRefused("token issued outside the accepted window")
        if expires - issued > MAX_LIFETIME:
            raise CalloutRefused("token valid for too long")
        if not same_org(str(claims.get("iss", "")), self.org_id):
            raise CalloutRefused("token of another org")
        return claims


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class BadCallout(ValueError):
    """A call whose body is not what the Flow sends."""


def parse(body: Any, org_id: str) -> list[SfChange]:
    """The changes a call names: `{"orgId", "eventId", "ownerId", "change", "isChild",
    "lastModifiedById"}`, or `{"orgId", "events": [...]}` of those without orgId."""
    from infra.salesforce import valid_id

    if not isinstance(body, dict):
        raise BadCallout("the body must be a JSON object")
    if not same_org(str(body.get("orgId", "")), org_id):
        raise CalloutRefused("the body names another org")
    entries = body.get("events", [body])
    if not isinstance(entries, list) or not entries or len(entries) > MAX_EVENTS:
        raise BadCallout(f"events must be a list of 1 to {MAX_EVENTS} changes")
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadCallout("each change must be an object")
        event_id, owner = str(entry.get("eventId", "")), str(entry.get("ownerId") or "")
        change, by = entry.get("change"), str(entry.get("lastModifiedById") or "")
        if not valid_id(event_id) or not event_id.startswith("00U"):
            raise BadCallout("eventId must be an Event id")
        if (owner and not valid_id(owner)) or (by and not valid_id(by)):
            raise BadCallout("ownerId and lastModifiedById must be Salesforce ids")
        if change not in CHANGES:
            raise BadCallout(f"change must be one of {', '.join(CHANGES)}")
        out.append(SfChange(SfEventState(event_id, owner, deleted=change == "deleted"),
                            last_modified_by=by, is_child=entry.get("isChild") is True,
                            read=False))  # fmt: skip
    return out


@dataclass
class CalloutResult:
    routed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    queued: int = 0
    left: dict[str, int] = field(default_factory=dict)  # why → changes not routed here


@dataclass
class Callouts:
    """What an accepted call does: route by the owner and the mappings, as the poller does,
    add to the inboxes, queue the sessions."""

    settings: SettingsStore
    mappings: MappingStore
    queue: SessionQueue
    integration_user: Callable[[], str]  # calsync's SF User id, as the poller learnt it

    def handle(self, changes: Iterable[SfChange], now: datetime) -> CalloutResult:
        changes = list(changes)
        owner_ids = sorted({c.event.owner_sf_id for c in changes if c.event.owner_sf_id})
        owners = {u.sf_user_id: u.email for u in self.settings.users_with_sf_ids(owner_ids)
                  if u.enabled}  # fmt: skip
        settings, _ = resolve(self.settings.org_settings(), None, "org",
                              last_valid_org=self.settings.last_valid_org_settings())  # fmt: skip
        calendars = {e.sf_calendar_id for e in settings.sf_public_calendars}
        mapped: dict[str, list[Any]] = {}
        for m in self.mappings.for_sf_events({c.id for c in changes}):
            mapped.setdefault(m.sf_event_id, []).append(m)
        routes = sf_routing.route(changes, owners, mapped, self.integration_user(), calendars)
        result = CalloutResult(routed=routes.inboxes)
        for user, ids in routes.inboxes.items():
            self.settings.add_sf_changes(user, ids)
            result.queued += bool(self.queue.enqueue(user, now, reason="salesforce"))
        # Public calendars and calsync's own writes are the poller's (it reads the values).
        result.left = {w.value: n for w in Why if w is not Why.ROUTED if (n := routes.count(w))}
        return result
