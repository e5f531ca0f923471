"""Event writes and reads: insert, import, get, patch, update, delete.

Every method takes the acting user (from the token) and the request's calendarId, and answers
with the Event resource as that calendar sees it, or raises ApiError.
"""

from __future__ import annotations

import copy as copying
from typing import Any
from urllib.parse import unquote

from . import attachments, copies, errors, fields, series
from .resource import render
from .store import Copy, Store, new_id, role_level
from .times import format_timestamp, utcnow

# Changes that make the organiser's SEQUENCE go up (what iCalendar calls a significant change).
SEQUENCE_FIELDS = ("start", "end", "recurrence", "location", "status")
# The weakest roles that may read and write a calendar's events.
READ, WRITE = "reader", "writerWithoutPrivateAccess"


def resolve_calendar(store: Store, actor: str, calendar_id: str, need: str = "reader") -> str:
    """The calendar's id (a primary calendar's is its user's address) if the actor has the `need`
    role there (ROLES in store.py); else 404 for a calendar that does not exist or that the actor
    cannot see, 403 for another user's primary calendar not shared with them (as before ACLs),
    403 `requiredAccessLevel` (as Google) for a role too weak."""
    calendar = unquote(calendar_id).strip().lower()
    if calendar == "primary":
        calendar = actor
    if store.events_of(calendar) is None:
        raise errors.not_found()
    role = store.role_of(calendar, actor)
    if role_level(role) >= role_level(need):
        return calendar
    if role == "none":
        if calendar in store.secondary:
            raise errors.not_found()
        raise errors.forbidden(f"{actor} has no access to the calendar {calendar}.")
    raise errors.required_access_level(need)


def _flag(params: dict[str, str], name: str) -> bool:
    return str(params.get(name, "")).lower() == "true"


def _stamp(data: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Set `updated` unless only reminders changed (the API leaves `updated` alone then)."""
    if old is not None:
        strip = {"reminders", "updated"}
        same = {k: v for k, v in data.items() if k not in strip} == {
            k: v for k, v in old.items() if k not in strip
        }
        if same:
            data["updated"] = old["updated"]
            return
    data["updated"] = format_timestamp(utcnow())


def _bump_sequence(data: dict[str, Any], old: dict[str, Any] | None) -> None:
    if old is not None and any(data.get(f) != old.get(f) for f in SEQUENCE_FIELDS):
        data["sequence"] = max(int(data.get("sequence", 0)), int(old.get("sequence", 0)) + 1)


class EventService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads -----------------------------------------------------------------------------

    def get(self, actor: str, calendar_id: str, event_id: str, params: dict[str, str]) -> dict:
        with self.store.lock:
            calendar = resolve_calendar(self.store, actor, calendar_id)
            data, etag = self._find(calendar, event_id)
            return render(data, calendar, etag, _max_attendees(params))

    def _find(self, calendar: str, event_id: str) -> tuple[dict[str, Any], str]:
        events = self.store.events_of(calendar) or {}
        stored = events.get(event_id)
        if stored is not None:
            return stored.data, stored.etag
        virtual = series.virtual_instance(events, event_id)
        if virtual is None:
            raise errors.not_found()
        master, data = virtual
        if master.cancelled:
            data["status"] = "cancelled"
        return data, master.etag

    # --- creation ----------------------------------------------------------------------------

    def insert(self, actor: str, calendar_id: str, body: dict, params: dict[str, str]) -> dict:
        with self.store.transaction():
            calendar = resolve_calendar(self.store, actor, calendar_id, WRITE)
            event_id = self._new_event_id(calendar, body)
            data = fields.writable(body)
            if not _flag(params, "supportsAttachments"):
                data.pop("attachments", None)
            if data.get("eventType") == "fromGmail":
                raise errors.bad_request("Events of type fromGmail cannot be created.")
            data = fields.validate(data)
            attachments.resolve(self.store.drive, data)
            now = format_timestamp(utcnow())
            data.update(
                id=event_id,
                iCalUID=body.get("iCalUID") or f"{event_id}@google.com",
                created=now,
                updated=now,
                organizer=self._organizer(calendar),
                creator={"email": actor},
            )
            data.setdefault("status", "confirmed")
            data.setdefault("sequence", 0)
            data.setdefault("eventType", "default")
            for email in copies.hosted_attendees(self.store, data):
                if self.store.get(email, event_id) is not None:
                    raise errors.duplicate()
            copies.check_limits(self.store, calendar, data)
            saved = self.store.save(calendar, data)
            self._propagate(calendar, None, data)
            return render(saved.data, calendar, saved.etag)

    def _organizer(self, calendar: str) -> dict[str, Any]:
        """An event made on a calendar is organised by that calendar (a secondary one shows its
        name, as Google does); the creator is whoever made it."""
        secondary = self.store.secondary.get(calendar)
        if secondary is None:
            return {"email": calendar}
        return {"email": calendar, "displayName": secondary.summary}

    def _new_event_id(self, calendar: str, body: dict[str, Any]) -> str:
        if body.get("id") is None:
            return new_id()
        event_id = fields.check_event_id(body["id"])
        if self.store.get(calendar, event_id) is not None:
            raise errors.duplicate()
        return event_id

    def import_(self, actor: str, calendar_id: str, body: dict, params: dict[str, str]) -> dict:
        """Add a private copy of an event (e.g. an invitation from outside the hosted domains).

        An event with the same iCalUID already in the calendar is replaced (same id); the copy is
        never propagated to other calendars.
        """
        with self.store.transaction():
            calendar = resolve_calendar(self.store, actor, calendar_id, WRITE)
            ical_uid = body.get("iCalUID")
            if not ical_uid:
                raise errors.required("iCalUID")
            if body.get("eventType", "default") != "default":
                raise errors.bad_request("Only events of type default can be imported.")
            events = self.store.events_of(calendar) or {}
            existing = next(
                (
                    c
                    for c in events.values()
                    if c.data.get("iCalUID") == ical_uid and "recurringEventId" not in c.data
                ),
                None,
            )
            data = fields.writable(body)
            if not _flag(params, "supportsAttachments"):
                data.pop("attachments", None)
            data = fields.validate(data)
            attachments.resolve(self.store.drive, data)
            organizer = body.get("organizer") or {"email": calendar}
            if not organizer.get("email"):
                raise errors.required("organizer email")
            data["organizer"] = {k: v for k, v in organizer.items() if k != "self"}
            data["creator"] = {"email": data["organizer"]["email"]}
            data["iCalUID"] = ical_uid
            data.setdefault("status", "confirmed")
            data.setdefault("sequence", 0)
            data["eventType"] = "default"
            if existing is not None:
                old = existing.data
                data.update(id=old["id"], created=old["created"])
                _stamp(data, old)
            else:
                data["id"] = self._new_event_id(calendar, body)
                data["created"] = data["updated"] = format_timestamp(utcnow())
            fields.check_property_limits([data.get("extendedProperties")])
            saved = self.store.save(calendar, data)
            return render(saved.data, calendar, saved.etag)

    # --- changes -----------------------------------------------------------------------------

    def patch(
        self,
        actor: str,
        calendar_id: str,
        event_id: str,
        body: dict,
        params: dict[str, str],
        if_match: str | None = None,
    ) -> dict:
        return self._change(actor, calendar_id, event_id, body, params, if_match, put=False)

    def update(
        self,
        actor: str,
        calendar_id: str,
        event_id: str,
        body: dict,
        params: dict[str, str],
        if_match: str | None = None,
    ) -> dict:
        return self._change(actor, calendar_id, event_id, body, params, if_match, put=True)

    def _change(self, actor, calendar_id, event_id, body, params, if_match, *, put) -> dict:
        with self.store.transaction():
            calendar = resolve_calendar(self.store, actor, calendar_id, WRITE)
            current, etag, stored = self._load_for_write(calendar, event_id)
            if if_match and if_match != etag:
                raise errors.condition_not_met()
            organizer = str(current.get("organizer", {}).get("email", "")).lower()
            if organizer != calendar:
                if put:
                    raise errors.forbidden_for_non_organizer()
                saved = self._attendee_patch(calendar, current, stored, body, params)
            else:
                if put:
                    new = self._replacement(current, body, params)
                else:
                    patch = dict(body)
                    if not _flag(params, "supportsAttachments"):
                        patch.pop("attachments", None)
                    new = fields.merge_patch(current, patch)
                saved = self._organizer_write(calendar, current, stored, new)
            return render(saved.data, calendar, saved.etag, _max_attendees(params))

    def _load_for_write(self, calendar: str, event_id: str) -> tuple[dict, str, bool]:
        """(current data, etag, whether it is stored) — an unchanged instance is not stored yet."""
        events = self.store.events_of(calendar) or {}
        stored = events.get(event_id)
        if stored is not None:
            return copying.deepcopy(stored.data), stored.etag, True
        virtual = series.virtual_instance(events, event_id)
        if virtual is None:
            raise errors.not_found()
        master, data = virtual
        if master.cancelled:
            raise errors.deleted()
        return data, master.etag, False

    def _replacement(self, current: dict, body: dict, params: dict[str, str]) -> dict:
        """The new resource for a PUT: the body, plus what a client cannot change."""
        if body.get("eventType") not in (None, current.get("eventType", "default")):
            raise errors.bad_request("The event type of an event cannot be changed.")
        new = fields.writable(body)
        for key in ("id", "iCalUID", "created", "organizer", "creator", "eventType"):
            if key in current:
                new[key] = current[key]
        for key in ("recurringEventId", "originalStartTime"):
            if key in current:
                new[key] = current[key]
        if not _flag(params, "supportsAttachments") and "attachments" in current:
            new["attachments"] = current["attachments"]
        new.setdefault("status", "confirmed")
        new.setdefault("sequence", current.get("sequence", 0))
        return new

    def _organizer_write(self, calendar: str, old: dict, stored: bool, new: dict) -> Copy:
        if new.get("eventType", "default") != old.get("eventType", "default"):
            raise errors.bad_request("The event type of an event cannot be changed.")
        new = fields.validate(new)
        attachments.resolve(self.store.drive, new)
        if new.get("status") == "cancelled" and old.get("status") != "cancelled":
            return self._cancel_everywhere(calendar, new, stored)
        if stored and new == old:
            return self.store.get(calendar, old["id"])  # type: ignore[return-value]
        _bump_sequence(new, old if stored else None)
        _stamp(new, old if stored else None)
        copies.check_limits(self.store, calendar, new)
        saved = self.store.save(calendar, new)
        self._propagate(calendar, old, new)
        return saved

    def _propagate(self, calendar: str, old: dict | None, new: dict) -> None:
        """Push the organiser's shared data to every hosted attendee's copy."""
        now_attending = copies.hosted_attendees(self.store, new)
        for email in now_attending:
            theirs = self.store.get(email, new["id"])
            base = theirs.data if theirs is not None else self._attendee_base(email, new)
            data = copies.attendee_view(new, base)
            removed_by_them = (
                theirs is not None
                and theirs.cancelled
                and new.get("status") != "cancelled"
                and copies.response_of(new, email) == "declined"
            )
            if removed_by_them:
                data["status"] = "cancelled"  # they took it off their calendar
            if theirs is None or theirs.data != data:
                self.store.save(email, data)
        for email in copies.hosted_attendees(self.store, old or {}):
            if email in now_attending:
                continue
            theirs = self.store.get(email, new["id"])
            if theirs is not None and not theirs.cancelled:
                self.store.save(email, _cancelled(theirs.data))

    def _attendee_base(self, email: str, new: dict) -> dict | None:
        """For a new exception in an attendee's calendar, their series copy gives per-copy fields."""
        master_id = new.get("recurringEventId")
        if master_id:
            master = self.store.get(email, master_id)
            if master is not None:
                return master.data
        return None

    def _attendee_patch(
        self, calendar: str, current: dict, stored: bool, body: dict, params: dict[str, str]
    ) -> Copy:
        """A non-organiser edits their copy: per-copy fields, own response, local edits."""
        for name in fields.ORGANIZER_ONLY_FIELDS:
            if name in body and body[name] != current.get(name, _ORGANIZER_DEFAULTS[name]):
                raise errors.forbidden_for_non_organizer()
        patch = {k: v for k, v in body.items() if k != "attendees"}
        if not _flag(params, "supportsAttachments"):
            patch.pop("attachments", None)
        old_response = copies.response_of(current, calendar)
        new = copying.deepcopy(fields.merge_patch(current, patch))
        response = _own_entry(body.get("attendees"), calendar)
        if response:
            for attendee in new.get("attendees") or []:
                if attendee["email"].lower() == calendar:
                    attendee.update(response)
        if new.get("eventType", "default") != current.get("eventType", "default"):
            raise errors.bad_request("The event type of an event cannot be changed.")
        new = fields.validate(new)
        if stored and new == current:
            return self.store.get(calendar, current["id"])  # type: ignore[return-value]
        _stamp(new, current if stored else None)
        copies.check_limits(self.store, calendar, new)
        saved = self.store.save(calendar, new)
        if response and old_response != response.get("responseStatus"):
            self._share_response(calendar, new, response)
        return saved

    def _share_response(self, calendar: str, data: dict, response: dict) -> None:
        for owner, other in copies.group(self.store, data, calendar):
            changed = copying.deepcopy(other.data)
            for attendee in changed.get("attendees") or []:
                if attendee["email"].lower() == calendar:
                    attendee.update(response)
            if changed != other.data:
                changed["updated"] = format_timestamp(utcnow())
                self.store.save(owner, changed)

    # --- deletion ----------------------------------------------------------------------------

    def delete(
        self,
        actor: str,
        calendar_id: str,
        event_id: str,
        params: dict[str, str],
        if_match: str | None = None,
    ) -> None:
        with self.store.transaction():
            calendar = resolve_calendar(self.store, actor, calendar_id, WRITE)
            current, etag, stored = self._load_for_write(calendar, event_id)
            if current.get("status") == "cancelled":
                raise errors.deleted()
            if if_match and if_match != etag:
                raise errors.condition_not_met()
            organizer = str(current.get("organizer", {}).get("email", "")).lower()
            if organizer == calendar:
                self._cancel_everywhere(calendar, current, stored)
                return
            self._cancel_own(calendar, current)
            if calendar in copies.hosted_attendees(self.store, current):
                self._share_response(calendar, current, {"responseStatus": "declined"})

    def _cancel_own(self, calendar: str, data: dict) -> Copy:
        """Cancel one calendar's copy and, for a series, its exceptions there."""
        saved = self.store.save(calendar, _cancelled(data))
        if series.is_master(data):
            for exception in series.exceptions_of(self.store.events_of(calendar) or {}, data["id"]):
                if not exception.cancelled:
                    self.store.save(calendar, _cancelled(exception.data))
        if calendar in copies.hosted_attendees(self.store, saved.data):
            for attendee in saved.data.get("attendees") or []:
                if attendee["email"].lower() == calendar:
                    attendee["responseStatus"] = "declined"
        return saved

    def _cancel_everywhere(self, calendar: str, data: dict, stored: bool) -> Copy:
        saved = self._cancel_own(calendar, data)
        for email in copies.hosted_attendees(self.store, data):
            theirs = self.store.get(email, data["id"])
            if theirs is not None and not theirs.cancelled:
                self._cancel_own(email, theirs.data)
            elif theirs is None and not stored and data.get("recurringEventId"):
                base = self._attendee_base(email, data)
                if base is not None:
                    self.store.save(email, _cancelled(copies.attendee_view(data, base)))
        return saved


_ORGANIZER_DEFAULTS = {
    "guestsCanModify": False,
    "guestsCanInviteOthers": True,
    "guestsCanSeeOtherGuests": True,
}


def _cancelled(data: dict) -> dict:
    new = copying.deepcopy(data)
    new["status"] = "cancelled"
    new["sequence"] = int(new.get("sequence", 0)) + 1
    new["updated"] = format_timestamp(utcnow())
    return new


def _own_entry(attendees: Any, calendar: str) -> dict[str, Any] | None:
    for attendee in attendees or []:
        if isinstance(attendee, dict) and str(attendee.get("email", "")).lower() == calendar:
            response = {
                k: attendee[k]
                for k in ("responseStatus", "comment", "additionalGuests")
                if k in attendee
            }
            status = response.get("responseStatus")
            if status is not None and status not in fields.RESPONSES:
                raise errors.bad_request("Invalid attendee response status.")
            return response or None
    return None


def _max_attendees(params: dict[str, str]) -> int | None:
    value = params.get("maxAttendees")
    if value in (None, ""):
        return None
    try:
        return max(1, int(value))
    except ValueError:
        raise errors.bad_request("Invalid value for: maxAttendees") from None
