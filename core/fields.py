"""Field mapping both ways: an item as the Salesforce Event it becomes (R-13, R-13a, R-14, R-16,
R-20) and an SF Event's changes as a Google patch (R-22, R-23, R-26).

Salesforce's limits (API-FACTS 0, B1, B2): Subject and Location 255 characters, Description
32,000, times in UTC, all-day events as IsAllDayEvent + ActivityDate + whole days, at most 14
days, at most 50 contacts or one lead per event, one What, 1,000 invitees (100 on a series),
and no links at all on an event with IsPrivate set.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from html.parser import HTMLParser

from core import labels
from core.model import (
    Item,
    People,
    PersonKind,
    ResolvedPerson,
    Response,
    SessionUser,
    SfEventState,
    Span,
    Transparency,
    Visibility,
)
from core.settings import Settings

MAX_SUBJECT = 255
MAX_LOCATION = 255
MAX_DESCRIPTION = 32_000
MAX_CONTACTS = 50
MAX_INVITEES = 1000
MAX_INVITEES_SERIES = 100
NO_TITLE = "(no title)"


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def subject_of(title: str) -> str:
    """R-13: Subject ← title, cut to 255 characters; an empty title becomes "(no title)"."""
    text = " ".join(title.split())  # Salesforce's Subject is one line
    return cut(text, MAX_SUBJECT) if text else NO_TITLE


# ---------------------------------------------------------------------------------------------
# descriptions as plain text.

# `[^<>]*` (not `[^>]*`): linear on text with many "<a" and no ">" (audit L4).
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>")
_BLOCK = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.href: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in _BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        if tag == "a":
            self.href.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("p", "div", "tr", "ul", "ol", "table") or tag.startswith("h"):
            self.out.append("\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            text = "".join(self.out).rsplit("\n", 1)[-1]
            if href and not href.startswith("mailto:") and href not in text:
                self.out.append(f" ({href})")  # keep the link: a meeting URL is the point

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def plain_text(description: str) -> str:
    """R-14: Google descriptions may be HTML; Salesforce's Description is plain text.

    Text without tags is only unescaped of nothing: "a < b" stays as it is.
    """
    if not _TAG.search(description):
        return description.replace("\r\n", "\n").strip()
    parser = _Text()
    parser.feed(description)
    parser.close()
    text = unescape("".join(parser.out)).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _who(email: str, name: str) -> str:
    return f"{name} <{email}>" if name and name != email else email


def safe_description(item: Item) -> str:
    """R-14: the Safe Description: a header of participants (From: organiser; To: attendees;
    CC: optional attendees) above the original text made plain, within 32,000 characters."""
    organiser = item.organizer
    from_line = _who(organiser.email, organiser.display_name) if organiser else ""
    people = [a for a in item.attendees if not a.is_resource and not a.is_organizer]
    if organiser is not None:
        people = [a for a in people if a.email.lower() != organiser.email.lower()]
    to = [_who(a.email, a.display_name) for a in people if not a.optional]
    cc = [_who(a.email, a.display_name) for a in people if a.optional]
    header = [f"From: {from_line}"] if from_line else []
    if to:
        header.append("To: " + ", ".join(to))
    if cc:
        header.append("CC: " + ", ".join(cc))
    body = plain_text(item.description)
    text = "\n".join(header) + ("\n\n" + body if body else "")
    return cut(text.strip(), MAX_DESCRIPTION)


# ---------------------------------------------------------------------------------------------
# people and relations.


@dataclass(frozen=True)
class NewPerson:
    """R-07: a Contact or Lead that calsync creates for an unresolved attendee."""

    kind: PersonKind
    email: str
    last_name: str
    first_name: str = ""
    company: str = ""  # Leads: taken from the domain
    account_id: str = ""  # Contacts: the Account whose domain matches


@dataclass(frozen=True)
class Relations:
    who_id: str = ""
    what_id: str = ""
    who_ids: tuple[str, ...] = ()  # EventWhoIds: the first is WhoId
    extra_what_ids: tuple[str, ...] = ()  # R-13 `multiple_related_records`
    accepted: tuple[str, ...] = ()  # invitee User ids per their answer
    declined: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()
    linked: tuple[str, ...] = ()  # the emails these ids came from
    new_people: tuple[NewPerson, ...] = ()
    notes: tuple[str, ...] = ()


# Salesforce record id prefixes of the records an Event links to.
ID_PREFIXES = {"003": PersonKind.CONTACT, "00Q": PersonKind.LEAD}
WHAT_PREFIXES = {"001": "Account", "006": "Opportunity"}


def person_kind(sf_id: str) -> PersonKind:
    """A Contact or Lead id's kind, by its key prefix (anything else counts as a Contact)."""
    return ID_PREFIXES.get(sf_id[:3], PersonKind.CONTACT)


def _external_people(item: Item, user: SessionUser, people: People) -> list[ResolvedPerson]:
    """Resolved Contacts and Leads: the organiser first, then attendees in their order."""
    emails = []
    if item.organizer is not None:
        emails.append(item.organizer.email)
    emails += [a.email for a in item.attendees if not a.is_resource and not a.is_self]
    seen: dict[str, ResolvedPerson] = {}
    for email in emails:
        person = people.get(email)
        if (
            person is not None
            and person.kind is not PersonKind.USER
            and email.lower() != user.email.lower()
        ):
            seen.setdefault(person.sf_id, person)
    return list(seen.values())


def new_person(email: str, display_name: str, mode: str, people: People) -> NewPerson:
    """R-07: a Contact under the Account whose domain matches (mode "contact"), else a Lead
    with the company taken from the domain."""
    local, _, domain = email.lower().rpartition("@")
    words = display_name.split() if display_name and "@" not in display_name else []
    first, last = (" ".join(words[:-1]), words[-1]) if words else ("", local or email)
    account = people.accounts_by_domain.get(domain, "")
    if mode == "contact" and account:
        return NewPerson(PersonKind.CONTACT, email.lower(), last, first, account_id=account)
    company = domain.split(".")[0].replace("-", " ").title() if domain else email
    return NewPerson(PersonKind.LEAD, email.lower(), last, first, company=company)


def relations(item: Item, owner_sf_id: str, user: SessionUser, people: People,
              settings: Settings, *, series: bool = False) -> Relations:  # fmt: skip
    """R-13: WhoId, WhatId, EventWhoIds and invitees, within Salesforce's limits (B2)."""
    props = item.props
    notes: list[str] = []
    found = _external_people(item, user, people)
    chosen = props.get(labels.P_WHO, "")
    by_id = {p.sf_id: p for p in found}
    primary = by_id.get(chosen) if chosen else (found[0] if found else None)
    if chosen and primary is None:
        # the sidebar's pick stands (the Google adapter keeps only picks the add-on
        # signed after checking the rep may link the record, audit L3).
        primary = ResolvedPerson("", person_kind(chosen), chosen)
    if primary is None:
        who_ids: tuple[str, ...] = ()
    elif primary.kind is PersonKind.LEAD:
        who_ids = (primary.sf_id,)  # Salesforce: one lead, and then no contacts
        if len(found) > 1:
            notes.append("linked to the lead only (Salesforce takes one lead and no contacts)")
    else:
        contacts = [primary.sf_id] + [
            p.sf_id for p in found if p.kind is PersonKind.CONTACT and p.sf_id != primary.sf_id
        ]
        if any(p.kind is PersonKind.LEAD for p in found):
            notes.append("leads not linked (Salesforce takes contacts or one lead)")
        if len(contacts) > MAX_CONTACTS:
            notes.append(f"linked to the first {MAX_CONTACTS} of {len(contacts)} contacts")
        who_ids = tuple(contacts[:MAX_CONTACTS])
    what_id = props.get(labels.P_WHAT, "") or (primary.account_id if primary else "")
    if what_id and primary is not None and primary.kind is PersonKind.LEAD:
        notes.append("Related To not linked (Salesforce relates a lead to nothing)")
        what_id = ""
    extra: tuple[str, ...] = ()
    if settings.multiple_related_records:
        accounts = [p.account_id for p in found if p.account_id and p.account_id != what_id]
        extra = tuple(dict.fromkeys(accounts))
    accepted, declined, undecided = _invitees(item, owner_sf_id, people, series, notes)
    invited = set(accepted + declined + undecided)
    linked = tuple(sorted(
        {p.email.lower() for p in found if p.sf_id in who_ids and p.email}
        | {a.email.lower() for a in item.attendees
           if (u := people.get(a.email)) is not None and u.sf_id in invited}
    ))  # fmt: skip
    new: tuple[NewPerson, ...] = ()
    if not found and settings.auto_create_unresolved != "off":
        new = tuple(
            new_person(a.email, a.display_name, settings.auto_create_unresolved, people)
            for a in item.others()
            if people.get(a.email) is None
            and a.email.rpartition("@")[2].lower() not in settings.internal_domains
        )
        if new and new[0].kind is PersonKind.LEAD:
            new = new[:1]  # one lead per event (B2)
        new = new[:MAX_CONTACTS]
    return Relations(
        who_id=who_ids[0] if who_ids else "",
        what_id=what_id,
        who_ids=who_ids,
        extra_what_ids=extra,
        accepted=accepted,
        declined=declined,
        undecided=undecided,
        linked=linked,
        new_people=new,
        notes=tuple(notes),
    )


def _invitees(item: Item, owner_sf_id: str, people: People, series: bool,
              notes: list[str]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:  # fmt: skip
    """R-10: attendees who are Salesforce users join the owner's event as invitees."""
    by_answer: dict[str, list[str]] = {"accepted": [], "declined": [], "undecided": []}
    seen = {owner_sf_id}
    for attendee in item.attendees:
        person = people.get(attendee.email)
        if attendee.is_resource or person is None or person.kind is not PersonKind.USER:
            continue
        if person.sf_id in seen:
            continue
        seen.add(person.sf_id)
        if attendee.response is Response.ACCEPTED:
            by_answer["accepted"].append(person.sf_id)
        elif attendee.response is Response.DECLINED:
            by_answer["declined"].append(person.sf_id)
        else:
            by_answer["undecided"].append(person.sf_id)
    limit = MAX_INVITEES_SERIES if series else MAX_INVITEES
    total = sum(len(v) for v in by_answer.values())
    if total > limit:
        notes.append(f"invited the first {limit} of {total} Salesforce users")
    out: list[tuple[str, ...]] = []
    room = limit
    for answer in ("accepted", "declined", "undecided"):
        ids = by_answer[answer][:room]
        room -= len(ids)
        out.append(tuple(ids))
    return out[0], out[1], out[2]


# ---------------------------------------------------------------------------------------------
# the SF Event.


@dataclass(frozen=True)
class SfEventFields:
    """The Salesforce Event an item becomes (its wire format is infra/salesforce_wire.py's)."""

    owner_id: str
    subject: str
    start_utc: datetime
    end_utc: datetime | None
    is_all_day: bool
    activity_date: date | None
    duration_minutes: int | None
    location: str
    show_as: str
    is_private: bool
    relations: Relations = field(default_factory=Relations)
    description: str | None = None  # None: not written (R-14 after the first save)
    recurrence_pattern: str = ""  # Recurrence2PatternText of a series
    sync_key: str = ""  # Calsync_Key__c
    notes: tuple[str, ...] = ()


def show_as(transparency: Transparency) -> str:
    """R-13: opaque → Busy, transparent → Free."""
    return "Free" if transparency is Transparency.TRANSPARENT else "Busy"


def private_flag(item: Item, settings: Settings) -> bool:
    """R-13a: IsPrivate only for private items under `private_items: private_unlinked`."""
    return item.is_private and settings.private_items == "private_unlinked"


def when(span: Span) -> tuple[datetime, datetime | None, date | None, int | None]:
    """R-13: (StartDateTime, EndDateTime, ActivityDate, DurationInMinutes) in UTC.

    All-day items are whole days from midnight UTC of their first date: ActivityDate is that
    date (Salesforce stores it at midnight UTC), DurationInMinutes 1440 per day.
    """
    if span.start_date is not None:
        days = max(1, span.duration.days)
        return datetime.combine(span.start_date, time(0), UTC), None, span.start_date, days * 1440
    return span.start_utc, span.end_utc, None, None


def _links(item: Item, owner_sf_id: str, user: SessionUser, people: People, settings: Settings,
           series: bool) -> tuple[Relations, list[str], bool]:  # fmt: skip
    """The Event's links, the status notes about them, and IsPrivate (R-13, R-13a)."""
    notes: list[str] = []
    rel = relations(item, owner_sf_id, user, people, settings, series=series)
    is_private = private_flag(item, settings)
    if item.is_private:
        if is_private:
            # R-13a: Salesforce refuses every link on an IsPrivate event.
            rel = Relations(accepted=rel.accepted, declined=rel.declined, undecided=rel.undecided)
            notes.append("private item saved as a private Event without links")
        else:
            notes.append("private item saved linked and not private")
    notes.extend(rel.notes)
    return rel, notes, is_private


def status_notes(item: Item, owner_sf_id: str, user: SessionUser, people: People,
                 settings: Settings, *, series: bool = False) -> tuple[str, ...]:  # fmt: skip
    """What the saved label's status says besides "Tracked successfully" (R-13a, limits),
    without building the description (audit L4: that cost is paid only when it is written)."""
    return tuple(_links(item, owner_sf_id, user, people, settings, series)[1])


def event_fields(item: Item, span: Span, owner_sf_id: str, user: SessionUser, people: People,
                 settings: Settings, *, creating: bool, sync_key: str = "",
                 pattern: str = "") -> SfEventFields:  # fmt: skip
    """R-13, R-13a, R-14, R-17: the Salesforce Event for `item` (at `span`: an instance's own
    span when a series is saved instance by instance)."""
    start, end, activity_date, minutes = when(span)
    rel, notes, is_private = _links(item, owner_sf_id, user, people, settings, bool(pattern))
    description: str | None = None
    if creating or not settings.safe_description:
        description = safe_description(item) if settings.safe_description else cut(
            plain_text(item.description), MAX_DESCRIPTION)  # fmt: skip
    return SfEventFields(
        owner_id=owner_sf_id,
        subject=subject_of(item.title),
        start_utc=start,
        end_utc=end,
        is_all_day=span.is_all_day,
        activity_date=activity_date,
        duration_minutes=minutes,
        location=cut(item.location.strip(), MAX_LOCATION),
        show_as=show_as(item.transparency),
        is_private=is_private,
        relations=rel,
        description=description,
        recurrence_pattern=pattern,
        sync_key=sync_key,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------
# the synced fields, their fingerprints, and the merge of both sides.

SUBJECT, WHEN, LOCATION, PRIVATE, SHOW_AS, DESCRIPTION, LINKS = (
    "subject", "when", "location", "private", "show_as", "description", "links")  # fmt: skip


def _when_text(all_day: bool, start: datetime | None, end: datetime | None,
               day: date | None, days: int | None) -> str:  # fmt: skip
    if all_day:
        return f"D:{day.isoformat() if day else ''}+{days or 1}"
    s = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if start else ""
    e = end.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if end else ""
    return f"T:{s}/{e}"


def synced_fields(settings: Settings) -> tuple[str, ...]:
    """R-15/R-22: the fields kept in step; the description only without Safe Description (R-14)."""
    base = (SUBJECT, WHEN, LOCATION, PRIVATE, SHOW_AS, LINKS)
    return base if settings.safe_description else base + (DESCRIPTION,)


def choice_text(item: Item) -> str:
    """R-33: the sidebar's Name and Related To choice on this copy, as one value.

    It is a Google-side field only: Salesforce's side of it is always "" (calsync does not read
    WhoId/WhatId back), so a new choice is a Google change and goes up (a re-link), and an item
    without a choice never differs from Salesforce."""
    props = item.props
    who, what = props.get(labels.P_WHO, ""), props.get(labels.P_WHAT, "")
    return f"who={who};what={what}" if who or what else ""


def google_values(item: Item, span: Span, settings: Settings) -> dict[str, str]:
    """The synced fields of a Google copy, in Salesforce's terms (what calsync would write)."""
    start, end, day, minutes = when(span)
    return {
        SUBJECT: subject_of(item.title),
        WHEN: _when_text(span.is_all_day, start, end, day, (minutes or 0) // 1440),
        LOCATION: cut(item.location.strip(), MAX_LOCATION),
        PRIVATE: str(private_flag(item, settings)),
        SHOW_AS: show_as(item.transparency),
        DESCRIPTION: cut(plain_text(item.description), MAX_DESCRIPTION),
        LINKS: choice_text(item),
    }


def sf_values(event: SfEventState) -> dict[str, str]:
    """The synced fields of an SF Event as read."""
    days = (event.duration_minutes or 1440) // 1440
    day = event.activity_date or (event.start_utc.date() if event.start_utc else None)
    return {
        SUBJECT: event.subject,
        WHEN: _when_text(event.is_all_day, event.start_utc, event.end_utc, day, days),
        LOCATION: event.location,
        PRIVATE: str(event.is_private),
        SHOW_AS: event.show_as,
        DESCRIPTION: event.description,
        LINKS: "",  # see choice_text
    }


def fields_values(f: SfEventFields) -> dict[str, str]:
    """The synced fields of what calsync writes (its SF-side fingerprint after a write)."""
    return {
        SUBJECT: f.subject,
        WHEN: _when_text(
            f.is_all_day, f.start_utc, f.end_utc, f.activity_date, (f.duration_minutes or 0) // 1440
        ),  # fmt: skip
        LOCATION: f.location,
        PRIVATE: str(f.is_private),
        SHOW_AS: f.show_as,
        DESCRIPTION: f.description or "",
        LINKS: "",  # see choice_text
    }


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def fingerprint(
    values: MappingABC[str, str], names: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """R-26: per field, a short hash of the value (the mapping stores these, not the values:
    they may be private titles)."""
    return tuple((name, digest(values[name])) for name in names)


@dataclass(frozen=True)
class Conflict:
    """R-26: a field changed on both sides since the last session; the loser goes to history."""

    field: str
    winner: str  # "google" or "salesforce"
    loser_value: str


@dataclass(frozen=True)
class Merge:
    up: tuple[str, ...]  # fields to write to Salesforce
    down: tuple[str, ...]  # fields to write to Google
    conflicts: tuple[Conflict, ...] = ()


def merge(names: tuple[str, ...], google_now: MappingABC[str, str],
          google_fp: MappingABC[str, str], sf_now: MappingABC[str, str] | None,
          sf_fp: MappingABC[str, str], google_updated: datetime | None,
          sf_modified: datetime | None) -> Merge:  # fmt: skip
    """R-15, R-22, R-26: which fields go which way.

    A side changed a field when the value's hash differs from the one recorded at the last sync;
    calsync's own writes were recorded, so they never count as changes (no echoes). A field
    changed on both sides goes the way of the later change (Google on a tie: the calendar is
    where the meeting lives), and the losing value is reported.
    """
    up: list[str] = []
    down: list[str] = []
    conflicts: list[Conflict] = []
    for name in names:
        g_changed = name not in google_fp or digest(google_now[name]) != google_fp[name]
        s_changed = sf_now is not None and (
            name not in sf_fp or digest(sf_now[name]) != sf_fp[name]
        )
        if g_changed and s_changed:
            assert sf_now is not None
            if sf_now[name] == google_now[name]:
                continue  # both sides made the same change
            google_wins = sf_modified is None or (
                google_updated is not None and google_updated >= sf_modified
            )
            if google_wins:
                up.append(name)
                conflicts.append(Conflict(name, "google", sf_now[name]))
            else:
                down.append(name)
                conflicts.append(Conflict(name, "salesforce", google_now[name]))
        elif g_changed:
            up.append(name)
        elif s_changed:
            down.append(name)
    return Merge(tuple(up), tuple(down), tuple(conflicts))


# ---------------------------------------------------------------------------------------------
# SF changes as a Google patch.


@dataclass(frozen=True)
class EventTime:
    """A Google EventDateTime: `date` for all-day, else `date_time` + `time_zone`."""

    date: date | None = None
    date_time: datetime | None = None
    time_zone: str = ""


@dataclass(frozen=True)
class GooglePatch:
    """An `events.patch` of the user's copy with `sendUpdates=none` (R-21, R-22): only the
    fields that are not None are sent."""

    calendar_id: str
    event_id: str
    summary: str | None = None
    start: EventTime | None = None
    end: EventTime | None = None
    location: str | None = None
    visibility: Visibility | None = None
    transparency: Transparency | None = None
    description: str | None = None
    send_updates: str = "none"
    seen: str = ""  # the copy's echo digest after the patch (core.labels.P_SEEN), "" for none
    if_match: str = ""  # only if the copy still has this etag (a copy planned unread)


def google_patch(item: Item, event: SfEventState, names: tuple[str, ...]) -> GooglePatch:
    """R-22: the Google patch that carries these SF fields to the user's copy."""
    changes: dict[str, object] = {}
    zone = item.span.time_zone if item.span is not None else ""
    for name in names:
        if name == SUBJECT:
            changes["summary"] = event.subject
        elif name == LOCATION:
            changes["location"] = event.location
        elif name == PRIVATE:
            changes["visibility"] = Visibility.PRIVATE if event.is_private else Visibility.DEFAULT
        elif name == SHOW_AS:
            free = event.show_as == "Free"
            changes["transparency"] = Transparency.TRANSPARENT if free else Transparency.OPAQUE
        elif name == DESCRIPTION:
            changes["description"] = event.description
        elif name == WHEN:
            changes.update(google_when(event, zone))
    return GooglePatch(item.calendar_id, item.id, **changes)  # type: ignore[arg-type]


def google_when(event: SfEventState, zone: str) -> dict[str, EventTime]:
    if event.is_all_day:
        first = event.activity_date or (event.start_utc.date() if event.start_utc else None)
        assert first is not None
        days = max(1, (event.duration_minutes or 1440) // 1440)
        return {"start": EventTime(date=first), "end": EventTime(date=first + timedelta(days=days))}
    assert event.start_utc is not None and event.end_utc is not None
    return {
        "start": EventTime(date_time=event.start_utc, time_zone=zone),
        "end": EventTime(date_time=event.end_utc, time_zone=zone),
    }


def apply_google_patch(item: Item, patch: GooglePatch) -> Item:
    """The copy after Google applied `patch` (for the planner's fingerprints and for tests)."""
    from dataclasses import replace

    span = item.span
    if patch.start is not None and patch.end is not None:
        if patch.start.date is not None and patch.end.date is not None:
            span = Span.all_day(patch.start.date, patch.end.date, span.time_zone if span else "")
        else:
            assert patch.start.date_time is not None and patch.end.date_time is not None
            span = Span.timed(patch.start.date_time, patch.end.date_time, patch.start.time_zone)
    return replace(
        item,
        span=span,
        title=item.title if patch.summary is None else patch.summary,
        location=item.location if patch.location is None else patch.location,
        visibility=item.visibility if patch.visibility is None else patch.visibility,
        transparency=item.transparency if patch.transparency is None else patch.transparency,
        description=item.description if patch.description is None else patch.description,
    )
