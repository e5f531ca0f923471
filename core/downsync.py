"""Down-sync (R-21, R-24): an SF Event that no mapping knows yet, created in Salesforce for the
user, becomes an item in the user's primary calendar; a series created in Salesforce cannot.

The rules for mapped Events (R-22 changes, R-23 deletes, R-26 conflicts) are the planner's merge
(core/fields.py `merge`), since they are the same per-field comparison as up-sync's. This module
decides which mapped Events a session reads before it writes over them (R-26), what a new SF
Event becomes, and how its Google copy is written so that a retried insert
can never make a second one: the event id is derived from the SF Event's id (Google accepts a
client-chosen base32hex id, and answers a second insert with that id 409).

A change made in Salesforce to a mapped Event whose copy's etag calsync knows is planned on the
mapping alone, without reading the copy ("unread"): while the copy keeps that etag it is as
the mapping recorded it, so only Salesforce changed; every write goes with the etag (If-Match),
and Google refuses it (412) if the copy changed meanwhile, which the session then reads.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from core import fields, labels
from core.fields import GooglePatch
from core.labels import Label, LabelState
from core.model import (
    Item,
    ItemKey,
    Mapping,
    SfEventState,
    Span,
    Transparency,
    Visibility,
    instance_text,
    sync_key,
)
from core.policy import Decision, Verdict
from core.series import window
from core.settings import Settings
from core.sf_routing import echo

SF_SERIES = "CS-013"


@dataclass(frozen=True)
class NewGoogleEvent:
    """An `events.insert` of the user's own copy, `sendUpdates=none` (R-21): `fields` carries
    what an events.patch would; the colour and private properties are its saved label."""

    calendar_id: str
    event_id: str
    fields: GooglePatch
    color_id: str | None
    private_props: tuple[tuple[str, str], ...]


def google_event_id(sf_event_id: str) -> str:
    """A Google event id for the copy of an SF Event: base32hex (a-v, 0-9), 26 characters, the
    same for the same Event every time."""
    digest = hashlib.sha256(f"calsync-sf:{sf_event_id}".encode()).digest()
    return base64.b32hexencode(digest).decode().lower().rstrip("=")[:26]


def copy_key(event_id: str) -> ItemKey:
    """The mapping key of such a copy: Google names an event it was given no iCalUID for
    `<id>@google.com`."""
    return ItemKey(f"{event_id}@google.com")


def span_of(event: SfEventState) -> Span | None:
    """The SF Event's time as a Span (all-day: its dates; timed: its UTC instants)."""
    when = fields.google_when(event, "")
    start, end = when["start"], when["end"]
    if start.date is not None and end.date is not None:
        return Span.all_day(start.date, end.date)
    if start.date_time is None or end.date_time is None:
        return None
    return Span.timed(start.date_time, end.date_time, "UTC")


@dataclass(frozen=True)
class Down:
    """What a new SF Event becomes: a decision, and, to create, the Google copy, the item it will
    be (for labels, issues and the dry run) and its mapping."""

    decision: Decision
    create: NewGoogleEvent | None = None
    item: Item | None = None
    mapping: Mapping | None = None
    series_key: str = ""


def new_event(event: SfEventState, user_email: str, user_sf_id: str, settings: Settings,
              now: datetime, known_keys: frozenset[str]) -> Down | None:  # fmt: skip
    """R-21, R-24 for an SF Event no mapping of the user knows; None when it is not the user's
    to receive (another owner, an invitee's child Event, one calsync made itself)."""
    if event.deleted or event.is_child or event.owner_sf_id != user_sf_id:
        return None
    if event.made_by_calsync or (event.calsync_key and event.calsync_key in known_keys):
        return None  # calsync's own (an intent a retry resolves): never copied back
    if event.is_recurrence2:
        reason = "a recurring series created in Salesforce cannot be carried to Google"
        return Down(Decision(Verdict.FAIL, "R-24", reason, SF_SERIES), series_key=event.series)
    span = span_of(event)
    lo, hi = window(settings, now)
    if span is None or not lo <= span.start_utc <= hi:
        return Down(Decision(Verdict.SKIP, "R-21", "outside the sliding window"))
    gid = google_event_id(event.sf_event_id)
    key = copy_key(gid)
    skey = sync_key(user_sf_id, key)
    item = Item(
        id=gid, calendar_id=user_email, ical_uid=key.ical_uid, span=span,
        title=event.subject, location=event.location,
        description=event.description,
        visibility=Visibility.PRIVATE if event.is_private else Visibility.DEFAULT,
        transparency=Transparency.TRANSPARENT if event.show_as == "Free" else Transparency.OPAQUE,
    )  # fmt: skip
    want = labels.desired(item, Label(LabelState.SAVED, sync_key=skey), settings, manual=False)
    color = want.pop("color")
    props = tuple(sorted((k, v) for k, v in want.items() if v is not None))
    item = labels.apply_patch(item, labels.LabelPatch(user_email, gid, True, color, props, ()))
    body = fields.google_patch(item, event, (fields.SUBJECT, fields.WHEN, fields.LOCATION,
                                             fields.PRIVATE, fields.SHOW_AS, fields.DESCRIPTION))  # fmt: skip
    names = fields.synced_fields(settings)
    mapping = Mapping(
        user_email=user_email, key=key, calendar_id=user_email, event_id=gid,
        owner_sf_id=user_sf_id, sf_event_id=event.sf_event_id, sync_key=skey,
        google_fp=fields.fingerprint(fields.google_values(item, span, settings), names),
        sf_fp=fields.fingerprint(fields.sf_values(event), names),
        start=instance_text(span.start_date if span.is_all_day else span.start_utc),
    )  # fmt: skip
    decision = Decision(Verdict.SAVE, "R-21", "created in Salesforce: copied to the calendar")
    return Down(decision, NewGoogleEvent(user_email, gid, body, color, props), item, mapping)


# -- a mapped copy planned unread -------------------------------------------------


def unread_ok(m: Mapping, event: SfEventState, settings: Settings) -> bool:
    """Whether the change made in Salesforce to `event` can be planned on its mapping `m` alone:
    a saved Event of the user's own, one Event for one copy (no series, occurrence or instance),
    no write pending, and the copy's etag known (and, for a time change, its time zone)."""
    if not (m.owned and m.etag and m.sf_event_id and m.google_fp and m.sf_fp):
        return False
    if m.pending_create or m.pending_delete or m.pattern or m.occurrence_of or m.tombstone \
            or m.key.instance:  # fmt: skip
        return False
    if event.deleted:
        return True
    if event.is_child or event.is_recurrence2 or event.owner_sf_id != m.owner_sf_id:
        return False
    return unread_update(event, m, settings) is not None


def unread_update(event: SfEventState, m: Mapping,
                  settings: Settings) -> tuple[GooglePatch | None, Mapping] | None:  # fmt: skip
    """R-22 on the mapping alone: the patch of the synced fields Salesforce changed since the
    mapping (None when none reaches Google), conditional on the copy's etag, and the mapping
    after it. None when it cannot be planned so: a timed copy's new time needs its time zone."""
    names = fields.synced_fields(settings)
    now = fields.sf_values(event)
    recorded = dict(m.sf_fp)
    down = tuple(n for n in names
                 if n != fields.LINKS and recorded.get(n) != fields.digest(now[n]))  # fmt: skip
    sf_fp = fields.fingerprint(now, names)
    if not down:
        return None, replace(m, sf_fp=sf_fp)
    span = span_of(event)
    if span is None or (fields.WHEN in down and not span.is_all_day and not m.zone):
        return None
    span = replace(span, time_zone=m.zone)
    stand_in = Item(m.event_id, m.calendar_id, ical_uid=m.key.ical_uid, span=span)
    patch = replace(fields.google_patch(stand_in, event, down), if_match=m.etag)
    after = fields.apply_google_patch(stand_in, patch)
    assert after.span is not None
    written = dict(fields.fingerprint(fields.google_values(after, after.span, settings), names))
    google_fp = dict(m.google_fp)
    google_fp.update({n: written[n] for n in down})
    start = m.start
    if fields.WHEN in down:
        start = instance_text(span.start_date if span.is_all_day else span.start_utc)
    return patch, replace(m, google_fp=tuple((n, google_fp[n]) for n in names if n in google_fp),
                          sf_fp=sf_fp, start=start)  # fmt: skip


# -- Salesforce changes the inbox has not brought yet -----------------------------------


def unseen_candidates(items: Iterable[Item], mappings: Iterable[Mapping], read: Iterable[str],
                      settings: Settings) -> list[str]:  # fmt: skip
    """The SF Events a session is about to update from these Google changes and has not read
    yet (`read`: the inbox's): those of the items' own mappings that calsync wrote or read
    before (a fingerprint to compare with) whose synced Google fields changed since (only then
    does the session write fields to the Event). A poll or a Flow callout may bring an edit made
    in Salesforce moments before the Google edit only after this session wrote over it (R-26)."""
    by_key = {m.key: m for m in mappings}
    by_copy = {(m.calendar_id, m.event_id): m for m in by_key.values()}
    seen = set(read)
    names = fields.synced_fields(settings)
    out: set[str] = set()
    for item in items:
        m = by_key.get(item.key) or by_copy.get((item.calendar_id, item.id))
        if (m is not None and m.owned and m.sf_event_id and m.sf_fp and not m.pattern
                and not m.occurrence_of and m.sf_event_id not in seen
                and _google_changed(item, m, names, settings)):  # fmt: skip
            out.add(m.sf_event_id)
    return sorted(out)


def _google_changed(item: Item, m: Mapping, names: tuple[str, ...], settings: Settings) -> bool:
    if item.span is None or not m.google_fp:
        return True
    try:
        now = fields.fingerprint(fields.google_values(item, item.span, settings), names)
    except (ValueError, TypeError, OverflowError, OSError, KeyError):
        return True  # read it: the planner decides what this item is
    return dict(now) != dict(m.google_fp)


def unseen_changes(events: Iterable[SfEventState],
                   mappings: Iterable[Mapping]) -> list[SfEventState]:  # fmt: skip
    """R-22, R-23, R-26: those of `events` that changed or went since calsync last wrote or read
    them (their mapping's `sf_fp`): Salesforce changes, merged exactly as if the inbox had
    brought them. The others are left out: planned as unchanged, they would change nothing."""
    by_sf = {m.sf_event_id: m for m in mappings if m.sf_event_id}
    out = []
    for event in events:
        m = by_sf.get(event.sf_event_id)
        if m is not None and (event.deleted or not echo(event, [m])):
            out.append(event)
    return out
