"""One sync session of one user: observe → plan → execute (R-27..R-30, R-36, R-37, R-39).

The session holds the user's lease, reads what changed in their calendars, asks the core for a
plan and carries it out: Salesforce first (so a mapping never points at nothing), then the
mappings, the labels and the issues, and only then the new sync tokens, so that a crash at any
point makes the next session see the same changes again. Pure decisions live in core/; this
module only moves data between the ports.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from core import labels
from core.errors import LockError, RetryableError
from core.issues import Issue
from core.labels import Label, LabelPatch, LabelState
from core.model import (
    Item,
    ItemKey,
    ItemStatus,
    Mapping,
    People,
    PersonKind,
    SessionUser,
    instance_text,
)
from core.plan import (
    AttachmentUpload,
    GoogleDelete,
    GoogleWrite,
    HistoryNote,
    IssueClose,
    IssueOpen,
    LabelWrite,
    MappingDelete,
    MappingPut,
    Plan,
    SessionInput,
    SfCreate,
    SfDelete,
    SfUpdate,
    plan,
)
from core.ports import (
    Calendar,
    CalendarChanges,
    IssueStore,
    Lease,
    MappingStore,
    Salesforce,
    SettingsStore,
    WriteResult,
)
from core.settings import Settings, resolve
from core.users import User

log = logging.getLogger("calsync.session")
LEASE_TTL = timedelta(minutes=10)
SF_REFUSED = "CS-010"
UNAVAILABLE = "CS-011"
NO_SF_USER = "CS-012"


class SessionBusy(LockError):
    """Another session of this user holds the lease (R-29): try again shortly."""


@dataclass
class Report:
    """What a session did, for the CLI, the task's answer and the logs (counts and ids only)."""

    user: str
    plan: Plan | None = None
    dry_run: bool = False
    created: dict[str, str] = field(default_factory=dict)  # sync key → SF Event id
    failed: dict[str, WriteResult] = field(default_factory=dict)  # sync key → failure
    occurrences: dict[tuple[str, str], str] = field(default_factory=dict)  # (series, instance) → id
    retry: bool = False  # something failed that a retry can fix
    items_seen: int = 0
    full_sync: bool = False

    def summary(self) -> str:
        if self.plan is None:
            return f"{self.user}: nothing read"
        head = f"{self.user}: {self.items_seen} changed items"
        if self.full_sync:
            head += " (full sync)"
        if self.dry_run:
            return head + ", dry run, nothing written\n" + self.plan.render()
        counts = {
            "created": len(self.created),
            "updated": len(self.plan.of(SfUpdate)),
            "deleted": len(self.plan.of(SfDelete)),
            "labelled": len(self.plan.of(LabelWrite)),
            "failed": len(self.failed),
        }
        return head + ", " + ", ".join(f"{v} {k}" for k, v in counts.items())


@dataclass
class Services:
    """The ports a session runs on (real adapters in production, the emulators in tests)."""

    settings: SettingsStore
    mappings: MappingStore
    issues: IssueStore
    lease: Lease
    calendar_for: Callable[[str], Calendar]
    salesforce: Callable[[], Salesforce]
    history: Callable[[Sequence[HistoryNote], str, datetime], None] = lambda notes, user, now: None


@dataclass
class _Observed:
    items: list[Item]
    tokens: dict[str, str]  # calendar id → next sync token
    full: bool


def window(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """R-05: the sliding window."""
    return (
        now - timedelta(days=settings.window_past_days),
        now + timedelta(days=settings.window_future_days),
    )


class Session:
    def __init__(self, services: Services, email: str, now: datetime):
        self.s = services
        self.email = email
        self.now = now
        self.holder = uuid.uuid4().hex

    # -- the whole session ---------------------------------------------------------------

    def run(self, dry_run: bool = False, sweep: bool = False) -> Report:
        """Run one session. Raises SessionBusy when another one runs, RetryableError when a
        retry can fix what failed (after recording everything that did succeed)."""
        if not dry_run and not self.s.lease.acquire(self.email, self.holder, self.now, LEASE_TTL):
            raise SessionBusy(f"a session of {self.email} is running")
        try:
            report = self._run(dry_run, sweep)
        finally:
            if not dry_run:
                self.s.lease.release(self.email, self.holder)
        if report.retry:
            raise RetryableError(f"{len(report.failed)} writes of {self.email} will be retried")
        return report

    def _run(self, dry_run: bool, sweep: bool) -> Report:
        report = Report(self.email, dry_run=dry_run)
        user = self.s.settings.get_user(self.email)
        if user is None or not user.enabled:
            log.info("session skipped: user not enabled", extra={"user": self.email})
            return report
        settings, problems = resolve(self.s.settings.org_settings(), user.settings, user.email)
        for problem in problems:
            log.warning("setting ignored: %s", problem.name, extra={"user": user.email})
        calendar = self.s.calendar_for(user.email)
        observed = self._observe(calendar, user, settings, sweep)
        report.items_seen, report.full_sync = len(observed.items), observed.full
        if not observed.items and not user.state.deletes_confirmed:
            report.plan = Plan(())
            if not dry_run:
                self._save_state(user, observed, settings)
            return report  # no change, no Salesforce call
        sf = self.s.salesforce()
        sf_user_id = user.sf_user_id or self._match_sf_user(sf, user, dry_run)
        if not sf_user_id:
            self._no_sf_user(user, dry_run)
            report.plan = Plan(())
            return report
        inp = self._input(sf, user, sf_user_id, settings, observed.items)
        report.plan = plan(inp)
        if dry_run:
            return report
        created_people = self._create_people(sf, report.plan)
        if created_people:  # link the new Contacts/Leads by planning again
            inp = self._input(sf, user, sf_user_id, settings, observed.items)
            report.plan = plan(inp)
        self._execute(report, calendar, sf, observed.items, settings)
        if not report.retry:
            # held deletes must come back until the admin confirms, so the token waits.
            if report.plan.deletes_held:
                observed = replace(observed, tokens={})
            self._save_state(user, observed, settings, confirmed_used=inp.deletes_confirmed)
        log.info(
            "session done",
            extra={"user": user.email, "count": len(report.plan.actions), "status": "ok"},
        )
        return report

    # -- observe --------------------------------------------------------------------------

    def _observe(
        self, calendar: Calendar, user: User, settings: Settings, sweep: bool
    ) -> _Observed:
        lo, hi = window(settings, self.now)
        state = user.state
        calendars = [user.email, *settings.group_calendars]
        tokens = {user.email: state.calendar_sync_token, **state.group_sync_tokens}
        items: list[Item] = []
        next_tokens: dict[str, str] = {}
        full = False
        for calendar_id in calendars:
            changes: CalendarChanges = calendar.changes(
                calendar_id, tokens.get(calendar_id, ""), lo, hi
            )
            next_tokens[calendar_id] = changes.next_sync_token
            full = full or changes.full
            # Incremental reads cannot carry a window (API-FACTS A4): every change is kept, since
            # a saved item that left the window must still be updated; the core applies R-05.
            # Our own label writes come back through the token too: those echoes are dropped.
            items += [i for i in changes.items if changes.full or not is_echo(i)]
        if sweep:
            items += self._slid_in(calendar, user, settings, lo, hi, {i.id for i in items})
        items += self._parents(calendar, items)
        return _Observed(items, next_tokens, full)

    def _slid_in(
        self, calendar: Calendar, user: User, settings: Settings, lo: datetime, hi: datetime,
        have: set[str],
    ) -> list[Item]:  # fmt: skip
        """R-05, R-28: items that entered the window since the last sweep, and items waiting on
        R-07 or R-11 (their issue is open), are planned again."""
        since = _parse_date(user.state.window_end) or hi.date()
        start = datetime.combine(since, datetime.min.time(), UTC)
        waiting = {i.key for i in self.s.issues.open_for_user(user.email)}
        out: list[Item] = []
        if start < hi or waiting:
            listing = calendar.changes(user.email, "", lo if waiting else start, hi)
            out = [
                i
                for i in listing.items
                if i.id not in have
                and (
                    str(i.key) in waiting or str(i.series_key) in waiting or _starts_after(i, start)
                )
            ]
        return out

    def _parents(self, calendar: Calendar, items: list[Item]) -> list[Item]:
        """A series' parent, when only one of its instances changed (R-17 needs the rule)."""
        have = {(i.calendar_id, i.id) for i in items}
        wanted: dict[str, set[str]] = {}
        for i in items:
            if i.is_instance and (i.calendar_id, i.recurring_event_id) not in have:
                wanted.setdefault(i.calendar_id, set()).add(i.recurring_event_id)
        out: list[Item] = []
        for calendar_id, ids in wanted.items():
            out += calendar.get_items(calendar_id, sorted(ids))
        return out

    def _input(
        self, sf: Salesforce, user: User, sf_user_id: str, settings: Settings, items: list[Item]
    ) -> SessionInput:
        emails = sorted(_addresses(items))
        resolved = sf.search_people(emails) if emails else {}
        enabled: dict[str, str] = {}
        for u in self.s.settings.get_users(emails):
            found = resolved.get(u.email)
            sf_id = u.sf_user_id or (found.sf_id if found and found.kind is PersonKind.USER else "")
            if u.enabled and sf_id:
                enabled[u.email] = sf_id
        domains = sorted({e.rpartition("@")[2] for e in emails if e not in resolved})
        accounts = (
            sf.accounts_by_domain(domains)
            if settings.auto_create_unresolved == "contact" and domains
            else {}
        )
        # R-11 needs other users' mappings only where another enabled user takes part.
        uids = sorted(
            {i.ical_uid for i in items if i.ical_uid and _others_enabled(i, user.email, enabled)}
        )
        mine = self.s.mappings.for_user(user.email)
        others = (
            [m for m in self.s.mappings.for_ical_uids(uids) if m.user_email != user.email]
            if uids
            else []
        )
        return SessionInput(
            user=SessionUser(user.email, sf_user_id),
            settings=settings,
            now=self.now,
            items=tuple(items),
            mappings=tuple(mine),
            organizer_mappings=tuple(others),
            people=People(resolved=resolved, enabled_users=enabled, accounts_by_domain=accounts),
            open_issues=tuple(self.s.issues.open_for_user(user.email)),
            deletes_confirmed=user.state.deletes_confirmed,
        )

    def _match_sf_user(self, sf: Salesforce, user: User, dry_run: bool) -> str:
        found = sf.user_ids([user.email]).get(user.email, "")
        if found and not dry_run:
            self.s.settings.enable_user(user.email, sf_user_id=found)
        return found

    def _no_sf_user(self, user: User, dry_run: bool) -> None:
        issue = Issue(NO_SF_USER, user.email, "", "no active Salesforce User has this address")
        if not dry_run:
            self.s.issues.record([issue], [], self.now)
        log.warning("no Salesforce user", extra={"user": user.email, "code": NO_SF_USER})

    # -- execute --------------------------------------------------------------------------

    def _create_people(self, sf: Salesforce, p: Plan) -> bool:
        creates = [a for a in p.of(SfCreate) if isinstance(a, SfCreate)]
        people = {n.email: n for a in creates for n in a.new_people}
        if not people:
            return False
        results = sf.create_people(list(people.values()))
        return any(r.ok for r in results)

    def _execute(
        self, report: Report, calendar: Calendar, sf: Salesforce, items: list[Item],
        settings: Settings,
    ) -> None:  # fmt: skip
        p = report.plan
        assert p is not None
        creates = [a for a in p.of(SfCreate) if isinstance(a, SfCreate)]
        # creates that a crashed session may already have made are found, not repeated.
        # With Calsync_Key__c the upsert does that by itself, so the lookup is saved.
        existing = sf.find_events(creates) if creates and not sf.has_key_field() else {}
        todo = [c for c in creates if c.sync_key not in existing]
        report.created.update(existing)
        for result in sf.create_events(todo) if todo else []:
            self._note(report, result, created=True)
        updates = [a for a in p.of(SfUpdate) if isinstance(a, SfUpdate)]
        for update, result in zip(
            updates, sf.update_events(updates) if updates else [], strict=True
        ):
            self._note(report, result)
            if result.ok and result.id and update.occurrence_of and update.occurrence_start:
                # remember the occurrence's own Event, which a later move cannot hide.
                for instance in _instances(update.occurrence_start):
                    report.occurrences[(update.occurrence_of, instance)] = result.id
        deletes = [a for a in p.of(SfDelete) if isinstance(a, SfDelete)]
        for result in sf.delete_events(deletes) if deletes else []:
            self._note(report, result)
        failed = set(report.failed)
        self._write_mappings(p, report, failed)
        label_patches = [
            a.patch
            for a in p.of(LabelWrite)
            if isinstance(a, LabelWrite) and _label_key(a) not in failed
        ]
        label_patches += self._error_labels(report, items, settings)
        label_patches = _marked(label_patches, items)
        for result in calendar.apply_labels(label_patches) if label_patches else []:
            if not result.ok:
                report.retry = report.retry or result.retryable
                log.warning("label write failed", extra={"user": self.email, "item": result.ref,
                                                          "code": result.error_code})  # fmt: skip
        google = [a.patch for a in p.of(GoogleWrite) if isinstance(a, GoogleWrite)]
        if google:
            calendar.apply_patches(google)
        removed = [
            (a.calendar_id, a.event_id) for a in p.of(GoogleDelete) if isinstance(a, GoogleDelete)
        ]
        if removed:
            calendar.delete_events(removed)
        notes = [a for a in p.of(HistoryNote) if isinstance(a, HistoryNote)]
        if notes:
            self.s.history(notes, self.email, self.now)
        self._record_issues(report, items)

    def _note(self, report: Report, result: WriteResult, created: bool = False) -> None:
        if result.ok:
            if created:
                report.created[result.ref] = result.id
            return
        report.failed[result.ref] = result
        report.retry = report.retry or result.retryable
        log.warning(
            "salesforce write failed", extra={"user": self.email, "code": result.error_code}
        )

    def _write_mappings(self, p: Plan, report: Report, failed: set[str]) -> None:
        """Store and forget mappings in the plan's order, the last action on a key winning:
        a changed rule (R-17) forgets the old series' mapping and stores the new one under the
        same key, and the new one must stay."""
        final: dict[ItemKey, Mapping | None] = {}
        # R-20 is not carried out yet (no Drive download): files the plan meant to store are
        # left out of the mappings, so that they are stored once it is, instead of being lost.
        pending_files = {a.attachment.file_id for a in p.of(AttachmentUpload)
                         if isinstance(a, AttachmentUpload)}  # fmt: skip
        if pending_files:
            log.warning("attachments not stored: R-20 is not implemented yet",
                        extra={"user": self.email, "count": len(pending_files)})  # fmt: skip
        for a in p.actions:
            if isinstance(a, MappingDelete):
                if not _delete_failed(p, a, failed):
                    final[a.key] = None
                continue
            if not isinstance(a, MappingPut):
                continue
            m = a.mapping
            if m.sync_key in failed:
                continue  # nothing was written for it: the next session plans it again
            if not m.sf_event_id and not m.occurrence_of and m.sync_key in report.created:
                m = replace(m, sf_event_id=report.created[m.sync_key])
            elif not m.sf_event_id and m.occurrence_of:
                found = report.occurrences.get((m.occurrence_of, m.key.instance), "")
                m = replace(m, sf_event_id=found) if found else m
            if pending_files & set(m.attachments):
                m = replace(
                    m, attachments=tuple(f for f in m.attachments if f not in pending_files)
                )
            final[m.key] = m
        puts = [m for m in final.values() if m is not None]
        gone = [key for key, m in final.items() if m is None]
        if puts:
            self.s.mappings.put(puts)
        if gone:
            self.s.mappings.delete(self.email, gone)

    def _error_labels(
        self, report: Report, items: list[Item], settings: Settings
    ) -> list[LabelPatch]:
        """R-02: an item whose Salesforce write was refused carries the error label."""
        out = []
        p = report.plan
        assert p is not None
        keys = {a.sync_key: a for a in p.of(SfCreate) if isinstance(a, SfCreate)}
        by_key = {i.key: i for i in items}
        for sync_key, result in report.failed.items():
            create = keys.get(sync_key)
            if create is None or result.retryable:
                continue
            item = by_key.get(create.key)
            if item is None or item.status is ItemStatus.CANCELLED:
                continue
            label = Label(LabelState.ERROR, _refusal(result), SF_REFUSED)
            patch = labels.patch_for(item, label, settings, labels.wants_save(item, settings))
            if patch is not None:
                out.append(patch)
        return out

    def _record_issues(self, report: Report, items: list[Item]) -> None:
        p = report.plan
        assert p is not None
        failed_keys = set()
        opened = [a.issue for a in p.of(IssueOpen) if isinstance(a, IssueOpen)]
        by_key = {i.key: i for i in items}
        for a in p.of(SfCreate):
            assert isinstance(a, SfCreate)
            result = report.failed.get(a.sync_key)
            if result is None:
                continue
            failed_keys.add(str(a.key))
            item = by_key.get(a.key)
            code = UNAVAILABLE if result.retryable else SF_REFUSED
            start = item.span.start_utc if item is not None and item.span is not None else None
            title = item.title if item is not None else ""
            opened.append(Issue(code, self.email, str(a.key), _refusal(result), title, start))
        closed = [
            a.issue
            for a in p.of(IssueClose)
            if isinstance(a, IssueClose) and a.issue.key not in failed_keys
        ]
        if opened or closed:
            self.s.issues.record(opened, closed, self.now)

    def _save_state(
        self, user: User, observed: _Observed, settings: Settings, confirmed_used: bool = False
    ) -> None:
        """Only after everything was written: a crash before this re-reads the same changes."""
        tokens = {**user.state.group_sync_tokens, **observed.tokens}
        primary = tokens.pop(user.email, user.state.calendar_sync_token)
        state = replace(
            user.state,
            calendar_sync_token=primary,
            group_sync_tokens=tokens,
            window_end=window(settings, self.now)[1].date().isoformat(),
            deletes_confirmed=user.state.deletes_confirmed and not confirmed_used,
        )
        if state != user.state:
            self.s.settings.save_sync_state(user.email, state)


# -- echoes -------------------------------------------------------------------------------

P_SEEN = "calsync_seen"  # a digest of the copy as calsync left it after its last label write


def seen_digest(item: Item) -> str:
    """The parts of a copy that a user can change and calsync reads (not reminders, not the
    description, which R-14 writes once), as a short digest."""
    span = item.span
    when = (
        (span.start_utc.isoformat(), span.end_utc.isoformat(), span.is_all_day, span.time_zone)
        if span is not None
        else ()
    )
    people = sorted((a.email.lower(), a.response.value) for a in item.attendees)
    organiser = item.organizer.email.lower() if item.organizer is not None else ""
    props = sorted((k, v) for k, v in item.private_props if k != P_SEEN)
    text = repr((item.status.value, when, item.recurrence, item.title, item.location, people,
                 organiser, item.visibility.value, item.transparency.value, item.color_id, props))  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def is_echo(item: Item) -> bool:
    """True when the copy is exactly as calsync's last label write left it."""
    mark = item.props.get(P_SEEN)
    return mark is not None and mark == seen_digest(item)


def _marked(patches: list[LabelPatch], items: list[Item]) -> list[LabelPatch]:
    """Each label patch also records the digest of the copy it leaves behind."""
    by_copy = {(i.calendar_id, i.id): i for i in items}
    out = []
    for patch in patches:
        item = by_copy.get((patch.calendar_id, patch.event_id))
        if item is None:
            out.append(patch)
            continue
        after = labels.apply_patch(item, patch)
        props = tuple(sorted({**dict(patch.set_props), P_SEEN: seen_digest(after)}.items()))
        out.append(replace(patch, set_props=props))
    return out


# -- helpers ------------------------------------------------------------------------------


def _addresses(items: Iterable[Item]) -> set[str]:
    out: set[str] = set()
    for i in items:
        out.update(a.email.lower() for a in i.attendees if a.email and not a.is_resource)
        if i.organizer is not None and i.organizer.email:
            out.add(i.organizer.email.lower())
    return out


def _others_enabled(item: Item, me: str, enabled: dict[str, str]) -> bool:
    people = {a.email.lower() for a in item.attendees}
    if item.organizer is not None:
        people.add(item.organizer.email.lower())
    return any(p in enabled for p in people - {me})


def _starts_after(item: Item, start: datetime) -> bool:
    return item.span is not None and item.span.start_utc >= start


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _instances(moment: datetime) -> tuple[str, ...]:
    """The mapping-key texts an occurrence's original start can have: the instant, and, at
    midnight UTC, the date (all-day occurrences are keyed by their date)."""
    utc = moment.astimezone(UTC)
    if utc.time() == datetime.min.time():
        return (instance_text(utc), instance_text(utc.date()))
    return (instance_text(utc),)


def _label_key(write: LabelWrite) -> str:
    return dict(write.patch.set_props).get(labels.P_KEY, "")


def _delete_failed(p: Plan, gone: MappingDelete, failed: set[str]) -> bool:
    return any(
        isinstance(a, SfDelete) and a.sync_key in failed and (a.key in ("", str(gone.key)))
        for a in p.of(SfDelete)
    )


def _refusal(result: WriteResult) -> str:
    text = f"Salesforce refused the event: {result.error_code}"
    return text + (f" ({result.message[:300]})" if result.message else "")
