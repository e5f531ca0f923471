"""Validation and clean-up of client-written Event fields, following the API's documented rules."""

from __future__ import annotations

import re
from typing import Any

from . import recurrence
from .errors import ApiError, bad_request, required
from .times import parse_event_time

# Fields each attendee controls on their own copy; everything else is the organiser's.
PER_COPY_FIELDS = ("colorId", "reminders", "transparency")
ORGANIZER_ONLY_FIELDS = ("guestsCanModify", "guestsCanInviteOthers", "guestsCanSeeOtherGuests")
# Never taken from a request body (the server owns them, or they are fixed at creation).
READ_ONLY_FIELDS = frozenset(
    {
        "kind",
        "etag",
        "htmlLink",
        "created",
        "updated",
        "creator",
        "organizer",
        "hangoutLink",
        "locked",
        "privateCopy",
        "recurringEventId",
        "originalStartTime",
        "id",
        "iCalUID",
    }
)

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
COLOR_IDS = frozenset(str(n) for n in range(1, 12))
ENUMS = {
    "status": ("confirmed", "tentative", "cancelled"),
    "transparency": ("opaque", "transparent"),
    "visibility": ("default", "public", "private", "confidential"),
    "eventType": (
        "default",
        "outOfOffice",
        "focusTime",
        "workingLocation",
        "birthday",
        "fromGmail",
    ),
}
RESPONSES = ("needsAction", "declined", "tentative", "accepted")
PROP_KEY_MAX = 44
PROP_VALUE_MAX = 1024
PROPS_MAX_COUNT = 300
PROPS_MAX_BYTES = 32 * 1024
ATTACHMENTS_MAX = 25
REMINDERS_MAX = 5


def check_event_id(event_id: Any) -> str:
    if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        raise bad_request("Invalid resource id value.")
    return event_id


def clean_properties(props: Any) -> dict[str, dict[str, str]] | None:
    """Drop keys over 44 characters and cut values at 1024, silently, as the API does."""
    if props is None:
        return None
    if not isinstance(props, dict):
        raise bad_request("Invalid value for: extendedProperties")
    cleaned: dict[str, dict[str, str]] = {}
    for scope in ("private", "shared"):
        values = props.get(scope)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise bad_request(f"Invalid value for: extendedProperties.{scope}")
        kept = {}
        for key, value in values.items():
            if len(key) > PROP_KEY_MAX:
                continue
            kept[key] = None if value is None else str(value)[:PROP_VALUE_MAX]
        cleaned[scope] = kept
    return cleaned


def property_totals(props: dict[str, Any] | None, scopes: tuple[str, ...]) -> tuple[int, int]:
    """(count, bytes of keys+values) of the given scopes of one copy's extendedProperties."""
    count = size = 0
    for scope in scopes:
        for key, value in ((props or {}).get(scope) or {}).items():
            count += 1
            size += len(key.encode()) + len(str(value).encode())
    return count, size


def check_property_limits(copies_props: list[dict[str, Any] | None]) -> None:
    """300 properties and 32 kB per event, counting shared once and private on every copy."""
    count, size = property_totals(copies_props[0] if copies_props else None, ("shared",))
    for props in copies_props:
        more_count, more_size = property_totals(props, ("private",))
        count, size = count + more_count, size + more_size
    if count > PROPS_MAX_COUNT or size > PROPS_MAX_BYTES:
        raise bad_request(
            "The event's extended properties exceed the limit of 300 properties or 32 kB "
            "(counted over the shared properties and the private ones of every copy)."
        )


def _check_attendees(attendees: Any) -> list[dict[str, Any]]:
    if not isinstance(attendees, list):
        raise bad_request("Invalid value for: attendees")
    seen = set()
    result = []
    for attendee in attendees:
        if not isinstance(attendee, dict) or not attendee.get("email"):
            raise required("attendee email")
        entry = {k: v for k, v in attendee.items() if k not in ("self", "organizer", "id")}
        entry["email"] = str(attendee["email"]).strip()
        email = entry["email"].lower()
        if email in seen:
            continue
        seen.add(email)
        status = entry.setdefault("responseStatus", "needsAction")
        if status not in RESPONSES:
            raise bad_request("Invalid attendee response status.")
        result.append(entry)
    return result


def _check_reminders(reminders: Any) -> dict[str, Any]:
    if not isinstance(reminders, dict):
        raise bad_request("Invalid value for: reminders")
    overrides = reminders.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(x, dict) for x in overrides):
        raise bad_request("Invalid value for: reminders.overrides")
    if len(overrides) > REMINDERS_MAX:
        raise bad_request(
            "Cannot specify more than 5 override reminders.", "cannotSetMoreThan5Reminders"
        )
    for item in overrides:
        if item.get("method") not in ("email", "popup"):
            raise bad_request("Invalid reminder method.")
        minutes = item.get("minutes")
        if not isinstance(minutes, int) or not 0 <= minutes <= 40320:
            raise bad_request("Invalid reminder minutes.")
    if reminders.get("useDefault") and overrides:
        raise bad_request("Cannot specify both default reminders and overrides at the same time.")
    return reminders


def _check_attachments(attachments: Any) -> list[dict[str, Any]]:
    if not isinstance(attachments, list):
        raise bad_request("Invalid value for: attachments")
    if len(attachments) > ATTACHMENTS_MAX:
        raise bad_request("An event can have at most 25 attachments.")
    for item in attachments:
        if not isinstance(item, dict) or not item.get("fileUrl"):
            raise required("attachment fileUrl")
    return attachments


def validate(data: dict[str, Any]) -> dict[str, Any]:
    """Check a complete event resource (after a patch is merged); returns the cleaned resource."""
    for name, allowed in ENUMS.items():
        if name in data and data[name] is not None and data[name] not in allowed:
            raise bad_request(f"Invalid value for: {name}")
    if data.get("colorId") is not None and str(data["colorId"]) not in COLOR_IDS:
        raise bad_request("Invalid value for: colorId")
    start = parse_event_time(data.get("start"), "start")
    end = parse_event_time(data.get("end"), "end")
    if start.all_day != end.all_day:
        raise bad_request("Start and end times must either both be date or both be dateTime.")
    if end.moment < start.moment or (start.all_day and end.moment == start.moment):
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
    if data.get("recurrence"):
        data["recurrence"] = recurrence.validate(data["recurrence"])
        recurrence.Expander(start, data["recurrence"])  # fails early on a bad rule
    if data.get("recurrence") == []:
        del data["recurrence"]
    if data.get("attendees") is not None:
        data["attendees"] = _check_attendees(data["attendees"])
    if data.get("reminders") is not None:
        data["reminders"] = _check_reminders(data["reminders"])
    if data.get("attachments") is not None:
        data["attachments"] = _check_attachments(data["attachments"])
    if "extendedProperties" in data:
        props = clean_properties(data["extendedProperties"])
        if props is None:
            del data["extendedProperties"]
        else:
            props = {s: {k: v for k, v in p.items() if v is not None} for s, p in props.items()}
            data["extendedProperties"] = props
    return {k: v for k, v in data.items() if v is not None}


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: named fields replace, extendedProperties merge per key (null deletes)."""
    merged = dict(current)
    for key, value in patch.items():
        if key in READ_ONLY_FIELDS:
            continue
        if key == "extendedProperties" and isinstance(value, dict):
            props = {s: dict(p) for s, p in (current.get(key) or {}).items()}
            cleaned = clean_properties(value) or {}
            for scope, values in cleaned.items():
                target = props.setdefault(scope, {})
                for k, v in values.items():
                    if v is None:
                        target.pop(k, None)
                    else:
                        target[k] = v
            merged[key] = props
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def writable(body: dict[str, Any]) -> dict[str, Any]:
    """The part of a request body a client may write with insert/update."""
    return {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
