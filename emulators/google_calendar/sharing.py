"""Secondary (group) calendars and sharing: calendars.insert/get, acl.insert/get/list/delete and
the calendarList entries they give.

A secondary calendar's id is `<random>@group.calendar.google.com`; its events live in the same
store as a primary calendar's, under that id. Who may do what follows the ACL (store.ROLES):
events need reader (read) or writer (write), acl.list/get writer, acl changes owner.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from . import errors
from .events import resolve_calendar
from .store import ROLES, SCOPE_TYPES, AclRule, Secondary, Store, rule_id

GROUP_DOMAIN = "group.calendar.google.com"
DEFAULT_TIME_ZONE = "UTC"


def new_calendar_id() -> str:
    """Google's form for calendars made today: `c_` and 64 hex digits, on the group domain."""
    return f"c_{hashlib.sha256(os.urandom(32)).hexdigest()}@{GROUP_DOMAIN}"


# --- calendars ---------------------------------------------------------------------------------


def insert_calendar(store: Store, actor: str, body: dict[str, Any]) -> dict[str, Any]:
    """calendars.insert: a new secondary calendar owned by the caller."""
    summary = body.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise errors.required("summary")
    with store.lock:
        calendar = Secondary(
            id=new_calendar_id(),
            summary=summary,
            time_zone=str(body.get("timeZone") or DEFAULT_TIME_ZONE),
            data_owner=actor,
            description=body.get("description"),
        )
        store.add_secondary(calendar)
        return calendar_resource(store, calendar.id)


def create_fixed(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """The admin endpoint: a secondary calendar with a chosen id and members (email → role).

    Creating it again adds or changes members; `owner` (optional) is its data owner."""
    calendar_id = str(body.get("id") or "").strip().lower()
    if "@" not in calendar_id or store.is_hosted(calendar_id):
        raise errors.bad_request("id must be an address outside the hosted domains.")
    members = body.get("members") or {}
    if not isinstance(members, dict):
        raise errors.bad_request("members must map addresses to roles.")
    roles = {str(email).lower(): _role(role) for email, role in members.items()}
    owner = str(body.get("owner") or "").lower()
    with store.lock:
        if calendar_id not in store.secondary:
            store.add_secondary(
                Secondary(
                    id=calendar_id,
                    summary=str(body.get("summary") or calendar_id.partition("@")[0]),
                    time_zone=str(body.get("timeZone") or DEFAULT_TIME_ZONE),
                    data_owner=owner,
                    description=body.get("description"),
                )
            )
        elif owner:
            store.set_rule(calendar_id, "user", owner, "owner")
        for email, role in roles.items():
            store.set_rule(calendar_id, "user", email, role)
        document = calendar_resource(store, calendar_id)
        document["acl"] = [rule_resource(r) for r in store.acls.get(calendar_id, {}).values()]
        return document


def get_calendar(store: Store, actor: str, calendar_id: str) -> dict[str, Any]:
    """calendars.get: any role (free/busy included) may see a calendar's metadata."""
    with store.lock:
        calendar = resolve_calendar(store, actor, calendar_id, "freeBusyReader")
        return calendar_resource(store, calendar)


def calendar_resource(store: Store, calendar: str) -> dict[str, Any]:
    secondary = store.secondary.get(calendar)
    if secondary is None:  # a primary calendar: named after its user, in UTC
        return {
            "kind": "calendar#calendar",
            "etag": '"1"',
            "id": calendar,
            "summary": calendar,
            "timeZone": "UTC",
        }
    document: dict[str, Any] = {
        "kind": "calendar#calendar",
        "etag": '"1"',
        "id": secondary.id,
        "summary": secondary.summary,
        "timeZone": secondary.time_zone,
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }
    if secondary.description is not None:
        document["description"] = secondary.description
    if secondary.data_owner:
        document["dataOwner"] = secondary.data_owner
    return document


def calendar_list(store: Store, actor: str) -> dict[str, Any]:
    """calendarList.list: the primary calendar, then each secondary calendar shared with the
    caller by name (Google adds those to the list; domain/public ones are not listed here)."""
    with store.lock:
        calendar = resolve_calendar(store, actor, "primary")
        primary = calendar_resource(store, calendar)
        primary.update(
            kind="calendar#calendarListEntry",
            primary=True,
            accessRole="owner",
            defaultReminders=[{"method": "popup", "minutes": 10}],
        )
        items = [primary]
        for secondary_id in store.secondary:
            rule = store.acls.get(secondary_id, {}).get(rule_id("user", actor))
            if rule is None or rule.role == "none":
                continue
            entry = calendar_resource(store, secondary_id)
            entry.pop("dataOwner", None)
            entry.update(
                kind="calendar#calendarListEntry",
                accessRole=store.role_of(secondary_id, actor),
                defaultReminders=[],
            )
            items.append(entry)
    return {"kind": "calendar#calendarList", "etag": '"1"', "items": items}


# --- acl ---------------------------------------------------------------------------------------


def insert_rule(store: Store, actor: str, calendar_id: str, body: dict[str, Any]) -> dict:
    """acl.insert: owners only; a rule for a scope that has one already replaces it."""
    role = body.get("role")
    if role is None:
        raise errors.required("role")
    role = _role(role)
    scope = body.get("scope")
    if not isinstance(scope, dict) or not scope.get("type"):
        raise errors.required("scope.type")
    scope_type = str(scope["type"])
    if scope_type not in SCOPE_TYPES:
        raise errors.bad_request("Invalid scope type.", location="scope.type")
    value = "" if scope_type == "default" else str(scope.get("value") or "").strip().lower()
    if scope_type != "default" and not value:
        raise errors.required("scope.value")
    with store.lock:
        calendar = resolve_calendar(store, actor, calendar_id, "owner")
        if scope_type == "user" and value == actor:
            # UNVERIFIED wording; Google refuses to let an owner change their own access.
            raise errors.forbidden("Cannot change your own access level.", "cannotChangeOwnAcl")
        if scope_type == "user" and value == calendar and calendar not in store.secondary:
            raise errors.forbidden("Cannot change the access level of the calendar's owner.")
        return rule_resource(store.set_rule(calendar, scope_type, value, role))


def list_rules(store: Store, actor: str, calendar_id: str) -> dict[str, Any]:
    """acl.list: writers may read a calendar's ACL (AclRule.role's description)."""
    with store.lock:
        calendar = resolve_calendar(store, actor, calendar_id, "writer")
        rules = [rule_resource(r) for r in _rules(store, calendar)]
    return {"kind": "calendar#acl", "etag": '"1"', "items": rules}


def get_rule(store: Store, actor: str, calendar_id: str, rule: str) -> dict[str, Any]:
    with store.lock:
        calendar = resolve_calendar(store, actor, calendar_id, "writer")
        for found in _rules(store, calendar):
            if found.id == rule:
                return rule_resource(found)
    raise errors.not_found()


def delete_rule(store: Store, actor: str, calendar_id: str, rule: str) -> None:
    with store.lock:
        calendar = resolve_calendar(store, actor, calendar_id, "owner")
        if rule == rule_id("user", actor):
            raise errors.forbidden("Cannot change your own access level.", "cannotChangeOwnAcl")
        if store.acls.get(calendar, {}).pop(rule, None) is None:
            raise errors.not_found()


def rule_resource(rule: AclRule) -> dict[str, Any]:
    scope = {"type": rule.scope_type}
    if rule.scope_type != "default":
        scope["value"] = rule.value
    return {
        "kind": "calendar#aclRule",
        "etag": f'"{1_000_000 + rule.seq}"',
        "id": rule.id,
        "scope": scope,
        "role": rule.role,
    }


def _rules(store: Store, calendar: str) -> list[AclRule]:
    """A primary calendar's ACL starts with its user's implicit owner rule."""
    rules = list(store.acls.get(calendar, {}).values())
    if calendar not in store.secondary:
        rules.insert(0, AclRule("user", calendar, "owner", 0))
    return rules


def _role(value: Any) -> str:
    if value not in ROLES:
        raise errors.bad_request(f"Invalid role: {value}", location="role")
    return str(value)
