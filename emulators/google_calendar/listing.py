"""events.list and events.instances: filters, ordering, paging and incremental sync tokens.

Rules from the API reference: timeMin is exclusive on an event's end, timeMax exclusive on its
start; nextSyncToken only on the last page; with syncToken the filters that could hide a change
are refused (400) and deletions always come back; an unknown token gets 410 fullSyncRequired.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import errors, series
from .recurrence import DEFAULT_HORIZON
from .resource import render
from .store import Copy, Store
from .times import parse_event_time, parse_timestamp

Params = dict[str, list[str]]

NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
DEFAULT_PAGE = 250
MAX_PAGE = 2500


def _one(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _bool(params: Params, name: str, default: bool = False) -> bool:
    value = _one(params, name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise errors.bad_request(f"Invalid value for: {name}", location=name)
    return value.lower() == "true"


def _pairs(params: Params, name: str) -> list[tuple[str, str]]:
    pairs = []
    for item in params.get(name, []):
        key, sep, value = item.partition("=")
        if not sep:
            raise errors.bad_request(f"Invalid value for: {name}", location=name)
        pairs.append((key, value))
    return pairs


@dataclass
class Page:
    offset: int
    snapshot: int

    def encode(self) -> str:
        raw = json.dumps({"o": self.offset, "s": self.snapshot}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(token: str) -> Page:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            return Page(int(data["o"]), int(data["s"]))
        except (ValueError, KeyError, TypeError):
            raise errors.bad_request("Invalid page token value.", location="pageToken") from None


@dataclass
class Query:
    single_events: bool
    show_deleted: bool
    time_min: datetime | None
    time_max: datetime | None
    updated_min: datetime | None
    order_by: str | None
    ical_uid: str | None
    private_props: list[tuple[str, str]]
    shared_props: list[tuple[str, str]]
    text: list[str]
    event_types: set[str]
    max_results: int
    page: Page | None
    sync_token: str | None

    @classmethod
    def parse(cls, params: Params) -> Query:
        sync_token = _one(params, "syncToken")
        if sync_token:
            for name in NOT_WITH_SYNC_TOKEN:
                if params.get(name):
                    raise errors.bad_request(
                        f"The parameter {name} cannot be combined with syncToken.",
                        location=name,
                    )
            if _one(params, "showDeleted") is not None and not _bool(params, "showDeleted"):
                raise errors.bad_request(
                    "showDeleted=false is not allowed with syncToken.", location="showDeleted"
                )
        time_min = _timestamp(params, "timeMin")
        time_max = _timestamp(params, "timeMax")
        if time_min and time_max and time_min >= time_max:
            raise errors.ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        order_by = _one(params, "orderBy")
        single = _bool(params, "singleEvents")
        if order_by not in (None, "startTime", "updated"):
            raise errors.bad_request("Invalid value for: orderBy", location="orderBy")
        if order_by == "startTime" and not single:
            raise errors.bad_request(
                "The requested ordering is not available for the particular query.",
                location="orderBy",
            )
        page_token = _one(params, "pageToken")
        return cls(
            single_events=single,
            show_deleted=_bool(params, "showDeleted") or bool(sync_token),
            time_min=time_min,
            time_max=time_max,
            updated_min=_timestamp(params, "updatedMin"),
            order_by=order_by,
            ical_uid=_one(params, "iCalUID"),
            private_props=_pairs(params, "privateExtendedProperty"),
            shared_props=_pairs(params, "sharedExtendedProperty"),
            text=(_one(params, "q") or "").lower().split(),
            event_types=set(params.get("eventTypes", [])),
            max_results=_page_size(params),
            page=Page.decode(page_token) if page_token else None,
            sync_token=sync_token,
        )


def _timestamp(params: Params, name: str) -> datetime | None:
    value = _one(params, name)
    return parse_timestamp(value, name) if value else None


def _page_size(params: Params) -> int:
    value = _one(params, "maxResults")
    if value is None:
        return DEFAULT_PAGE
    try:
        size = int(value)
    except ValueError:
        raise errors.bad_request("Invalid value for: maxResults", location="maxResults") from None
    if size < 1:
        raise errors.bad_request("Invalid value for: maxResults", location="maxResults")
    return min(size, MAX_PAGE)


Item = tuple[dict[str, Any], Copy]


def list_events(store: Store, calendar: str, params: Params) -> dict[str, Any]:
    query = Query.parse(params)
    with store.lock:
        events = store.events_of(calendar) or {}
        since = None
        if query.sync_token:
            point = store.sync_points.get(query.sync_token)
            if point is None or point.calendar != calendar:
                raise errors.full_sync_required()
            since = point.seq
        snapshot = query.page.snapshot if query.page else store.seq
        if since is not None:
            sources = [c for c in events.values() if since < c.seq <= snapshot]
        else:
            sources = list(events.values())
        items = _candidates(query, events, sources, incremental=since is not None)
        items = [item for item in items if _matches(query, item[0], item[1])]
        _sort(query, items, incremental=since is not None)
        body = _page(query, items, calendar, snapshot, params)
        if "nextPageToken" not in body:
            body["nextSyncToken"] = store.issue_sync_token(calendar, snapshot)
        return body


def list_instances(store: Store, calendar: str, event_id: str, params: Params) -> dict[str, Any]:
    query = Query.parse({k: v for k, v in params.items() if k != "syncToken"})
    original = _one(params, "originalStart")
    original_at = parse_timestamp(original, "originalStart") if original else None
    with store.lock:
        events = store.events_of(calendar) or {}
        master = events.get(event_id)
        if master is None:
            raise errors.not_found()
        if not series.is_master(master.data):
            items: list[Item] = [(master.data, master)]
        else:
            items = series.expand(
                master, events, query.time_min, query.time_max, include_cancelled=True
            )
            if master.cancelled:
                items = [(_as_cancelled(d), c) for d, c in items]
        items = [
            (data, source)
            for data, source in items
            if (query.show_deleted or data.get("status") != "cancelled")
            and _in_window(query, data)
            and (original_at is None or _original_start(data) == original_at)
        ]
        return _page(
            query, items, calendar, query.page.snapshot if query.page else store.seq, params
        )


def _candidates(
    query: Query, events: dict[str, Copy], sources: list[Copy], incremental: bool
) -> list[Item]:
    if not query.single_events:
        return [(c.data, c) for c in sources]
    items: list[Item] = []
    seen: set[str] = set()
    for copy in sources:
        data = copy.data
        if series.is_master(data):
            expanded = series.expand(
                copy,
                events,
                None if incremental else query.time_min,
                None if incremental else query.time_max,
                include_cancelled=query.show_deleted,
            )
            if copy.cancelled:
                expanded = [(_as_cancelled(d), c) for d, c in expanded]
            for item in expanded:
                if item[0]["id"] not in seen:
                    seen.add(item[0]["id"])
                    items.append(item)
        elif data.get("recurringEventId") and not incremental:
            master = events.get(data["recurringEventId"])
            if master is None or not series.is_master(master.data):
                items.append((data, copy))  # an instance they were invited to on its own
        elif data["id"] not in seen:
            seen.add(data["id"])
            items.append((data, copy))
    return items


def _as_cancelled(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "status": "cancelled"}


def _matches(query: Query, data: dict[str, Any], copy: Copy) -> bool:
    cancelled = data.get("status") == "cancelled"
    # Cancelled instances of a live series stay visible when singleEvents=false.
    hidden_instance = query.single_events or not data.get("recurringEventId")
    if cancelled and not (query.show_deleted or query.updated_min) and hidden_instance:
        return False
    if query.updated_min and _parse_updated(data) < query.updated_min:
        return False
    if query.ical_uid and data.get("iCalUID") != query.ical_uid:
        return False
    if query.event_types and data.get("eventType", "default") not in query.event_types:
        return False
    props = data.get("extendedProperties") or {}
    for scope, wanted in (("private", query.private_props), ("shared", query.shared_props)):
        have = props.get(scope) or {}
        if any(have.get(k) != v for k, v in wanted):
            return False
    if query.text and not all(term in _text(data) for term in query.text):
        return False
    if series.is_master(data) and not query.single_events:
        return _series_in_window(query, copy)
    return _in_window(query, data)


def _parse_updated(data: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(data["updated"]))


def _text(data: dict[str, Any]) -> str:
    parts = [str(data.get(k, "")) for k in ("summary", "description", "location")]
    parts.append(str(data.get("organizer", {}).get("email", "")))
    for attendee in data.get("attendees") or []:
        parts += [attendee.get("email", ""), attendee.get("displayName", "")]
    return " ".join(parts).lower()


def _in_window(query: Query, data: dict[str, Any]) -> bool:
    if query.time_min is None and query.time_max is None:
        return True
    if "start" not in data or "end" not in data:
        return True
    start = parse_event_time(data["start"], "start").moment
    end = parse_event_time(data["end"], "end").moment
    if query.time_min is not None and end <= query.time_min:
        return False
    return not (query.time_max is not None and start >= query.time_max)


def _series_in_window(query: Query, copy: Copy) -> bool:
    if query.time_min is None and query.time_max is None:
        return True
    start, end = series.times(copy.data)
    after = query.time_min - (end.moment - start.moment) if query.time_min else None
    before = query.time_max
    if before is None:
        before = max(query.time_min or start.moment, start.moment) + DEFAULT_HORIZON
    return bool(series.expander(copy.data).starts(after, before, limit=1))


def _original_start(data: dict[str, Any]) -> datetime | None:
    value = data.get("originalStartTime")
    return parse_event_time(value, "originalStart").moment if value else None


def _sort(query: Query, items: list[Item], incremental: bool) -> None:
    if query.order_by == "startTime":
        items.sort(key=lambda it: (parse_event_time(it[0]["start"], "start").moment, it[0]["id"]))
    elif query.order_by == "updated":
        items.sort(key=lambda it: (str(it[0].get("updated", "")), it[1].seq, it[0]["id"]))
    elif incremental:
        items.sort(key=lambda it: (it[1].seq, it[0]["id"]))
    else:
        items.sort(key=lambda it: (it[1].order, _start_key(it[0])))


def _start_key(data: dict[str, Any]) -> str:
    start = data.get("start") or {}
    return str(start.get("dateTime") or start.get("date") or "")


def _page(
    query: Query, items: list[Item], calendar: str, snapshot: int, params: Params
) -> dict[str, Any]:
    offset = query.page.offset if query.page else 0
    chunk = items[offset : offset + query.max_results]
    max_attendees = _one(params, "maxAttendees")
    limit = int(max_attendees) if max_attendees and max_attendees.isdigit() else None
    body: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"{snapshot}"',
        "summary": calendar,
        "description": "",
        "updated": max((str(d.get("updated", "")) for d, _ in items), default="")
        or "1970-01-01T00:00:00.000Z",
        "timeZone": "UTC",
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
        "items": [render(data, calendar, source.etag, limit) for data, source in chunk],
    }
    if offset + query.max_results < len(items):
        body["nextPageToken"] = Page(offset + query.max_results, snapshot).encode()
    return body
