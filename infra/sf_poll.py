"""The poller: once a minute for the whole org (Cloud Scheduler, and the sweep), the Events that
changed in Salesforce go to the inboxes of their owners' sessions, and those sessions are queued
(R-21..R-23, R-26, R-30); public calendars' Events go to their one-way copies (R-25).

Cost when nothing changed: one Salesforce call (a queryAll on the indexed SystemModstamp), and
a second one (getDeleted) at most every five minutes, whatever the number of users. The
watermark is Salesforce's own SystemModstamp, re-read with an overlap for transactions that
commit late; rows read again in the overlap are not routed twice. Deletes come with the same
query while the Recycle Bin keeps them; getDeleted tells when Salesforce purged some before
calsync saw them, and then every mapped Event is checked again (a full check: rare, and costly
in proportion to the mappings).

What one poll reads of the mappings stays small at org scale:
- calsync's own writes are told apart by the echo ledger (infra/sf_ledger.py): a row that the
  integration user changed last and whose values hash as a session recorded writing them is
  dropped without a lookup; every other row is looked up as before;
- an owner seen for the first time (a user just enabled; every owner after a full check) is not
  onboarded here: the poll marks the user (`SyncState.sf_onboard`, a field write of its own) and
  queues their session, which reads that owner's Events of the window in one query
  (infra/session.py `_onboard`);
- the lookups of one poll are bounded (LOOKUP_SECONDS, max_lookups): past the bound, the rows
  are routed in SystemModstamp order up to the last one looked up, the watermark stops at its
  stamp, and the next poll carries on from there (the `seen` marks keep the routed ones of the
  same stamp from going twice). Nothing is skipped.

An enabled user whose Salesforce User id is not known yet (`users enable` matched it by email and
stored nothing; only a session with calendar items would store it) is matched by email here, once
when first seen and then hourly while Salesforce has no such User, and the id is stored (the
session's own field write): else a rep who works only in Salesforce would never be polled for.

State lives in one Firestore document (`calsync_org/sf_poll`), claimed by one poll at a time.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from core import sf_routing
from core.errors import CalsyncError, PermanentError
from core.issues import Issue
from core.model import Mapping, SfEventState
from core.ports import IssueStore, SessionQueue, SettingsStore
from core.settings import Settings, resolve
from core.sf_routing import Routes, Seen, SfChange, Why
from infra import sf_changes
from infra.salesforce import SalesforceAdapter
from infra.sf_ledger import FirestoreLedger

log = logging.getLogger("calsync.sf_poll")

POLL_DOC = ("calsync_org", "sf_poll")
OVERLAP = timedelta(minutes=2)  # late commits: a row may carry a stamp before the last read
DELETES_EVERY = timedelta(minutes=5)  # Salesforce advises replication calls no more often
RECYCLE_BIN = timedelta(days=15)  # how far back deleted rows (and getDeleted) reach
LEASE_TTL = timedelta(minutes=4)  # the function's timeout is 240 s
SEEN_KEPT = 5000  # newest marks kept for the overlap; an older row may be routed twice (harmless)
READ_FAILED = "CS-024"
MATCH_AGAIN = timedelta(hours=1)  # an enabled user with no Salesforce User: asked again hourly
LEDGER_MARGIN = timedelta(minutes=1)  # the ledger keeps Firestore's clock, the rows SF's
LOOKUP_SECONDS = 60.0  # mapping lookups of one poll; past this, the next poll carries on
MAX_LOOKUPS = 30_000  # Event ids looked up in one poll, whatever the time
LOOKUP_CHUNK = 600  # rows decided between two looks at the bound (20 queries of 30 ids)


@dataclass
class PollState:
    """Where the last poll left off. `since` and `deleted_through` are on Salesforce's clock."""

    since: datetime | None = None  # SystemModstamp watermark
    seen: tuple[str, ...] = ()  # rows routed inside the overlap ("id@stamp")
    deleted_through: datetime | None = None  # getDeleted's latestDateCovered
    deletes_checked_at: datetime | None = None  # calsync's clock
    owners: tuple[str, ...] = ()  # SF ids whose users were marked for onboarding (sf_onboard)
    public_entries: dict[str, str] = field(default_factory=dict)  # entry → fingerprint
    integration_user: str = ""  # calsync's SF User id (the echo check; the webhook reads it)
    unmatched: tuple[str, ...] = ()  # enabled users Salesforce had no User for, last asked...
    unmatched_at: datetime | None = None  # ...at this time (calsync's clock)
    last_poll_at: datetime | None = None
    last_result: str = ""

    def doc(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def of(cls, data: dict[str, Any]) -> PollState:
        known = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in known}
        for name in ("seen", "owners", "unmatched"):
            values[name] = tuple(str(v) for v in values.get(name) or ())
        values["public_entries"] = dict(values.get("public_entries") or {})
        return cls(**values)


class FirestorePollStore:
    """The poll's state document, claimed by one poll at a time (expiry on Firestore's clock)."""

    def __init__(self, client: firestore.Client) -> None:
        self._db = client
        self._ref = client.collection(POLL_DOC[0]).document(POLL_DOC[1])

    def read(self) -> PollState:
        snapshot = self._ref.get()
        return PollState.of(snapshot.to_dict() or {}) if snapshot.exists else PollState()

    def claim(self, holder: str, ttl: timedelta = LEASE_TTL) -> PollState | None:
        """The state, for `holder` alone until it saves or `ttl` passes; None while another
        poll holds it."""

        @firestore.transactional
        def take(txn: firestore.Transaction) -> PollState | None:
            snapshot = self._ref.get(transaction=txn)
            data = (snapshot.to_dict() or {}) if snapshot.exists else {}
            now = snapshot.read_time or datetime.now(UTC)
            lease = data.get("_lease") or {}
            if lease.get("holder") and lease.get("until") and lease["until"] > now:
                return None
            txn.set(self._ref, {"_lease": {"holder": holder, "until": now + ttl}}, merge=True)
            return PollState.of(data)

        result = take(self._db.transaction())
        return result if isinstance(result, PollState) else None

    def save(self, holder: str, state: PollState) -> bool:
        """Write the state and give the claim back; False (nothing written) when the claim
        expired and another poll took it meanwhile."""

        @firestore.transactional
        def write(txn: firestore.Transaction) -> bool:
            snapshot = self._ref.get(transaction=txn)
            lease = ((snapshot.to_dict() or {}) if snapshot.exists else {}).get("_lease") or {}
            if lease.get("holder") != holder:
                return False
            txn.set(self._ref, {**state.doc(), "_lease": {"holder": "", "until": None}})
            return True

        return bool(write(self._db.transaction()))

    def release(self, holder: str) -> None:
        @firestore.transactional
        def give_back(txn: firestore.Transaction) -> None:
            snapshot = self._ref.get(transaction=txn)
            lease = ((snapshot.to_dict() or {}) if snapshot.exists else {}).get("_lease") or {}
            if lease.get("holder") == holder:
                txn.update(self._ref, {"_lease": {"holder": "", "until": None}})

        give_back(self._db.transaction())


@dataclass
class PollReport:
    """What one poll did (counts and ids only: it is logged and answered)."""

    busy: bool = False
    calls: int = 0  # Salesforce API calls made
    read: int = 0  # rows read
    routed: dict[str, int] = field(default_factory=dict)  # user → ids added to the inbox
    queued: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason → rows
    public: int = 0  # copies written
    full_check: bool = False
    onboarded: int = 0  # owners marked for onboarding by their own session
    looked_up: int = 0  # Event ids whose mappings were read
    ledger: int = 0  # rows dropped as calsync's own writes by the ledger, without a lookup
    partial: bool = False  # the bound stopped the routing: the next poll carries on
    error: str = ""

    def answer(self) -> dict[str, Any]:
        return {"busy": self.busy, "calls": self.calls, "read": self.read,
                "routed": sum(self.routed.values()), "users": len(self.routed),
                "queued": self.queued, "dropped": self.dropped, "public": self.public,
                "full_check": self.full_check, "onboarded": self.onboarded,
                "looked_up": self.looked_up, "ledger": self.ledger, "partial": self.partial,
                "error": self.error}  # fmt: skip


class MappingLookup:
    """What the poller reads of the mappings (infra/sync_store.FirestoreMappingStore)."""

    def for_sf_events(self, sf_event_ids: Iterable[str]) -> list[Mapping]: ...

    def mapped_sf_events(self) -> Iterable[Mapping]: ...


PublicCopier = Callable[[Sequence[SfChange], Sequence[str], Settings, datetime], int]
"""R-25: (changes of listed calendars, calendars to read whole, settings, now) → copies written."""


@dataclass
class Poller:
    store: FirestorePollStore
    settings: SettingsStore
    mappings: Any  # MappingLookup
    issues: IssueStore
    queue: SessionQueue
    salesforce: Callable[[], SalesforceAdapter]
    integration_username: str = ""
    public: PublicCopier | None = None
    ledger: FirestoreLedger | None = None  # calsync's own writes, told without lookups
    max_lookups: int = MAX_LOOKUPS
    lookup_seconds: float = LOOKUP_SECONDS
    lookup_chunk: int = LOOKUP_CHUNK
    clock: Callable[[], float] = time.monotonic

    def run(self, now: datetime) -> PollReport:
        holder = uuid.uuid4().hex
        state = self.store.claim(holder)
        if state is None:
            log.info("poll skipped: another poll runs")
            return PollReport(busy=True)
        report = PollReport()
        try:
            new = self._poll(state, now, report)
        except CalsyncError as exc:
            self.store.release(holder)
            report.error = f"{type(exc).__name__}: {exc.message[:200]}"
            log.warning("poll failed", extra={"code": getattr(exc, "sf_code", "") or exc.code})
            if isinstance(exc, PermanentError):
                self._org_issue(now, f"Salesforce changes cannot be read: {report.error}")
            raise
        except BaseException:
            self.store.release(holder)
            raise
        new.last_poll_at, new.last_result = now, "ok"
        if not self.store.save(holder, new):
            log.warning("poll state not saved: the claim expired")
        self._org_issue(now, None)
        log.info("poll done", extra={"count": report.read, "status": f"calls {report.calls}"})
        return report

    # -- one poll -------------------------------------------------------------------------

    def _poll(self, state: PollState, now: datetime, report: PollReport) -> PollState:
        sf = self.salesforce()
        calls = sf.calls
        settings, _ = resolve(self.settings.org_settings(), None, "org",
                              last_valid_org=self.settings.last_valid_org_settings())  # fmt: skip
        users = [u for u in self.settings.list_users() if u.enabled]
        owners = {u.sf_user_id: u.email for u in users if u.sf_user_id}
        unmatched, unmatched_at = self._match(sf, users, state, now, owners)
        calendars = sorted({e.sf_calendar_id for e in settings.sf_public_calendars})
        integration = state.integration_user or sf_changes.user_id(sf, self.integration_username)
        since = state.since or now - OVERLAP
        full = now - since > RECYCLE_BIN
        if full:
            since = now - OVERLAP
        rows = sf_changes.changed_since(sf, since - OVERLAP, sorted(owners) + calendars)
        report.read = len(rows)
        changes = Seen(set(state.seen)).new(rows)
        deleted_through, checked_at = state.deleted_through, state.deletes_checked_at
        if checked_at is None or now - checked_at >= DELETES_EVERY:
            start = deleted_through or since - OVERLAP
            try:
                feed = self._deletes(sf, start, now)
            except sf_changes.ReplicationGap as gap:
                log.warning("deletes purged before they were read: full check", extra={
                    "action": str(gap)[:120]})  # fmt: skip
                full, feed = True, None
            if feed is not None:
                known = {c.id for c in rows}
                changes += [_bare_delete(i) for i in feed.ids if i not in known]
                deleted_through = feed.latest
            elif full:
                deleted_through = None
            checked_at = now
        if full:
            report.full_check = True
            extra = self._full_check(sf)
        else:
            extra = []
        written = self._written(since, now)
        public = frozenset(calendars)
        routes, done = self._route(changes, extra, owners, integration, public, written, report)
        self._deliver(routes, now, report)
        onboarded = self._mark_new(owners, state, full, now, report)
        report.public = self._copy(routes, settings, state, now, sf)
        report.calls = sf.calls - calls
        routed_rows = rows if done is None else [c for c in rows if _upto(c, done)]
        newest = max((c.stamp for c in routed_rows if c.stamp is not None), default=since)
        new_since = max(since, newest)
        keep = [
            Seen.mark(c) for c in routed_rows
            if c.stamp is not None and c.stamp >= new_since - OVERLAP
        ]  # fmt: skip
        keep += [
            m for m in state.seen if done is not None and _mark_stamp(m) >= new_since - OVERLAP
        ]
        return replace(
            state,
            since=new_since,
            seen=tuple(sorted(set(keep), key=lambda m: (_mark_stamp(m), m))[-SEEN_KEPT:]),
            deleted_through=deleted_through if deleted_through is not None else since,
            deletes_checked_at=checked_at,
            owners=onboarded,
            public_entries=_entry_marks(settings),
            integration_user=integration,
            unmatched=unmatched,
            unmatched_at=unmatched_at,
        )

    def _written(self, since: datetime, now: datetime) -> dict[str, sf_routing.Fingerprint]:
        """R-26: the echo ledger of the rows this poll reads (one query), its old documents
        deleted; nothing (every row looked up) when it cannot be read."""
        if self.ledger is None:
            return {}
        try:
            self.ledger.expire()
            return self.ledger.since(now - since + OVERLAP + LEDGER_MARGIN)
        except Exception as exc:  # noqa: BLE001 - the lookups are the fallback
            log.warning("echo ledger not read", extra={"code": type(exc).__name__})
            return {}

    def _route(self, changes: Sequence[SfChange], extra: Sequence[SfChange],
               owners: dict[str, str], integration: str, public: frozenset[str],
               written: dict[str, sf_routing.Fingerprint],
               report: PollReport) -> tuple[Routes, SfChange | None]:  # fmt: skip
        """Route the new rows in SystemModstamp order (the query's), reading the mappings of
        those the ledger does not settle, until the bound; `extra` (bare deletes, a full check)
        goes whole. Returns the routes and, when the bound stopped it, the last row routed."""
        started = self.clock()
        by_id: dict[str, list[Mapping]] = {}
        looked: set[str] = set()

        def look(batch: Iterable[SfChange]) -> None:
            ids = {c.id for c in batch if c.id not in looked
                   and sf_routing.needs_mappings(c, written, integration, public)}  # fmt: skip
            ids.discard("")
            if ids:
                for m in self.mappings.for_sf_events(ids):
                    by_id.setdefault(m.sf_event_id, []).append(m)
                looked.update(ids)

        look(extra)
        ordered = sorted(changes, key=_order)
        taken = len(ordered)
        for start in range(0, len(ordered), self.lookup_chunk):
            over = self.clock() - started >= self.lookup_seconds
            if start and (over or len(looked) >= self.max_lookups):
                taken = start
                break
            look(ordered[start : start + self.lookup_chunk])
        routed = ordered[:taken]
        report.looked_up = len(looked)
        report.partial = taken < len(ordered)
        routes = sf_routing.route([*routed, *extra], owners, by_id, integration, public, written)
        report.ledger = sum(1 for c in routed if sf_routing.ledger_echo(c, written, integration))
        if report.partial:
            log.warning("poll bounded: the next poll carries on", extra={
                "count": taken, "status": f"{len(ordered) - taken} rows left"})  # fmt: skip
        return routes, (routed[-1] if report.partial and routed else None)

    def _mark_new(self, owners: dict[str, str], state: PollState, full: bool, now: datetime,
                  report: PollReport) -> tuple[str, ...]:  # fmt: skip
        """R-21: owners seen for the first time (all of them on a full check) are marked for
        their own session to read their window (`sf_onboard`), and that session is queued.
        Returns the owners marked so far; one whose mark failed is tried again next poll."""
        marked = set(state.owners) & set(owners) if not full else set()
        mark = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for sf_id in sorted(set(owners) - marked):
            email = owners[sf_id]
            try:
                # A field write of its own: it cannot clobber what a running session saves.
                self.settings.set_state_fields(email, {"sf_onboard": mark})
            except (KeyError, CalsyncError):
                log.warning("onboarding not marked", extra={"user": email})
                continue
            marked.add(sf_id)
            report.onboarded += 1
            try:
                report.queued += bool(self.queue.enqueue(email, now, reason="salesforce"))
            except Exception as exc:  # noqa: BLE001 - the mark stays; the sweep queues
                log.warning("session not queued", extra={"user": email,
                                                         "code": type(exc).__name__})  # fmt: skip
        return tuple(sorted(marked))

    def _match(self, sf: SalesforceAdapter, users: Sequence[Any], state: PollState, now: datetime,
               owners: dict[str, str]) -> tuple[tuple[str, ...], datetime | None]:  # fmt: skip
        """Enabled users with no Salesforce User id yet, matched by email (one call, only when
        one is new or the hour is up); found ids are stored and join `owners`."""
        missing = sorted(u.email for u in users if not u.sf_user_id)
        due = state.unmatched_at is None or now - state.unmatched_at >= MATCH_AGAIN
        ask = [e for e in missing if due or e not in state.unmatched]
        if not ask:
            return tuple(e for e in state.unmatched if e in missing), state.unmatched_at
        found = sf.user_ids(ask)
        for email, sf_id in found.items():
            if sf_id:
                self.settings.set_sf_user_id(email, sf_id)  # the id only, as the session does
                owners[sf_id] = email
        left = sorted((set(state.unmatched) & set(missing)) | {e for e in ask if not found.get(e)})
        return tuple(left), now if due else state.unmatched_at

    def _deletes(self, sf: SalesforceAdapter, start: datetime,
                 now: datetime) -> sf_changes.DeletedFeed | None:  # fmt: skip
        """getDeleted over [start, now), when its window is allowed: no more than 15 days back
        (older: a full check), more than a minute long (shorter: next time)."""
        if now - start > RECYCLE_BIN:
            raise sf_changes.ReplicationGap("the last delete check is older than 15 days")
        if now.replace(second=0, microsecond=0) - start.replace(second=0, microsecond=0) <= \
                timedelta(minutes=1):  # fmt: skip
            return None
        return sf_changes.deleted_between(sf, start, now)

    def _full_check(self, sf: SalesforceAdapter) -> list[SfChange]:
        """Every mapped Event as Salesforce has it now; one it no longer has is a delete."""
        ids = sorted({m.sf_event_id for m in self.mappings.mapped_sf_events()})
        found = {c.id: c for c in sf_changes.events_by_id(sf, ids)}
        return [found.get(i) or _bare_delete(i) for i in ids]

    def _deliver(self, routes: Routes, now: datetime, report: PollReport) -> None:
        """Into each user's inbox first (ArrayUnion), then the session: a lost task is made good
        by the sweep, a lost inbox write by the next poll (the state is saved after this)."""
        for user, ids in routes.inboxes.items():
            self.settings.add_sf_changes(user, ids)
            report.routed[user] = len(ids)
            try:
                report.queued += bool(self.queue.enqueue(user, now, reason="salesforce"))
            except Exception as exc:  # noqa: BLE001 - the inbox holds the ids; the sweep queues
                log.warning("session not queued", extra={"user": user,
                                                         "code": type(exc).__name__})  # fmt: skip
        report.dropped = {w.value: n for w in Why if w not in (Why.ROUTED, Why.PUBLIC)
                          if (n := routes.count(w))}  # fmt: skip

    def _copy(self, routes: Routes, settings: Settings, state: PollState, now: datetime,
              sf: SalesforceAdapter) -> int:  # fmt: skip
        if self.public is None or not settings.sf_public_calendars:
            return 0
        from core.public_calendars import entries_changed

        fresh = entries_changed(settings.sf_public_calendars, state.public_entries)
        return self.public(routes.public, sorted({e.sf_calendar_id for e in fresh}), settings, now)

    def _org_issue(self, now: datetime, message: str | None) -> None:
        """CS-024 while Salesforce cannot be read for a reason a retry cannot fix; closed by the
        next poll that reads."""
        try:
            have = [i for i in self.issues.open_for_user("") if i.code == READ_FAILED]
            if message is None:
                if have:
                    self.issues.record([], have, now)
                return
            want = Issue(READ_FAILED, "", "salesforce", message[:900])
            if not any(h.message == want.message for h in have):
                self.issues.record([want], [], now)
        except CalsyncError:
            log.warning("poll issue not recorded")


def _order(change: SfChange) -> tuple[datetime, str]:
    return (change.stamp or datetime.min.replace(tzinfo=UTC), change.id)


def _upto(change: SfChange, last: SfChange) -> bool:
    """Whether `change` comes at or before `last` in the routing order."""
    return _order(change) <= _order(last)


def _mark_stamp(mark: str) -> datetime:
    try:
        return datetime.fromisoformat(mark.rpartition("@")[2])
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def _bare_delete(event_id: str) -> SfChange:
    """A delete known by its id only (its row is gone, or the log named it)."""
    return SfChange(SfEventState(event_id, "", deleted=True), read=False)


def _entry_marks(settings: Settings) -> dict[str, str]:
    from core.public_calendars import entry_fingerprint, entry_key

    return {entry_key(e): entry_fingerprint(e) for e in settings.sf_public_calendars}
