"""Attendee copies: one event seen from the organiser's and each hosted attendee's calendar.

The organiser's copy (a user's or a secondary calendar's) owns the shared data and pushes it to every hosted attendee's copy (same id
and iCalUID). Each copy keeps its own colorId, reminders, transparency and private extended
properties. Attendees' responseStatus flows from their copy to every other copy.
"""

from __future__ import annotations

import copy as copying
from typing import Any

from .fields import PER_COPY_FIELDS, check_property_limits
from .store import Copy, Store


def hosted_attendees(store: Store, data: dict[str, Any]) -> list[str]:
    """Addresses of attendees who get a copy: with a calendar here (a hosted user or a secondary
    calendar), not the organiser, not a room."""
    organizer = str(data.get("organizer", {}).get("email", "")).lower()
    emails = []
    for attendee in data.get("attendees") or []:
        email = attendee["email"].lower()
        if email != organizer and not attendee.get("resource") and store.has_calendar(email):
            emails.append(email)
    return emails


def attendee_view(shared: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """An attendee's copy: the organiser's shared data plus the attendee's own per-copy fields."""
    data = {k: copying.deepcopy(v) for k, v in shared.items() if k not in PER_COPY_FIELDS}
    data.pop("extendedProperties", None)
    props: dict[str, dict[str, str]] = {}
    shared_props = (shared.get("extendedProperties") or {}).get("shared")
    if shared_props:
        props["shared"] = dict(shared_props)
    if existing is not None:
        for name in PER_COPY_FIELDS:
            if name in existing:
                data[name] = copying.deepcopy(existing[name])
        private = (existing.get("extendedProperties") or {}).get("private")
        if private:
            props["private"] = dict(private)
        if "created" in existing:
            data["created"] = existing["created"]
    elif "transparency" in shared:
        data["transparency"] = shared["transparency"]
    if props:
        data["extendedProperties"] = props
    return data


def response_of(data: dict[str, Any], email: str) -> str | None:
    for attendee in data.get("attendees") or []:
        if attendee["email"].lower() == email:
            return str(attendee.get("responseStatus", "needsAction"))
    return None


def group(store: Store, copy_data: dict[str, Any], calendar: str) -> list[tuple[str, Copy]]:
    """Every stored copy of this event (organiser's and hosted attendees'), except `calendar`'s."""
    event_id = copy_data["id"]
    organizer = str(copy_data.get("organizer", {}).get("email", "")).lower()
    owners = [organizer] if store.has_calendar(organizer) else []
    owners += hosted_attendees(store, copy_data)
    found = []
    for owner in dict.fromkeys(owners):
        if owner == calendar:
            continue
        other = store.get(owner, event_id)
        if other is not None and other.organizer == organizer:
            found.append((owner, other))
    return found


def check_limits(store: Store, calendar: str, data: dict[str, Any]) -> None:
    """Extended property limits across all copies, with `data` as `calendar`'s new version."""
    props = [data.get("extendedProperties")]
    props += [c.data.get("extendedProperties") for _, c in group(store, data, calendar)]
    check_property_limits(props)
