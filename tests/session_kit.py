"""A small org on the in-memory fakes (tests/fakes.py), wired into `infra.session.Services`, for
tests of the real `infra.session.Session` that run in milliseconds: users and people, helpers
that act as a rep in Google (add, edit, tag, unsync, cancel), as someone in Salesforce (edit,
delete, a hand-made Event), and that run sessions, crash them and retry them as Cloud Tasks would.

The adapters behind these ports are tested on the emulators (tests/integration); what the kit adds
is the crash between any two writes, per-record refusals and lost answers, and a clock.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core import labels
from core.errors import CalsyncError
from core.issues import Issue
from core.model import (
    Attendee,
    Item,
    ItemKey,
    ItemStatus,
    Person,
    PersonKind,
    ResolvedPerson,
    Response,
    Span,
    sync_key,
)
from infra import session as session_module
from infra.google_events import parse_event, unusable
from infra.session import Report, Services, Session
from tests.fakes import (
    MARKER,
    Crash,
    FakeGoogle,
    FakeLease,
    FakeSalesforce,
    Faults,
    InMemoryIssueStore,
    InMemoryMappingStore,
    InMemorySettingsStore,
    SfRecord,
)

DOMAIN = "corp.example"
ALICE, BOB, CAROL = f"alice@{DOMAIN}", f"bob@{DOMAIN}", f"carol@{DOMAIN}"
JANE, JOE = "jane@acme.example", "joe@acme.example"  # Contacts
STRANGER = "sam@nowhere.example"  # resolves to nothing
GROUP = "sales-team@group.calendar.google.com"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@dataclass
class Kit:
    """One org: the fakes, the session's Services on them, and a clock the test moves."""

    keyed: bool = True  # whether Salesforce has Calsync_Key__c
    now: datetime = NOW
    faults: Faults = field(default_factory=Faults)
    sf_ids: dict[str, str] = field(default_factory=dict)  # email → SF User id
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.last_report: Report | None = None  # of the last `attempt` that ended
        self.lease = FakeLease(self.faults, clock=lambda: self.now)
        self.store = InMemorySettingsStore(self.lease)
        self.mappings = InMemoryMappingStore(self.lease)
        self.issues = InMemoryIssueStore(self.lease)
        self.google = FakeGoogle(self.faults)
        self.sf = FakeSalesforce(self.faults, keyed=self.keyed)
        self.services = Services(
            settings=self.store,
            mappings=self.mappings,
            issues=self.issues,
            lease=self.lease,
            calendar_for=self.google.calendar,
            salesforce=lambda: self.sf,
        )
        self.store.set_org_settings({"internal_domains": [DOMAIN]})
        # Whether the key field exists is learnt once per process: forget it for each kit.
        session_module._reported_key_field.clear()

    # -- people ---------------------------------------------------------------------------

    def user(self, email: str, **settings: Any) -> str:
        """An enabled user with an active Salesforce User."""
        sf_id = f"005{len(self.sf_ids) + 1:012d}"
        self.sf_ids[email] = sf_id
        self.sf.people[email] = ResolvedPerson(email, PersonKind.USER, sf_id)
        self.store.enable_user(email)
        if settings:
            self.store.set_user_settings(email, settings)
        return email

    def contact(self, email: str) -> str:
        self.sf.people[email] = ResolvedPerson(
            email, PersonKind.CONTACT, f"003{len(self.sf.people) + 1:012d}", "001ACME00000001"
        )
        return email

    # -- the Google side ------------------------------------------------------------------

    def meeting(self, owner: str, title: str, *, with_: tuple[str, ...] = (JANE,),
                days: float = 3, hours: float = 1, tag: bool = True, calendar: str = "",
                uid: str = "", organizer: str = "", **extra: Any) -> Item:  # fmt: skip
        """A meeting in `owner`'s calendar (or the group calendar `calendar`), organised by
        `owner` unless told otherwise, given the save colour unless `tag` is False."""
        n = next(self._ids)
        organizer = organizer or owner
        start = self.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
        people = [Attendee(owner, response=Response.ACCEPTED, is_self=True,
                           is_organizer=organizer == owner)]  # fmt: skip
        people += [Attendee(a, response=Response.ACCEPTED, is_organizer=a == organizer)
                   for a in with_]  # fmt: skip
        item = Item(
            id=f"ev{n}",
            calendar_id=calendar or owner,
            ical_uid=uid or f"uid-{n}@google.com",
            span=Span.timed(start, start + timedelta(hours=hours), "Europe/Berlin"),
            title=title,
            organizer=Person(organizer, is_self=organizer == owner),
            attendees=tuple(people),
            updated=self.now,
            **{"color_id": "9" if tag else None, **extra},
        )
        return self.google.put(item)

    def from_google(self, owner: str, event: dict[str, Any], calendar: str = "") -> Item:
        """An event as Google's JSON, read as the real adapter reads it (odd input)."""
        item = parse_event(event, calendar or owner)
        return self.google.put(replace(item, problem=unusable(item)))

    def copy_on(self, item: Item, calendar: str, event_id: str = "") -> Item:
        """The same meeting (same iCalUID) on another calendar, e.g. a group calendar."""
        return self.google.put(replace(item, calendar_id=calendar, id=event_id or item.id + "g"))

    def invite(self, item: Item, other: str) -> Item:
        """The same meeting as it appears in another attendee's calendar (their own copy)."""
        people = tuple(replace(a, is_self=a.email == other) for a in item.attendees)
        return self.google.put(replace(item, calendar_id=other, attendees=people,
                                       organizer=replace(item.organizer, is_self=False)
                                       if item.organizer else None))  # fmt: skip

    def current(self, item: Item) -> Item:
        return self.google.items[(item.calendar_id, item.id)]

    def edit(self, item: Item, **changes: Any) -> Item:
        """The rep edits the copy in Google (title, span, location...)."""
        now = self.current(item)
        return self.google.put(replace(now, updated=self.now, sequence=now.sequence + 1, **changes))

    def move(self, item: Item, hours: float) -> Item:
        span = self.current(item).span
        assert span is not None and span.start is not None and span.end is not None
        delta = timedelta(hours=hours)
        return self.edit(
            item, span=Span.timed(span.start + delta, span.end + delta, span.time_zone)
        )

    def tag(self, item: Item, color: str = "9") -> Item:
        return self.edit(item, color_id=color)

    def unsync(self, item: Item) -> Item:
        return self.tag(item, "8")

    def cancel(self, item: Item) -> Item:
        return self.edit(item, status=ItemStatus.CANCELLED)

    def props(self, item: Item) -> dict[str, str]:
        return self.current(item).props

    # -- the Salesforce side --------------------------------------------------------------

    def events(self, owner: str = "") -> list[SfRecord]:
        """Live SF Events (of `owner`'s SF User, when given)."""
        sf_id = self.sf_ids.get(owner, "")
        return [e for e in self.sf.live() if not owner or e.owner == sf_id]

    def key_of(self, owner: str, item: Item) -> str:
        return sync_key(self.sf_ids[owner], item.key)

    def events_for(self, owner: str, item: Item) -> list[SfRecord]:
        """The live SF Events of `owner` made of `item` (by Calsync_Key__c or the marker)."""
        key = self.key_of(owner, item)
        return [
            e for e in self.events(owner) if e.key == key or e.description.endswith(MARKER + key)
        ]

    def hand_made(self, owner: str, item: Item, **fields: Any) -> SfRecord:
        """An Event a rep typed into Salesforce for the same meeting (same owner, start, subject),
        not created by calsync (R-39, audit M8)."""
        span = self.current(item).span
        assert span is not None
        sf_id = f"00U{next(self.sf.ids):012d}"
        record = SfRecord(sf_id, self.sf_ids[owner], self.current(item).title, span.start_utc,
                          span.end_utc, created_by="rep", **fields)  # fmt: skip
        self.sf.events[sf_id] = record
        return record

    # -- sessions -------------------------------------------------------------------------

    def sync(self, email: str, *, sweep: bool = False, dry_run: bool = False) -> Report:
        return Session(self.services, email, self.now).run(dry_run=dry_run, sweep=sweep)

    def attempt(self, email: str, *, sweep: bool = False) -> str:
        """One Cloud Tasks delivery: "ok", "retry" (a non-2xx answer), "failed" (CS-020, a 2xx
        answer) or "crash" (the process died)."""
        self.last_report = None
        try:
            self.last_report = self.sync(email, sweep=sweep)
        except Crash:
            return "crash"
        except session_module.SessionFailed:
            return "failed"
        except CalsyncError:
            return "retry"
        return "ok"

    def crash_at(self, n: int) -> None:
        """The process dies before the n-th write from now on (tests/fakes.Faults)."""
        self.faults.crash_at = self.faults.writes + n

    def writes_of(self, email: str, **kw: Any) -> list[str]:
        """The writes one session makes, in order (to choose where to crash)."""
        before = len(self.faults.log)
        self.sync(email, **kw)
        return self.faults.log[before:]

    def quiesce(self, *emails: str, rounds: int = 8) -> int:
        """Faults off, then sessions (as sweeps) until nothing changes; returns the rounds used."""
        self.faults.crash_at = None
        self.faults.refuse.clear()
        self.faults.lose.clear()
        self.google.unreadable.clear()
        for n in range(1, rounds + 1):
            before = len(self.faults.log)
            for email in emails:
                self.lease.leases.pop(email, None)  # a crashed holder's lease has expired
                self.attempt(email, sweep=True)
            if len(self.faults.log) == before:
                return n
        return rounds

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    # -- what is recorded -----------------------------------------------------------------

    def open_issues(self, email: str = "") -> list[Issue]:
        return [i for i in self.issues.open() if not email or i.user_email == email]

    def codes(self, email: str = "") -> list[str]:
        return sorted(i.code for i in self.open_issues(email))

    def issue_for(self, email: str, item: Item) -> Issue | None:
        key = str(item.series_key if item.is_series else item.key)
        return next((i for i in self.open_issues(email) if i.key == key), None)

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(owner, sync key) → number of live SF Events, where more than one (R-29, R-39)."""
        counts: Counter[tuple[str, str]] = Counter()
        for e in self.sf.live():
            key = e.key or e.description.rpartition(MARKER)[2]
            if key:
                counts[(e.owner, key)] += 1
        return {k: n for k, n in counts.items() if n > 1}

    def dangling(self) -> list[str]:
        """Mappings that point at no live SF Event (nor are an intent or a kept delete)."""
        live = {e.id for e in self.sf.live()}
        return [
            str(m.key)
            for m in self.mappings.docs.values()
            if m.owned and m.sf_event_id and m.sf_event_id not in live and not m.pending_delete
            and not m.occurrence_of and not m.tombstone
        ]  # fmt: skip

    def label_of(self, item: Item) -> str:
        """The status text calsync wrote on the copy."""
        return self.props(item).get(labels.P_STATUS, "")


def key_text(item: Item) -> str:
    return str(ItemKey(item.ical_uid or item.id))
