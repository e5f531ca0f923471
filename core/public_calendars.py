"""R-25: Events of the Salesforce public calendars an admin lists (`sf_public_calendars`), copied
one way into the Google calendar named for each, with the colour given for each.

One way: calsync writes the copies and never reads them back; an edit made to a copy in Google
is overwritten by the next change in Salesforce, and deleting a copy in Google does not touch
Salesforce. Every copy has an event id derived from its calendar and its SF Event (Google takes a
client-chosen base32hex id), so a retried create finds the copy an earlier attempt made instead
of making a second one. New copies are made for Events inside the sliding window (R-05's);
copies that exist follow their Event wherever it moves, and go when it is deleted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from core import fields, series
from core.fields import EventTime
from core.model import SfEventState
from core.settings import PublicCalendar, Settings

RULE = "R-25"
PRIVATE_TITLE = "Busy"  # a private Event of a public calendar shows only that it is busy
MARK = "calsync_public"  # private property: the SF Event a copy was made from
MAX_DESCRIPTION = 8_000  # Google's limit on an event's description is about 8 KB


def copy_id(google_calendar: str, sf_event_id: str) -> str:
    """The Google event id of one Event's copy in one calendar: base32hex (0-9, a-v), the
    alphabet Google allows for client-chosen ids, stable across retries."""
    digest = hashlib.sha256(f"{google_calendar.lower()}\n{sf_event_id}".encode()).digest()
    return "csp" + base64.b32hexencode(digest).decode().rstrip("=").lower()[:40]


@dataclass(frozen=True)
class CopyBody:
    """What a copy holds, in Google's terms."""

    summary: str
    start: EventTime
    end: EventTime
    location: str
    description: str
    transparent: bool  # ShowAs Free
    private: bool
    color_id: str
    sf_event_id: str

    @property
    def fingerprint(self) -> str:
        """A hash of everything written: a copy whose Event still gives the same hash is left
        alone (calsync never reads the copy to compare)."""
        parts = [self.summary, _time_text(self.start), _time_text(self.end), self.location,
                 self.description, str(self.transparent), str(self.private), self.color_id,
                 self.sf_event_id]  # fmt: skip
        return fields.digest(json.dumps(parts))


def _time_text(t: EventTime) -> str:
    if t.date is not None:
        return t.date.isoformat()
    return t.date_time.isoformat() if t.date_time is not None else ""


@dataclass(frozen=True)
class StoredCopy:
    """A copy calsync made: where it is, and the fingerprint of what it wrote."""

    sf_calendar_id: str
    google_calendar: str
    sf_event_id: str
    event_id: str
    fingerprint: str
    writer: str = ""


@dataclass(frozen=True)
class CopyWrite:
    """One write of a copy: "create" (insert with the copy's id), "update" (the whole body) or
    "delete"."""

    action: str
    calendar: PublicCalendar
    sf_event_id: str
    event_id: str
    body: CopyBody | None = None
    rule: str = RULE

    def describe(self) -> str:
        return (f"{self.action} the copy of SF Event {self.sf_event_id} in "
                f"{self.calendar.google_calendar}")  # fmt: skip


def copy_body(event: SfEventState, entry: PublicCalendar) -> CopyBody:
    """The copy of `event` in `entry`'s Google calendar, with `entry`'s colour."""
    times = fields.google_when(event, "")
    private = event.is_private
    return CopyBody(
        summary=PRIVATE_TITLE if private else (event.subject or fields.NO_TITLE),
        start=times["start"],
        end=times["end"],
        location="" if private else event.location,
        description="" if private else fields.cut(event.description, MAX_DESCRIPTION),
        transparent=event.show_as == "Free",
        private=private,
        color_id=entry.color,
        sf_event_id=event.sf_event_id,
    )


def _inside(event: SfEventState, settings: Settings, now: datetime) -> bool:
    lo, hi = series.window(settings, now)
    start = event.start_utc
    if start is None and event.activity_date is not None:
        start = datetime.combine(event.activity_date, datetime.min.time(), lo.tzinfo)
    return start is not None and lo <= start <= hi


def plan(events: Iterable[SfEventState], stored: Sequence[StoredCopy], settings: Settings,
         now: datetime) -> list[CopyWrite]:  # fmt: skip
    """The writes that bring the copies of these Events in line with them. `stored`: every copy
    calsync holds of these Event ids (in any calendar)."""
    entries = settings.sf_public_calendars
    by_event: dict[str, list[StoredCopy]] = {}
    for copy in stored:
        by_event.setdefault(copy.sf_event_id, []).append(copy)
    out: list[CopyWrite] = []
    for event in sorted(events, key=lambda e: e.sf_event_id):
        have: dict[str, StoredCopy | None] = {
            c.google_calendar: c for c in by_event.get(event.sf_event_id, ())
        }
        wanted = (
            [] if event.deleted else [e for e in entries if e.sf_calendar_id == event.owner_sf_id]
        )
        for entry in wanted:
            body = copy_body(event, entry)
            found = have.pop(entry.google_calendar, None)
            if found is None:
                if _inside(event, settings, now):
                    out.append(CopyWrite("create", entry, event.sf_event_id,
                                         copy_id(entry.google_calendar, event.sf_event_id), body))  # fmt: skip
            elif found.fingerprint != body.fingerprint:
                out.append(CopyWrite("update", entry, event.sf_event_id, found.event_id, body))
        for left in have.values():
            listed = _entry_of(left, entries) if left is not None else None
            if left is not None and listed is not None:
                # Deleted in Salesforce, or moved off that calendar: the copy goes (it is
                # calsync's, never anyone's own event).
                out.append(CopyWrite("delete", listed, event.sf_event_id, left.event_id))
            # A calendar the admin took off the list: its copies stay as they are, untouched.
    return out


def _entry_of(copy: StoredCopy, entries: Sequence[PublicCalendar]) -> PublicCalendar | None:
    for e in entries:
        if e.sf_calendar_id == copy.sf_calendar_id and e.google_calendar == copy.google_calendar:
            return e
    return None


def entries_changed(entries: Sequence[PublicCalendar],
                    known: Mapping[str, str]) -> list[PublicCalendar]:  # fmt: skip
    """The entries whose copies must all be written again: new ones, and ones whose colour or
    writer changed since `known` (entry key → fingerprint) was recorded."""
    return [e for e in entries if known.get(entry_key(e)) != entry_fingerprint(e)]


def entry_key(entry: PublicCalendar) -> str:
    return f"{entry.sf_calendar_id}|{entry.google_calendar.lower()}"


def entry_fingerprint(entry: PublicCalendar) -> str:
    return fields.digest(json.dumps([entry.color, entry.writer]))
