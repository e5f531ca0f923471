"""What calsync observes: calendar items, resolved people, mappings and SF Events, as value objects.

The Google adapter parses an event's JSON into an `Item` once, at the edge (STYLE: no raw dicts
past an adapter); the Salesforce adapter does the same for `SfEventState`. Everything here is
frozen and comparable, so plans built from it can be compared and printed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum


class ItemStatus(Enum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Response(Enum):
    """An attendee's answer (Google `attendees[].responseStatus`)."""

    NEEDS_ACTION = "needsAction"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    ACCEPTED = "accepted"


class Visibility(Enum):
    DEFAULT = "default"
    PUBLIC = "public"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"  # Google keeps it for compatibility; it means private


class Transparency(Enum):
    OPAQUE = "opaque"  # Busy
    TRANSPARENT = "transparent"  # Free


class EventType(Enum):
    DEFAULT = "default"
    OUT_OF_OFFICE = "outOfOffice"
    FOCUS_TIME = "focusTime"
    WORKING_LOCATION = "workingLocation"
    BIRTHDAY = "birthday"
    FROM_GMAIL = "fromGmail"


# event types that are not meetings and that autosave never saves.
NOT_MEETING_TYPES = frozenset(
    {EventType.OUT_OF_OFFICE, EventType.FOCUS_TIME, EventType.WORKING_LOCATION, EventType.BIRTHDAY}
)


@dataclass(frozen=True)
class Person:
    """An organiser or creator as Google names them."""

    email: str
    display_name: str = ""
    is_self: bool = False


@dataclass(frozen=True)
class Attendee:
    email: str
    display_name: str = ""
    response: Response = Response.NEEDS_ACTION
    is_self: bool = False  # this copy's calendar
    is_organizer: bool = False
    is_resource: bool = False  # a room: never a person to link
    optional: bool = False


@dataclass(frozen=True)
class Attachment:
    file_id: str
    file_url: str
    title: str = ""
    mime_type: str = ""
    size_bytes: int | None = None  # the adapter fills it from Drive when it can


@dataclass(frozen=True)
class StoredFile:
    """R-20: one attachment as calsync stored it in Salesforce: the Drive file, the
    ContentDocument that holds it, the Drive revision stored last and the SF Event it is linked
    to (a new revision becomes a new ContentVersion of the same document)."""

    file_id: str
    content_document_id: str
    revision: str
    sf_event_id: str = ""


@dataclass(frozen=True)
class Span:
    """When an item happens.

    Timed: `start`/`end` are aware datetimes (Google's RFC 3339 values) and `time_zone` the IANA
    name Google gave, possibly empty. All-day: `start_date`/`end_date` with the end exclusive,
    as Google has it.
    """

    start: datetime | None = None
    end: datetime | None = None
    start_date: date | None = None
    end_date: date | None = None
    time_zone: str = ""

    def __post_init__(self) -> None:
        timed = self.start is not None and self.end is not None
        all_day = self.start_date is not None and self.end_date is not None
        if timed == all_day:
            raise ValueError(
                "a Span is either timed (start, end) or all-day (start_date, end_date)"
            )
        for value in (self.start, self.end):
            if value is not None and value.utcoffset() is None:
                raise ValueError("timed spans need aware datetimes")

    @classmethod
    def timed(cls, start: datetime, end: datetime, time_zone: str = "") -> Span:
        return cls(start=start, end=end, time_zone=time_zone)

    @classmethod
    def all_day(cls, start: date, end: date, time_zone: str = "") -> Span:
        return cls(start_date=start, end_date=end, time_zone=time_zone)

    @property
    def is_all_day(self) -> bool:
        return self.start_date is not None

    @property
    def duration(self) -> timedelta:
        if self.start is not None and self.end is not None:
            return self.end - self.start  # aware arithmetic: true elapsed time, DST included
        assert self.start_date is not None and self.end_date is not None
        return self.end_date - self.start_date

    @property
    def start_utc(self) -> datetime:
        """The start as a UTC instant; an all-day item starts at midnight UTC of its first day
        (Salesforce stores all-day events that way: ActivityDate at midnight UTC)."""
        if self.start is not None:
            return self.start.astimezone(UTC)
        assert self.start_date is not None
        return datetime.combine(self.start_date, time(0), UTC)

    @property
    def end_utc(self) -> datetime:
        if self.end is not None:
            return self.end.astimezone(UTC)
        assert self.end_date is not None
        return datetime.combine(self.end_date, time(0), UTC)


@dataclass(frozen=True)
class ItemKey:
    """The mapping key (docs/rules.md, terms): the iCalUID, plus `originalStartTime` for one instance."""

    ical_uid: str
    instance: str = (
        ""  # originalStartTime as ISO text (UTC instant, or a date), "" for a whole item
    )

    def __str__(self) -> str:
        return self.ical_uid + (f"@{self.instance}" if self.instance else "")


def instance_text(original_start: datetime | date | None) -> str:
    """`originalStartTime` as stable text: UTC ISO for instants, ISO date for all-day."""
    if original_start is None:
        return ""
    if isinstance(original_start, datetime):
        return original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return original_start.strftime("%Y%m%d")


def sync_key(owner_sf_id: str, key: ItemKey, generation: str = "") -> str:
    """R-39: the deterministic key of one SF Event, written into the Google copy's private
    properties and into the SF `Calsync_Key__c` external id.

    The owner is part of it because R-12 gives one SF Event per internal owner for the same
    iCalUID, and an external id must be unique. `generation` changes when a series is replaced
    (R-17: a changed rule deletes the old series and creates a new one, and the old key may
    still exist while Salesforce deletes asynchronously). A hash keeps it short: iCalUIDs can be
    long, an External ID text field holds 255 characters, a private property key 44.
    """
    text = "\n".join((owner_sf_id, key.ical_uid, key.instance, generation))
    return "cs1-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True)
class Item:
    """One event copy in a user's calendar, as calsync sees it (parsed from Google's JSON)."""

    id: str
    calendar_id: str
    ical_uid: str = ""
    status: ItemStatus = ItemStatus.CONFIRMED
    span: Span | None = None  # None only on cancelled tombstones (Google guarantees just `id`)
    recurrence: tuple[str, ...] = ()  # RRULE/EXDATE/RDATE lines of a series parent
    recurring_event_id: str = ""  # set on instances and exceptions of a series
    original_start: datetime | date | None = None
    title: str = ""
    location: str = ""
    description: str = ""
    attendees: tuple[Attendee, ...] = ()
    organizer: Person | None = None
    creator: Person | None = None
    visibility: Visibility = Visibility.DEFAULT
    transparency: Transparency = Transparency.OPAQUE
    event_type: EventType = EventType.DEFAULT
    color_id: str | None = None  # None: the calendar's default colour
    private_props: tuple[tuple[str, str], ...] = ()  # extendedProperties.private, sorted pairs
    updated: datetime | None = None
    sequence: int = 0
    attachments: tuple[Attachment, ...] = ()
    problem: str = ""  # why calsync cannot use this copy (unreadable times...): "" when it can
    etag: str = ""  # Google's version of the copy: any change to it gives a new one

    @property
    def shown_title(self) -> str:
        """The title as issues and the dry run show it: a private item's title stays private."""
        if self.is_private:
            return "(private item)"
        return self.title or "(no title)"

    @property
    def key(self) -> ItemKey:
        return ItemKey(self.ical_uid or self.id, instance_text(self.original_start))

    @property
    def series_key(self) -> ItemKey:
        """The key of the series this item is an instance of (its own key otherwise)."""
        return ItemKey(self.ical_uid or self.recurring_event_id or self.id)

    @property
    def props(self) -> dict[str, str]:
        return dict(self.private_props)

    @property
    def is_series(self) -> bool:
        return bool(self.recurrence) and not self.recurring_event_id

    @property
    def is_instance(self) -> bool:
        return bool(self.recurring_event_id)

    @property
    def is_private(self) -> bool:
        return self.visibility in (Visibility.PRIVATE, Visibility.CONFIDENTIAL)

    def others(self) -> tuple[Attendee, ...]:
        """Attendees besides the calendar's owner and rooms: the people of a meeting."""
        return tuple(a for a in self.attendees if not a.is_self and not a.is_resource)

    @property
    def is_meeting(self) -> bool:
        """docs/rules.md, terms: a meeting has attendees besides the user; an appointment has none."""
        return bool(self.others())

    def self_attendee(self) -> Attendee | None:
        return next((a for a in self.attendees if a.is_self), None)


def with_props(item: Item, props: MappingABC[str, str]) -> Item:
    """A copy of `item` with these private properties (used by labels and by test models)."""
    from dataclasses import replace

    return replace(item, private_props=tuple(sorted(props.items())))


class PersonKind(Enum):
    CONTACT = "Contact"
    LEAD = "Lead"
    USER = "User"


@dataclass(frozen=True)
class ResolvedPerson:
    """An address that the initial search matched to a Salesforce record."""

    email: str
    kind: PersonKind
    sf_id: str
    account_id: str = ""  # a Contact's AccountId; empty for Leads and Users
    name: str = ""


@dataclass(frozen=True)
class People:
    """The initial search's answers for one session (docs/rules.md, terms), and the org's enabled users.

    `resolved` maps lower-case emails to their record; `enabled_users` maps the emails of calsync's
    enabled users to their SF User ids; `accounts_by_domain` answers R-07's "Account whose website
    or domain matches" for auto-created Contacts.
    """

    resolved: MappingABC[str, ResolvedPerson] = field(default_factory=dict)
    enabled_users: MappingABC[str, str] = field(default_factory=dict)
    accounts_by_domain: MappingABC[str, str] = field(default_factory=dict)

    def get(self, email: str) -> ResolvedPerson | None:
        return self.resolved.get(email.strip().lower())


@dataclass(frozen=True)
class SessionUser:
    """The enabled user whose session this is."""

    email: str
    sf_user_id: str


class Role(Enum):
    OWNER = "owner"  # the SF Event is this user's own
    INVITEE = "invitee"  # the user is an invitee on the organiser's SF Event


@dataclass(frozen=True)
class Mapping:
    """What links one item copy of one user to its SF Event (docs/rules.md, terms).

    `google_fp` and `sf_fp` hold, per synced field, a short hash of the value last written or
    read on each side: a side whose value still hashes the same did not change (R-26: this is how
    calsync's own writes are never read back as changes).
    """

    user_email: str
    key: ItemKey
    calendar_id: str
    event_id: str  # the Google id of the copy (cancelled tombstones carry nothing else)
    owner_sf_id: str
    sf_event_id: str  # "" until the create's result is known, or for a series occurrence
    sync_key: str
    role: Role = Role.OWNER
    google_fp: tuple[tuple[str, str], ...] = ()
    sf_fp: tuple[tuple[str, str], ...] = ()
    prev_color: str | None = None  # the user's colour before calsync recoloured
    pattern: str = ""  # normalised RRULE of a series saved as one SF series
    occurrence_of: str = ""  # the series' SF Event id, when this maps one of its occurrences
    linked: tuple[str, ...] = ()  # emails already linked as relations
    attachments: tuple[str, ...] = ()  # Drive file ids judged: stored, or refused for good
    files: tuple[StoredFile, ...] = ()  # where each stored file is, by Drive file id
    # written before the Salesforce create (an intent): the create may or may not
    # have happened, so a retry resolves it by the sync key, never by what the item says now.
    pending_create: bool = False
    # Salesforce refused the delete; the mapping stays until a retry deletes the Event.
    pending_delete: bool = False
    start: str = ""  # the item's start (instance_text); tells a 410 resync which gaps to check
    # the starts retries of a pending create moved its Event to (without Calsync_Key__c a
    # retry finds the Event by its start and calsync's marker; its answer may have been lost).
    tried_starts: tuple[str, ...] = ()
    # An occurrence or instance whose SF Event is gone on purpose: "cancelled" (cancelled in
    # Google, R-17) or "deleted_in_salesforce" (R-23: not created again).
    tombstone: str = ""
    # The copy's etag as calsync last saw or wrote it ("" unknown). While it is still the copy's
    # etag, the copy is as this mapping recorded it: a change made in Salesforce is written to
    # it without reading it first, conditional on this etag (If-Match), and the copy coming
    # back through the sync token with it is calsync's own write.
    etag: str = ""
    zone: str = ""  # the timed copy's time zone with that etag (a time change keeps it)

    @property
    def owned(self) -> bool:
        return self.role is Role.OWNER


@dataclass(frozen=True)
class MappingQuery:
    """Which of one user's mappings a session reads (issue 14: never all of them). A mapping
    is wanted when any part names it: its item key, its Google copy's id, its iCalUID (a
    series and its instances), its SF Event id or its sync key, or it is pending (R-29)."""

    keys: frozenset[ItemKey] = frozenset()
    event_ids: frozenset[str] = frozenset()
    ical_uids: frozenset[str] = frozenset()
    sf_event_ids: frozenset[str] = frozenset()
    sync_keys: frozenset[str] = frozenset()
    pending: bool = False

    def __bool__(self) -> bool:
        return bool(self.keys or self.event_ids or self.ical_uids or self.sf_event_ids
                    or self.sync_keys or self.pending)  # fmt: skip

    def __or__(self, other: MappingQuery) -> MappingQuery:
        return MappingQuery(self.keys | other.keys, self.event_ids | other.event_ids,
                            self.ical_uids | other.ical_uids,
                            self.sf_event_ids | other.sf_event_ids,
                            self.sync_keys | other.sync_keys,
                            self.pending or other.pending)  # fmt: skip

    def __sub__(self, other: MappingQuery) -> MappingQuery:
        return MappingQuery(self.keys - other.keys, self.event_ids - other.event_ids,
                            self.ical_uids - other.ical_uids,
                            self.sf_event_ids - other.sf_event_ids,
                            self.sync_keys - other.sync_keys,
                            self.pending and not other.pending)  # fmt: skip

    def wants(self, m: Mapping) -> bool:
        return (m.key in self.keys or m.event_id in self.event_ids
                or m.key.ical_uid in self.ical_uids
                or bool(m.sf_event_id and m.sf_event_id in self.sf_event_ids)
                or bool(m.sync_key and m.sync_key in self.sync_keys)
                or (self.pending and (m.pending_create or m.pending_delete)))  # fmt: skip


def saved_count(mappings: Iterable[Mapping]) -> int:
    """The SF Events saved for a user that the deletion guard weighs a session's deletes
    against (R-37): owned, not an occurrence, not a create still pending."""
    return sum(1 for m in mappings if m.owned and not m.occurrence_of and not m.pending_create)


@dataclass(frozen=True)
class SfEventState:
    """An SF Event as the Salesforce adapter read it (for down-sync, R-21..R-24)."""

    sf_event_id: str
    owner_sf_id: str
    deleted: bool = False
    subject: str = ""
    start_utc: datetime | None = None
    end_utc: datetime | None = None
    is_all_day: bool = False
    activity_date: date | None = None
    duration_minutes: int | None = None
    location: str = ""
    is_private: bool = False
    show_as: str = "Busy"
    description: str = ""
    last_modified: datetime | None = None
    sync_key: str = ""  # Calsync_Key__c where the org has the field
    is_recurrence2: bool = False
    is_child: bool = False  # an invitee's copy (IsChild): never a source of down-sync
    series: str = ""  # what identifies the series an occurrence belongs to ("" for none)
    marker_key: str = ""  # the sync key in calsync's Description marker (orgs without the field)
    made_by_calsync: bool = False  # created by calsync's integration user

    @property
    def calsync_key(self) -> str:
        """The sync key calsync wrote on it (Calsync_Key__c or its marker), "" for none."""
        return self.sync_key or self.marker_key
