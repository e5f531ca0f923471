"""In-memory fakes of the ports in core/ports.py, for fast tests of the core and the session
(milliseconds a session). Each adapter is tested on the real thing (the emulators); these fakes
keep the ports' contracts, and add what the emulators cannot do cheaply: a crash between any two
writes (`Faults.crash_at`), refusals and lost answers per record.

A "write" is one call of a port method that changes something (a Salesforce collection call, a
Google batch, a Firestore batch or transaction): a crash before write n means the first n - 1
happened and nothing after.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core import labels
from core.actions import CONDITION_NOT_MET, SfCreate, SfDelete, SfUpdate, WriteResult
from core.backfill import BatchResult, Checkpoint
from core.downsync import NewGoogleEvent
from core.errors import GoogleRefused, LeaseLost, LockError
from core.fields import GooglePatch, NewPerson, apply_google_patch
from core.issues import Issue
from core.labels import LabelPatch
from core.model import (
    Item,
    ItemKey,
    ItemStatus,
    MappingQuery,
    PersonKind,
    ResolvedPerson,
    SfEventState,
    Span,
    saved_count,
)
from core.model import (
    Mapping as MappingRecord,
)
from core.ports import BudgetCheck, CalendarChanges, Channel, Fence, ItemPage, UserProblem
from core.users import SyncState, User, normalise_email

MARKER = "calsync-key: "


class Crash(BaseException):
    """The process died here (a BaseException: nothing in calsync may catch it)."""


@dataclass
class Faults:
    """Crash and fault injection shared by the fakes of one test.

    `crash_at`: the number of the write that never happens (the process dies just before it).
    `refuse`: (kind, predicate) → a permanent per-record refusal; `lose`: (kind, predicate) →
    the write is applied and its answer lost (a retryable failure), how a crash after a write
    looks from outside; `down`: (kind, predicate) → a 503 before anything is applied.
    Kinds: "sf_create", "sf_update", "sf_delete", "label", "patch".
    """

    crash_at: int | None = None
    writes: int = 0
    refuse: list[tuple[str, Callable[[Any], bool]]] = field(default_factory=list)
    lose: list[tuple[str, Callable[[Any], bool]]] = field(default_factory=list)
    down: list[tuple[str, Callable[[Any], bool]]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def write(self, what: str) -> None:
        self.writes += 1
        if self.crash_at is not None and self.writes >= self.crash_at:
            self.crash_at = None
            raise Crash(f"crash before write {self.writes} ({what})")
        self.log.append(what)

    def refused(self, kind: str, thing: Any) -> bool:
        return any(k == kind and p(thing) for k, p in self.refuse)

    def lost(self, kind: str, thing: Any) -> bool:
        return any(k == kind and p(thing) for k, p in self.lose)

    def unavailable(self, kind: str, thing: Any) -> bool:
        return any(k == kind and p(thing) for k, p in self.down)


REFUSED = "FIELD_CUSTOM_VALIDATION_EXCEPTION"


def _refusal(ref: str) -> WriteResult:
    return WriteResult(ref, False, "", REFUSED, "refused by a validation rule")


def _lost(ref: str) -> WriteResult:
    return WriteResult(ref, False, "", "HTTP_503", "the answer was lost", retryable=True)


def _changed(ref: str) -> WriteResult:
    """Google's 412 to a write conditional on an etag the copy no longer has."""
    return WriteResult(ref, False, "", CONDITION_NOT_MET, "Precondition Failed")


def _down(ref: str) -> WriteResult:
    return WriteResult(ref, False, "", "SERVER_UNAVAILABLE", "try again later", retryable=True)


# --- Firestore stores -------------------------------------------------------------------------


@dataclass
class FakeLease:
    """core.ports.Lease on a dict, with a clock the test moves."""

    faults: Faults = field(default_factory=Faults)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    leases: dict[str, tuple[str, int, datetime]] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)

    def acquire(self, email: str, holder: str, ttl: timedelta) -> Fence | None:
        now = self.clock()
        current = self.leases.get(email)
        if current is not None and current[0] != holder and current[2] > now:
            return None
        generation = self.generations.get(email, 0) + 1
        self.generations[email] = generation
        self.leases[email] = (holder, generation, now + ttl)
        return Fence(email, holder, generation)

    def renew(self, fence: Fence, ttl: timedelta) -> bool:
        if not self.holds(fence):
            return False
        self.leases[fence.email] = (fence.holder, fence.generation, self.clock() + ttl)
        return True

    def release(self, fence: Fence) -> None:
        if self.holds(fence):
            del self.leases[fence.email]

    def holds(self, fence: Fence) -> bool:
        current = self.leases.get(fence.email)
        return current is not None and current[:2] == (fence.holder, fence.generation)

    def check(self, fence: Fence | None) -> None:
        if fence is not None and not self.holds(fence):
            raise LeaseLost(f"the lease of {fence.email} was taken over")


class InMemorySettingsStore:
    """core.ports.SettingsStore in a dict."""

    def __init__(self, lease: FakeLease | None = None, faults: Faults | None = None) -> None:
        self._org: dict[str, Any] = {}
        self._org_last_valid: dict[str, Any] = {}
        self._status: dict[str, Any] = {}
        self._users: dict[str, User] = {}
        self.broken: dict[str, str] = {}  # doc id → reason: an unreadable user document
        self.lease = lease or FakeLease()
        self.faults = faults or self.lease.faults

    def org_settings(self) -> dict[str, Any]:
        return copy.deepcopy(self._org)

    def last_valid_org_settings(self) -> dict[str, Any]:
        return copy.deepcopy(self._org_last_valid)

    def remember_valid_settings(self, email: str, values: Mapping[str, Any]) -> None:
        if not email:
            self._org_last_valid = copy.deepcopy(dict(values))
        elif email in self._users:
            self._users[email] = replace(self._users[email], settings_last_valid=dict(values))

    def set_org_settings(self, values: Mapping[str, Any]) -> None:
        self._org.update(copy.deepcopy(dict(values)))

    def org_status(self) -> dict[str, Any]:
        return dict(self._status)

    def set_org_status(self, values: Mapping[str, Any]) -> None:
        self._status.update(values)

    def get_user(self, email: str) -> User | None:
        return self._users.get(normalise_email(email))

    def get_users(self, emails: Iterable[str]) -> list[User]:
        found = {e.strip().lower() for e in emails} & set(self._users)
        return [self._users[k] for k in sorted(found)]

    def user_for_channel(self, channel_id: str) -> User | None:
        found = [u for u in self._users.values() if channel_id and u.state.channel_id == channel_id]
        return found[0] if len(found) == 1 else None

    def users_with_sf_ids(self, sf_user_ids: Iterable[str]) -> list[User]:
        wanted = {i for i in sf_user_ids if i}
        return sorted((u for u in self._users.values() if u.sf_user_id in wanted),
                      key=lambda u: u.email)  # fmt: skip

    def list_users(self, problems: list[UserProblem] | None = None) -> list[User]:
        if problems is not None:
            problems += [UserProblem(k, v) for k, v in sorted(self.broken.items())]
        return [self._users[k] for k in sorted(self._users)]

    def enable_user(self, email: str, sf_user_id: str = "") -> User:
        address = normalise_email(email)
        user = self._users.get(address) or User(email=address, enabled=False)
        user = replace(user, enabled=True, sf_user_id=sf_user_id or user.sf_user_id)
        self._users[address] = user
        return user

    def disable_user(self, email: str) -> None:
        address = normalise_email(email)
        if address not in self._users:
            raise KeyError(email)
        self._users[address] = replace(self._users[address], enabled=False)

    def set_sf_user_id(self, email: str, sf_user_id: str) -> None:
        address = normalise_email(email)
        self._users[address] = replace(self._users[address], sf_user_id=sf_user_id)

    def remove_user(self, email: str) -> None:
        del self._users[normalise_email(email)]

    def unset_org_settings(self, names: Iterable[str]) -> None:
        for name in names:
            self._org.pop(name, None)

    def unset_user_settings(self, email: str, names: Iterable[str]) -> None:
        address = normalise_email(email)
        user = self._users[address]
        kept = {k: v for k, v in user.settings.items() if k not in set(names)}
        self._users[address] = replace(user, settings=kept)

    def set_user_settings(self, email: str, values: Mapping[str, Any]) -> None:
        address = normalise_email(email)
        user = self._users[address]
        self._users[address] = replace(
            user, settings={**user.settings, **copy.deepcopy(dict(values))}
        )

    def save_sync_state(self, email: str, state: SyncState) -> None:
        address = normalise_email(email)
        self._users[address] = replace(self._users[address], state=state)

    def add_sf_changes(self, email: str, event_ids: Iterable[str]) -> None:
        address = normalise_email(email)
        user = self._users[address]
        ids = tuple(dict.fromkeys(user.state.sf_changed + tuple(event_ids)))
        self._users[address] = replace(user, state=replace(user.state, sf_changed=ids))

    def remove_sf_changes(self, email: str, event_ids: Iterable[str], *,
                          fence: Fence | None = None) -> None:  # fmt: skip
        self.lease.check(fence)
        address = normalise_email(email)
        user = self._users[address]
        gone = set(event_ids)
        ids = tuple(i for i in user.state.sf_changed if i not in gone)
        self._users[address] = replace(user, state=replace(user.state, sf_changed=ids))

    def set_state_fields(self, email: str, values: Mapping[str, Any], *,
                         fence: Fence | None = None,
                         expect: Mapping[str, Any] | None = None) -> bool:  # fmt: skip
        unknown = (set(values) | set(expect or {})) - set(SyncState.__dataclass_fields__)
        if unknown:
            raise KeyError(f"not SyncState fields: {', '.join(sorted(unknown))}")
        address = normalise_email(email)
        if address not in self._users:
            raise KeyError(email)
        self.faults.write("state")
        self.lease.check(fence)
        user = self._users[address]
        if any(getattr(user.state, k) != v for k, v in (expect or {}).items()):
            return False
        self._users[address] = replace(user, state=replace(user.state, **dict(values)))
        return True


class InMemoryMappingStore:
    """core.ports.MappingStore in a dict keyed like the Firestore documents."""

    def __init__(self, lease: FakeLease | None = None) -> None:
        self.docs: dict[tuple[str, ItemKey], MappingRecord] = {}
        self.lease = lease or FakeLease()
        self.reads: list[MappingQuery] = []  # what sessions asked for (issue 14)

    def for_user(self, email: str) -> list[MappingRecord]:
        return self._of(email)

    def for_query(self, email: str, query: MappingQuery) -> list[MappingRecord]:
        self.reads.append(query)
        return [m for m in self._of(email) if query.wants(m)]

    def count_saved(self, email: str) -> int:
        return saved_count(self._of(email))

    def _of(self, email: str) -> list[MappingRecord]:
        return [
            m for (u, _), m in sorted(self.docs.items(), key=lambda kv: str(kv[0])) if u == email
        ]

    def for_ical_uids(self, uids: Iterable[str]) -> list[MappingRecord]:
        wanted = set(uids)
        return [m for m in self.docs.values() if m.key.ical_uid in wanted]

    def for_sf_events(self, sf_event_ids: Iterable[str]) -> list[MappingRecord]:
        wanted = set(sf_event_ids)
        return [m for m in self.docs.values() if m.sf_event_id and m.sf_event_id in wanted]

    def put(self, mappings: Sequence[MappingRecord], fence: Fence | None = None) -> None:
        self.lease.faults.write("mappings.put")
        self.lease.check(fence)
        for m in mappings:
            self.docs[(m.user_email, m.key)] = m

    def delete(self, user_email: str, keys: Sequence[ItemKey], fence: Fence | None = None) -> None:
        self.lease.faults.write("mappings.delete")
        self.lease.check(fence)
        for key in keys:
            self.docs.pop((user_email, key), None)


class InMemoryIssueStore:
    """core.ports.IssueStore in a dict: (user, key, code) → (issue, open)."""

    def __init__(self, lease: FakeLease | None = None) -> None:
        self.docs: dict[tuple[str, str, str], tuple[Issue, bool]] = {}
        self.lease = lease or FakeLease()

    def open_for_user(self, email: str) -> list[Issue]:
        return [i for i, is_open in self.docs.values() if is_open and i.user_email == email]

    def record(self, opened: Sequence[Issue], closed: Sequence[Issue], now: datetime,
               fence: Fence | None = None) -> None:  # fmt: skip
        self.lease.faults.write("issues")
        self.lease.check(fence)
        for issue in closed:
            if issue.ident in self.docs:
                self.docs[issue.ident] = (self.docs[issue.ident][0], False)
        for issue in opened:
            self.docs[issue.ident] = (issue, True)

    def open(self) -> list[Issue]:
        return sorted((i for i, o in self.docs.values() if o), key=lambda i: i.ident)


# --- Google Calendar --------------------------------------------------------------------------


class FakeGoogle:
    """Every user's calendars: copies as Items, each change numbered (sync tokens are numbers)."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.items: dict[tuple[str, str], Item] = {}
        self.changed: dict[tuple[str, str], int] = {}
        self.seq = itertools.count(1)
        self.last = 0
        self.expired_before = 0  # tokens below this answer 410
        self.unreadable: set[str] = set()  # calendars answering 404
        self.calls = 0

    def put(self, item: Item) -> Item:
        """A change made by a person (or Google): it comes through the next token."""
        k = (item.calendar_id, item.id)
        self.last = next(self.seq)
        item = replace(item, etag=f'"{self.last}"')  # any change gives a new etag, as Google's
        self.items[k] = item
        self.changed[k] = self.last
        return item

    def calendar(self, email: str) -> FakeCalendar:
        return FakeCalendar(self, email)


class FakeCalendar:
    """core.ports.Calendar of one user on a FakeGoogle."""

    def __init__(self, google: FakeGoogle, email: str) -> None:
        self.g = google
        self.email = email

    def _check(self, calendar_id: str) -> None:
        self.g.calls += 1
        if calendar_id in self.g.unreadable:
            raise GoogleRefused("Not Found", status=404)

    def changes(self, calendar_id: str, sync_token: str, time_min: datetime,
                time_max: datetime) -> CalendarChanges:  # fmt: skip
        self._check(calendar_id)
        token = int(sync_token) if sync_token.isdigit() else None
        mine = {k: v for k, v in self.g.items.items() if k[0] == calendar_id}
        if token is not None and token >= self.g.expired_before:
            items = [v for k, v in mine.items() if self.g.changed[k] > token]
            return CalendarChanges(tuple(items), str(self.g.last), False)
        # As infra/google_calendar.py: showDeleted, so cancelled copies in the window come too.
        listed = [v for v in mine.values() if _overlaps(v, time_min, time_max)]
        return CalendarChanges(tuple(listed), str(self.g.last), True)

    def get_items(self, calendar_id: str, event_ids: Sequence[str]) -> list[Item]:
        self._check(calendar_id)
        return [
            self.g.items[(calendar_id, i)] for i in event_ids if (calendar_id, i) in self.g.items
        ]

    def instances(self, calendar_id: str, series_id: str, time_min: datetime,
                  time_max: datetime) -> list[Item]:  # fmt: skip
        return []

    def _patch(self, kind: str, patches: Sequence[Any],
               apply: Callable[[Item, Any], Item]) -> list[WriteResult]:  # fmt: skip
        self.g.faults.write(kind)
        out = []
        for p in patches:
            k = (p.calendar_id, p.event_id)
            if k not in self.g.items:
                out.append(WriteResult(p.event_id, False, "", "notFound", "Not Found"))
            elif p.if_match and p.if_match != self.g.items[k].etag:
                out.append(_changed(p.event_id))
            elif self.g.faults.refused(kind, p):
                out.append(WriteResult(p.event_id, False, "", "forbidden", "refused"))
            elif self.g.faults.unavailable(kind, p):
                out.append(_down(p.event_id))
            else:
                etag = self.g.put(apply(self.g.items[k], p)).etag
                lost = self.g.faults.lost(kind, p)
                out.append(_lost(p.event_id) if lost
                           else WriteResult(p.event_id, True, p.event_id, etag=etag))  # fmt: skip
        return out

    def apply_labels(self, patches: Sequence[LabelPatch]) -> list[WriteResult]:
        return self._patch("label", patches, labels.apply_patch)

    def apply_patches(self, patches: Sequence[GooglePatch]) -> list[WriteResult]:
        def patch(item: Item, p: GooglePatch) -> Item:
            return replace(apply_google_patch(item, p), updated=datetime.now(UTC))

        results = self._patch("patch", patches, patch)
        for p, r in zip(patches, results, strict=True):
            item = self.g.items.get((p.calendar_id, p.event_id))
            applied = r.ok or r.error_code == "HTTP_503" and r.message == "the answer was lost"
            if not applied or item is None:
                continue
            # Google: a change to the event (calsync writes where it may) reaches every copy of
            # it, the attendees' and a group calendar's.
            for k, other in list(self.g.items.items()):
                if other.ical_uid == item.ical_uid and k != (p.calendar_id, p.event_id) \
                        and other.status is not ItemStatus.CANCELLED:  # fmt: skip
                    self.g.put(patch(other, p))
        return results

    def delete_events(self, targets: Sequence[tuple[str, str]],
                      if_match: Sequence[str] = ()) -> list[WriteResult]:  # fmt: skip
        self.g.faults.write("google.delete")
        out = []
        conditions = list(if_match) + [""] * (len(targets) - len(if_match))
        for (calendar_id, event_id), etag in zip(targets, conditions, strict=True):
            item = self.g.items.get((calendar_id, event_id))
            if etag and item is not None and item.status is not ItemStatus.CANCELLED \
                    and item.etag != etag:  # fmt: skip
                out.append(_changed(event_id))
                continue
            if item is not None and item.status is not ItemStatus.CANCELLED:
                self.g.put(replace(item, status=ItemStatus.CANCELLED))
            out.append(WriteResult(event_id, True, event_id))
        return out

    def insert_events(self, events: Sequence[NewGoogleEvent]) -> list[WriteResult]:
        self.g.faults.write("google.insert")
        out = []
        for ev in events:
            k = (ev.calendar_id, ev.event_id)
            existed = k in self.g.items  # a retried insert: Google's 409 carries no etag
            if not existed:
                p = ev.fields
                span = None
                if p.start is not None and p.end is not None:
                    if p.start.date is not None and p.end.date is not None:
                        span = Span.all_day(p.start.date, p.end.date)
                    elif p.start.date_time is not None and p.end.date_time is not None:
                        span = Span.timed(p.start.date_time, p.end.date_time, p.start.time_zone)
                self.g.put(Item(ev.event_id, ev.calendar_id, f"{ev.event_id}@google.com",
                                span=span, title=p.summary or "", location=p.location or "",
                                description=p.description or "", color_id=ev.color_id,
                                private_props=ev.private_props))  # fmt: skip
            lost = self.g.faults.lost("insert", ev)
            etag = "" if existed else self.g.items[k].etag
            out.append(_lost(ev.event_id) if lost
                       else WriteResult(ev.event_id, True, ev.event_id, etag=etag))  # fmt: skip
        return out

    def watch(self, calendar_id: str, address: str, channel_id: str, token: str) -> Channel:
        return Channel(channel_id, token, f"res-{calendar_id}", 2**40)

    def stop(self, channel: Channel) -> None:
        return None


def _overlaps(item: Item, lo: datetime, hi: datetime) -> bool:
    if item.span is None:
        return False
    if item.is_series:
        return True
    try:
        return item.span.start_utc < hi and item.span.end_utc > lo
    except OverflowError:  # a year-9999 start west of UTC: far outside any window
        return False


# --- Salesforce -------------------------------------------------------------------------------


@dataclass
class SfRecord:
    id: str
    owner: str
    subject: str
    start: datetime
    end: datetime | None
    key: str = ""  # Calsync_Key__c
    description: str = ""
    location: str = ""
    created_by: str = "integration"
    pattern: str = ""
    deleted: bool = False
    modified: datetime | None = None


class FakeSalesforce:
    """core.ports.Salesforce on a dict of Events; `keyed` says whether Calsync_Key__c exists."""

    def __init__(self, faults: Faults | None = None, keyed: bool = True) -> None:
        self.faults = faults or Faults()
        self.keyed = keyed
        self.events: dict[str, SfRecord] = {}
        self.people: dict[str, ResolvedPerson] = {}
        self.ids = itertools.count(1)
        self.calls = 0

    # -- reads
    def live(self) -> list[SfRecord]:
        return [e for e in self.events.values() if not e.deleted]

    def search_people(self, emails: Iterable[str]) -> dict[str, ResolvedPerson]:
        self.calls += 1
        return {e.lower(): self.people[e.lower()] for e in emails if e.lower() in self.people}

    def search_people_and_events(
        self, emails: Iterable[str], event_ids: Sequence[str]
    ) -> tuple[dict[str, ResolvedPerson], list[SfEventState]]:
        """One call, as the adapter's Composite request makes it (search_people counts it)."""
        emails = list(emails)
        if emails:
            people = self.search_people(emails)
        else:
            people, self.calls = {}, self.calls + 1
        return people, self.event_states(event_ids)

    def user_ids(self, emails: Iterable[str]) -> dict[str, str]:
        found = self.search_people(emails)
        return {e: p.sf_id for e, p in found.items() if p.kind is PersonKind.USER}

    def accounts_by_domain(self, domains: Iterable[str]) -> dict[str, str]:
        return {}

    def has_key_field(self) -> bool:
        return self.keyed

    def event_states(self, event_ids: Sequence[str]) -> list[SfEventState]:
        out = []
        for i in event_ids:
            e = self.events.get(i)
            if e is None:
                out.append(SfEventState(i, "", deleted=True))
                continue
            out.append(SfEventState(
                e.id, e.owner, deleted=e.deleted, subject=e.subject, start_utc=e.start,
                end_utc=e.end, location=e.location, description=e.description.split("\n\n" + MARKER)[0],
                last_modified=e.modified, sync_key=e.key, is_recurrence2=bool(e.pattern),
                marker_key=e.description.rpartition(MARKER)[2] if MARKER in e.description else "",
                made_by_calsync=e.created_by == "integration",
            ))  # fmt: skip
        return out

    def event_summaries(self, event_ids: Sequence[str]) -> dict[str, tuple[str, datetime | None]]:
        return {
            i: (self.events[i].subject, self.events[i].start) for i in event_ids if i in self.events
        }

    def changed_events(self, owner_ids: Sequence[str], since: datetime,
                       until: datetime) -> tuple[list[SfEventState], datetime]:  # fmt: skip
        return [], until

    # -- writes
    def create_people(self, people: Sequence[NewPerson]) -> list[WriteResult]:
        self.faults.write("sf_people")
        out = []
        for p in people:
            sf_id = f"003{next(self.ids):012d}"
            self.people[p.email] = ResolvedPerson(p.email, p.kind, sf_id, p.account_id)
            out.append(WriteResult(p.email, True, sf_id))
        return out

    def _marker_find(self, key: str, owner: str, *starts: str) -> str:
        """As infra/salesforce.py: by owner and calsync's marker, at one of these starts."""
        for e in self.live():
            if (
                e.owner == owner
                and e.description.endswith(MARKER + key)
                and (not any(starts) or _instance(e.start) in starts)
            ):
                return e.id
        return ""

    def create_events(self, creates: Sequence[SfCreate]) -> list[WriteResult]:
        self.calls += 1
        self.faults.write("sf_create")
        out = []
        for c in creates:
            if self.faults.refused("sf_create", c):
                out.append(_refusal(c.sync_key))
                continue
            if self.faults.unavailable("sf_create", c):
                out.append(_down(c.sync_key))
                continue
            existing = ""
            if self.keyed:
                existing = next((e.id for e in self.live() if e.key == c.sync_key), "")
            elif c.retry:
                existing = self._marker_find(c.sync_key, c.fields.owner_id, c.intent_start,
                                             *c.tried_starts,
                                             _instance(c.fields.start_utc))  # fmt: skip
            if existing:  # an upsert, or a retry writing its fields again (infra/salesforce.py)
                record = self.events[existing]
                record.subject, record.start, record.end, record.location = (
                    c.fields.subject,
                    c.fields.start_utc,
                    c.fields.end_utc,
                    c.fields.location,
                )
                sf_id = existing
            else:
                sf_id = f"00U{next(self.ids):012d}"
                description = c.fields.description or ""
                if not self.keyed:
                    description = (
                        (description + "\n\n" if description else "") + MARKER + c.sync_key
                    )
                self.events[sf_id] = SfRecord(sf_id, c.fields.owner_id, c.fields.subject,
                                              c.fields.start_utc, c.fields.end_utc,
                                              c.sync_key if self.keyed else "", description,
                                              c.fields.location, pattern=c.fields.recurrence_pattern)  # fmt: skip
            out.append(_lost(c.sync_key) if self.faults.lost("sf_create", c)
                       else WriteResult(c.sync_key, True, sf_id))  # fmt: skip
        return out

    def update_events(self, updates: Sequence[SfUpdate]) -> list[WriteResult]:
        self.calls += 1
        self.faults.write("sf_update")
        out = []
        for u in updates:
            record = self.events.get(u.sf_event_id or u.occurrence_of)
            if record is None or record.deleted:
                out.append(WriteResult(u.sync_key, False, "", "ENTITY_IS_DELETED", "deleted"))
            elif self.faults.refused("sf_update", u):
                out.append(_refusal(u.sync_key))
            elif self.faults.unavailable("sf_update", u):
                out.append(_down(u.sync_key))
            else:
                if "subject" in u.send:
                    record.subject = u.fields.subject
                if "when" in u.send and not u.occurrence_of:
                    record.start, record.end = u.fields.start_utc, u.fields.end_utc
                if "location" in u.send:
                    record.location = u.fields.location
                lost = self.faults.lost("sf_update", u)
                out.append(_lost(u.sync_key) if lost else WriteResult(u.sync_key, True, record.id))
        return out

    def delete_events(self, deletes: Sequence[SfDelete]) -> list[WriteResult]:
        self.calls += 1
        self.faults.write("sf_delete")
        out = []
        for d in deletes:
            target = d.sf_event_id or d.occurrence_of
            if d.by_key:
                if self.keyed:
                    target = next((e.id for e in self.live() if e.key == d.sync_key), "")
                else:
                    target = self._marker_find(d.sync_key, d.owner_id, d.intent_start,
                                               *d.tried_starts)  # fmt: skip
            if self.faults.refused("sf_delete", d):
                out.append(WriteResult(d.sync_key, False, "", "DELETE_FAILED", "refused"))
                continue
            if self.faults.unavailable("sf_delete", d):
                out.append(_down(d.sync_key))
                continue
            if d.occurrence_of and not d.series:
                out.append(WriteResult(d.sync_key, True, target))  # one occurrence: not modelled
                continue
            if target and target in self.events:
                self.events[target].deleted = True
            lost = self.faults.lost("sf_delete", d)
            out.append(_lost(d.sync_key) if lost else WriteResult(d.sync_key, True, target))
        return out


def _instance(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


# --- backfill ------------------------------------------------------------------------


class InMemoryBackfillStore:
    """core.ports.BackfillStore in dicts; `saves` counts checkpoint writes."""

    def __init__(self) -> None:
        self.checkpoints: dict[str, Checkpoint] = {}
        self.holds: dict[str, tuple[str, Any]] = {}
        self.saves = 0

    def get(self, email: str):
        return self.checkpoints.get(email)

    def list(self):
        return [self.checkpoints[k] for k in sorted(self.checkpoints)]

    def save(self, checkpoint) -> None:
        self.checkpoints[checkpoint.email] = checkpoint
        self.saves += 1

    def claim(self, email: str, holder: str, now, ttl) -> bool:
        current = self.holds.get(email)
        if current and current[0] != holder and current[1] > now:
            return False
        self.holds[email] = (holder, now + ttl)
        return True

    def release(self, email: str, holder: str) -> None:
        if self.holds.get(email, ("",))[0] == holder:
            del self.holds[email]

    def held_until(self, email: str):
        current = self.holds.get(email)
        return current[1] if current else None


class FakePages:
    """core.ports.CalendarPages over lists of items per calendar; page tokens are offsets."""

    def __init__(self, items_by_calendar: dict[str, list]) -> None:
        self.items = items_by_calendar
        self.reads: list[tuple[str, str]] = []
        self.refuse_tokens = False  # answer a page token with 400, as an expired one would

    def _in_range(self, calendar_id: str, lo, hi) -> list:
        return [i for i in self.items.get(calendar_id, [])
                if i.span.start_utc < hi and i.span.end_utc > lo]  # fmt: skip

    def page(self, calendar_id, time_min, time_max, page_token, page_size):
        if page_token and self.refuse_tokens:
            self.refuse_tokens = False
            raise GoogleRefused("Invalid page token value.", status=400)
        self.reads.append((calendar_id, page_token))
        items = self._in_range(calendar_id, time_min, time_max)
        start = int(page_token or 0)
        chunk = items[start : start + page_size]
        more = start + page_size < len(items)
        return ItemPage(tuple(chunk), str(start + page_size) if more else "")

    def count(self, calendar_id, time_min, time_max) -> int:
        return len(self._in_range(calendar_id, time_min, time_max))


class FakeBatchRunner:
    """core.ports.BatchRunner as the session will be: idempotent by item key. Items titled
    "[skip]…" are skipped, "[fail]…" fail; the rest are saved once. Faults for the tests:
    `busy` raises LockError that many times; `crash_on` (a call number) saves the batch and
    then raises, as a crash before the checkpoint write; `interrupt_on` raises KeyboardInterrupt
    before saving anything."""

    def __init__(self) -> None:
        self.saved: list[str] = []
        self.calls: list[tuple[str, int, bool]] = []
        self.busy = 0
        self.crash_on: int | None = None
        self.interrupt_on: int | None = None

    def run(self, email, items, dry_run, bounds=None):
        if self.busy:
            self.busy -= 1
            raise LockError(f"a session of {email} is running")
        self.calls.append((email, len(items), dry_run))
        if self.interrupt_on == len(self.calls):
            raise KeyboardInterrupt
        result = BatchResult()
        for item in items:
            key = f"{email}/{item.key}"
            if item.title.startswith("[skip]") or key in self.saved:
                result += BatchResult(skipped=1)
            elif item.title.startswith("[fail]"):
                result += BatchResult(failed=1)
            else:
                if not dry_run:
                    self.saved.append(key)
                result += BatchResult(saved=1)
        if self.crash_on == len(self.calls):
            raise RuntimeError("crash after the batch, before the checkpoint")
        return result


class FakeBackfillQueue:
    def __init__(self) -> None:
        self.slices: list[tuple[str, str, int, Any]] = []

    def enqueue_slice(self, email, chain, slice_no, at) -> bool:
        self.slices.append((email, chain, slice_no, at))
        return True


class FixedBudget:
    """core.ports.ApiBudget answering the checks it is given, then ok."""

    def __init__(self, *checks) -> None:
        self.checks = list(checks)

    def check(self):
        return self.checks.pop(0) if self.checks else BudgetCheck(True)
