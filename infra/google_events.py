"""Google Calendar event JSON ↔ calsync's value objects, at the adapter's edge (STYLE: no raw
dicts past an adapter).

`parse_event` never raises on a dict: a field that is missing, of the wrong type or with an
unknown value falls back to a default (API-FACTS A1 lists the fields and their defaults). The
request bodies that calsync sends (label patches R-03, field patches R-22) are built here too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from core.downsync import NewGoogleEvent
from core.fields import EventTime, GooglePatch
from core.labels import P_SEEN, LabelPatch
from core.model import (
    Attachment,
    Attendee,
    EventType,
    Item,
    ItemStatus,
    Person,
    Response,
    Span,
    Transparency,
    Visibility,
    with_props,
)
from infra.choices import CHOICE_PROPS, ChoiceSigner

E = TypeVar("E", bound=Enum)
log = logging.getLogger(__name__)


class EventParseError(ValueError):
    """The JSON is not an event at all (not an object, or no id): nothing to key it on."""


# --- small readers: each returns a default for a value of the wrong type --------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _flag(value: Any) -> bool:
    return value is True or value == "true"


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _enum(kind: type[E], value: Any, missing: E, unknown: E | None = None) -> E:
    """`value` as a member of `kind`: `missing` when absent, `unknown` (default: `missing`) when
    Google sends a value this code does not know (the API adds values over time)."""
    if value is None or value == "":
        return missing
    try:
        return kind(value)
    except ValueError:
        return missing if unknown is None else unknown


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None


def parse_datetime(value: Any, time_zone: str = "") -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime. Without an offset (allowed by Google when a
    `timeZone` is given) it is read in `time_zone`, or in UTC if that zone is unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=_zone(time_zone) or UTC)
    return parsed


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _moment(data: Any) -> tuple[datetime | None, date | None, str]:
    """An EventDateTime: (dateTime, date, timeZone); `dateTime` wins when both are present."""
    obj = _obj(data)
    zone = _text(obj.get("timeZone"))
    return parse_datetime(obj.get("dateTime"), zone), parse_date(obj.get("date")), zone


def parse_span(start: Any, end: Any) -> Span | None:
    """`start`/`end` as a Span, or None when they are missing or of different kinds."""
    start_dt, start_d, start_zone = _moment(start)
    end_dt, end_d, end_zone = _moment(end)
    zone = start_zone or end_zone
    if start_dt is not None and end_dt is not None:
        return Span.timed(start_dt, end_dt, zone)
    if start_d is not None and end_d is not None:
        return Span.all_day(start_d, end_d, zone)
    return None


def parse_original_start(data: Any) -> datetime | date | None:
    """`originalStartTime`: an aware datetime for a timed series, a date for an all-day one."""
    when, day, _ = _moment(data)
    return when if when is not None else day


def _person(data: Any) -> Person | None:
    obj = _obj(data)
    email = _text(obj.get("email")).strip()
    if not email:
        return None
    return Person(email, _text(obj.get("displayName")), _flag(obj.get("self")))


def _attendee(data: Any) -> Attendee | None:
    obj = _obj(data)
    email = _text(obj.get("email")).strip()
    if not email:
        return None  # nobody to link or to count as a participant
    return Attendee(
        email=email,
        display_name=_text(obj.get("displayName")),
        # An unknown answer counts as no answer: autosave never saves it.
        response=_enum(Response, obj.get("responseStatus"), Response.NEEDS_ACTION),
        is_self=_flag(obj.get("self")),
        is_organizer=_flag(obj.get("organizer")),
        is_resource=_flag(obj.get("resource")),
        optional=_flag(obj.get("optional")),
    )


def _attachment(data: Any) -> Attachment | None:
    obj = _obj(data)
    file_id, file_url = _text(obj.get("fileId")), _text(obj.get("fileUrl"))
    if not file_id and not file_url:
        return None
    size = obj.get("size")  # not in Google's schema; kept if a caller filled it from Drive
    return Attachment(
        file_id=file_id,
        file_url=file_url,
        title=_text(obj.get("title")),
        mime_type=_text(obj.get("mimeType")),
        size_bytes=size if isinstance(size, int) and not isinstance(size, bool) else None,
    )


def _private_props(data: Any) -> tuple[tuple[str, str], ...]:
    private = _obj(_obj(data).get("private"))
    pairs = {
        key: value if isinstance(value, str) else str(value)
        for key, value in private.items()
        if isinstance(key, str) and value is not None
    }
    return tuple(sorted(pairs.items()))


def _color(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = _text(value).strip()
    return text or None


def parse_event(data: Any, calendar_id: str, choices: ChoiceSigner | None = None) -> Item:
    """One event (or cancelled tombstone) of `calendar_id` as an `Item`.

    The sidebar's Name and Related To choices (`calsync_who`, `calsync_what`) are kept only when
    `choices` verifies their signature for this calendar's owner and this item, and then as the
    bare record id; any other value is dropped here, at the edge (R-33, audit L3).

    Raises EventParseError only when `data` is not an object with a string `id`. Defaults:
    status confirmed, visibility default, transparency opaque, eventType default. An unknown
    visibility counts as private (a newer, stricter value must never make autosave save a
    private item, R-06); other unknown values fall back to the field's default. A tombstone
    (only `id` guaranteed) gets `span` None; so does a live event whose times are unreadable
    (see `usable`).
    """
    if not isinstance(data, Mapping):
        raise EventParseError(f"an event must be a JSON object, got {type(data).__name__}")
    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise EventParseError("an event without an id")
    return _verified_choices(_item(data, event_id, calendar_id), choices)


def _verified_choices(item: Item, choices: ChoiceSigner | None) -> Item:
    props = item.props
    if not any(name in props for name in CHOICE_PROPS):
        return item
    for name in CHOICE_PROPS:
        value = props.pop(name, None)
        record_id = choices.verify(item.calendar_id, str(item.key), name, value) if (
            choices is not None and value) else ""  # fmt: skip
        if record_id:
            props[name] = record_id
        elif value:
            log.warning("unsigned sidebar choice ignored", extra={"item": item.id, "code": name})
    return with_props(item, props)


def _item(data: Mapping[str, Any], event_id: str, calendar_id: str) -> Item:
    return Item(
        id=event_id,
        calendar_id=calendar_id,
        ical_uid=_text(data.get("iCalUID")),
        status=_enum(ItemStatus, data.get("status"), ItemStatus.CONFIRMED),
        span=parse_span(data.get("start"), data.get("end")),
        recurrence=tuple(line for line in _list(data.get("recurrence")) if isinstance(line, str)),
        recurring_event_id=_text(data.get("recurringEventId")),
        original_start=parse_original_start(data.get("originalStartTime")),
        title=_text(data.get("summary")),
        location=_text(data.get("location")),
        description=_text(data.get("description")),
        attendees=tuple(a for a in map(_attendee, _list(data.get("attendees"))) if a),
        organizer=_person(data.get("organizer")),
        creator=_person(data.get("creator")),
        visibility=_enum(
            Visibility, data.get("visibility"), Visibility.DEFAULT, Visibility.PRIVATE
        ),
        transparency=_enum(Transparency, data.get("transparency"), Transparency.OPAQUE),
        event_type=_enum(EventType, data.get("eventType"), EventType.DEFAULT),
        color_id=_color(data.get("colorId")),
        private_props=_private_props(data.get("extendedProperties")),
        updated=parse_datetime(data.get("updated")),
        sequence=_int(data.get("sequence")),
        attachments=tuple(a for a in map(_attachment, _list(data.get("attachments"))) if a),
        etag=_text(data.get("etag")),
    )


def unusable(item: Item) -> str:
    """Why the core cannot plan with this item ("" when it can): a live item needs times that
    convert to UTC (year 9999 with a negative offset does not: audit H3)."""
    if item.status is ItemStatus.CANCELLED:
        return ""
    if item.span is None:
        return "its start or end cannot be read"
    try:
        item.span.start_utc, item.span.end_utc  # noqa: B018 - the conversion is the check
    except (OverflowError, ValueError):
        return "its times are out of range"
    return ""


# --- request bodies -------------------------------------------------------------------------


def label_body(patch: LabelPatch) -> dict[str, Any]:
    """The `events.patch` body of a label write (R-03): colour and private properties only;
    a removed property is sent as null, which deletes it (API-FACTS A2)."""
    body: dict[str, Any] = {}
    if patch.set_color:
        body["colorId"] = patch.color_id  # None clears it: the calendar's default colour
    private: dict[str, str | None] = dict(patch.set_props)
    for key in patch.remove_props:
        private.setdefault(key, None)
    if private:
        body["extendedProperties"] = {"private": private}
    return body


def event_time_body(when: EventTime) -> dict[str, Any]:
    """An EventDateTime. A timed value without a zone name is sent in UTC with its offset."""
    if when.date is not None:
        return {"date": when.date.isoformat()}
    if when.date_time is None:
        raise ValueError("an EventTime needs a date or a date_time")
    moment = when.date_time
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    body: dict[str, Any] = {"dateTime": moment.isoformat()}
    if when.time_zone:
        body["timeZone"] = when.time_zone
    return body


def patch_body(patch: GooglePatch) -> dict[str, Any]:
    """The `events.patch` body of a field patch (R-22): only the fields that are set."""
    body: dict[str, Any] = {}
    if patch.summary is not None:
        body["summary"] = patch.summary
    if patch.location is not None:
        body["location"] = patch.location
    if patch.description is not None:
        body["description"] = patch.description
    if patch.visibility is not None:
        body["visibility"] = patch.visibility.value
    if patch.transparency is not None:
        body["transparency"] = patch.transparency.value
    if patch.start is not None:
        body["start"] = event_time_body(patch.start)
    if patch.end is not None:
        body["end"] = event_time_body(patch.end)
    if patch.seen:
        body["extendedProperties"] = {"private": {P_SEEN: patch.seen}}
    return body


def new_event_body(event: NewGoogleEvent) -> dict[str, Any]:
    """The `events.insert` body of a copy of an SF Event (R-21): its fields, calsync's id, the
    saved label's colour and private properties."""
    body = patch_body(event.fields)
    body["id"] = event.event_id
    if event.color_id is not None:
        body["colorId"] = event.color_id
    if event.private_props:
        body["extendedProperties"] = {"private": dict(event.private_props)}
    return body
