"""Turn a stored copy into the Event resource a given calendar sees (self flags, etag, defaults)."""

from __future__ import annotations

import base64
from typing import Any


def html_link(event_id: str, calendar: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def _person(value: dict[str, Any] | None, calendar: str) -> dict[str, Any] | None:
    if not value:
        return None
    person = dict(value)
    if str(person.get("email", "")).lower() == calendar:
        person["self"] = True
    return person


def render(
    data: dict[str, Any], calendar: str, etag: str, max_attendees: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "calendar#event", "etag": etag}
    out.update(data)
    out["htmlLink"] = html_link(data["id"], calendar)
    organizer_email = str(data.get("organizer", {}).get("email", "")).lower()
    for key in ("organizer", "creator"):
        person = _person(data.get(key), calendar)
        if person:
            out[key] = person
    if data.get("attendees"):
        attendees = []
        for attendee in data["attendees"]:
            entry = dict(attendee)
            email = entry["email"].lower()
            if email == organizer_email:
                entry["organizer"] = True
            if email == calendar:
                entry["self"] = True
            attendees.append(entry)
        if max_attendees is not None and len(attendees) > max_attendees:
            attendees = [a for a in attendees if a.get("self")][:1] or attendees[:max_attendees]
            out["attendeesOmitted"] = True
        out["attendees"] = attendees
    out.setdefault("reminders", {"useDefault": True})
    out.setdefault("eventType", "default")
    return out
