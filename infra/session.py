"""One sync session of one user: observe → plan per item → execute per item → save the state.

The session holds the user's lease (R-29), reads what changed in their calendars, asks the core
for a plan of per-item units (core/planner.py), has each unit carried out and settled on its own
writes' results (infra/execute.py, core/outcome.py), and only then saves its sync tokens, field
by field and under its fence, so that a crash anywhere makes the next session see the same
changes again. One group calendar that cannot be read, one item that cannot be planned, fails
alone with an issue; a failure of the whole session is an admin issue (CS-020), and only what a
retry can fix is retried (audit H3).
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from core import downsync, fields, labels, series
from core.actions import (
    GoogleCreate,
    GoogleDelete,
    GoogleLabel,
    GoogleWrite,
    HistoryNote,
    MappingPut,
    Plan,
    PlanError,
    SfCreate,
    SfDelete,
    SfUpdate,
    StoreAttachments,
    Unit,
    Write,
)
from core.errors import (
    CalsyncError,
    GoogleRefused,
    LeaseLost,
    LockError,
    PermanentError,
    RetryableError,
)
from core.guard import held_deletes, held_id, judged, weighs_saved
from core.issues import Issue
from core.model import (
    Item,
    ItemKey,
    ItemStatus,
    Mapping,
    MappingQuery,
    People,
    PersonKind,
    ResolvedPerson,
    SessionUser,
    SfEventState,
)
from core.planner import SessionInput, plan, wanted
from core.ports import (
    BudgetCheck,
    Calendar,
    CalendarChanges,
    Drive,
    Fence,
    IssueStore,
    Lease,
    MappingStore,
    Salesforce,
    SalesforceFiles,
    SettingsStore,
)
from core.settings import Settings, resolve
from core.sf_routing import echo
from core.users import HeldDelete, User
from infra.attachments import AttachmentsOutcome, store_attachments
from infra.budget import INITIAL_SYNC_WAITS, planned_calls, wait_for_budget
from infra.execute import Executed, Executor
from infra.sf_ledger import LedgerWrite

log = logging.getLogger("calsync.session")
LEASE_TTL = timedelta(minutes=2)  # renewed while the session runs; a crash frees it soon
RENEW_EVERY = 40.0  # seconds
BUDGET = 480.0  # seconds: no new phase starts after this (sync_user's timeout is 540 s)
NO_SF_USER = "CS-012"
GROUP_CALENDAR_UNREADABLE = "CS-016"
SETTINGS_IGNORED = "CS-018"
SESSION_FAILED = "CS-020"
DAY = timedelta(hours=24)
ONBOARD_BY_ID = 300  # a larger window's mappings are read in one query (10 `in` queries)

# Once per process: whether Salesforce has Calsync_Key__c was written to the org status.
_reported_key_field: list[bool] = []


class SessionBusy(LockError):
    """Another session of this user holds the lease (R-29): try again shortly."""


class SessionFailed(PermanentError):
    """The session could not run for a reason a retry cannot fix; recorded as CS-020."""

    code = SESSION_FAILED


class BatchRefused(PermanentError):
    """R-38: a backfill batch that cannot run for this user (not enabled, no Salesforce user):
    the backfill stops with this message, and its items are not counted as skipped."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Report:
    """What a session did, for the CLI, the task's answer and the logs (counts and ids only)."""

    user: str
    plan: Plan | None = None
    dry_run: bool = False
    executed: Executed | None = None
    retry: bool = False  # something failed that a retry can fix
    items_seen: int = 0
    full_sync: bool = False
    superseded: bool = False  # another session took the lease: it covers this one's work
    quiet: bool = False  # a sweep's look found nothing to do: no session ran (issue 14)
    # False: the calendar's changes were left to the session that this one's own Google writes'
    # push starts (issue 10: new copies and conditional writes only)
    listed: bool = True
    problems: list[str] = field(default_factory=list)  # calendars and settings left out

    @property
    def created(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for o in self.executed.outcomes if self.executed else ():
            out.update(o.created)
        return out

    @property
    def failed(self) -> list[str]:
        """The keys of the items whose writes failed."""
        return [o.unit.key for o in self.executed.failed] if self.executed else []

    @property
    def failures(self) -> dict[str, str]:
        """Item key → why its write failed (the issue's message)."""
        if not self.executed:
            return {}
        return {o.unit.key: o.opened[0].message for o in self.executed.failed if o.opened}

    def summary(self) -> str:
        if self.plan is None:
            return f"{self.user}: nothing read"
        head = f"{self.user}: {self.items_seen} changed items"
        if self.full_sync:
            head += " (full sync)"
        if self.dry_run:
            return head + ", dry run, nothing written\n" + self.plan.render()
        ok = [o for o in self.executed.outcomes if o.ok] if self.executed else []

        def count(kind: type) -> int:
            return sum(1 for o in ok for w in o.unit.writes if isinstance(w, kind))

        counts = {
            "created": len(self.created),
            "updated": count(SfUpdate),
            "deleted": count(SfDelete),
            "labelled": sum(len(o.labels) for o in ok),
            "failed": len(self.failed),
        }
        text = head + ", " + ", ".join(f"{v} {k}" for k, v in counts.items())
        if self.plan.held:
            text += f", {self.plan.deletes_held} deletes held (R-37)"
        return text


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
    # a user's Drive reader and Salesforce Files, built only while save_attachments is on
    drive_for: Callable[[str], Drive] | None = None
    files: Callable[[], SalesforceFiles] | None = None
    # Issue 14: may an initial sync spend this many Salesforce calls? (infra/budget.BulkBudget)
    bulk_gate: Callable[[int], BudgetCheck] | None = None
    # Issue 14: how long a warm instance may reuse the org settings it read for a sweep's look
    # (0: read them for every look; a session always reads them afresh)
    org_settings_ttl: float = 0.0
    # records what the session wrote to Salesforce, for the poll (infra/sf_ledger.py)
    sf_writes: LedgerWrite | None = None


@dataclass
class _Observed:
    items: list[Item]
    tokens: dict[str, str]  # calendar id → next sync token
    full: bool
    problems: list[Issue] = field(default_factory=list)  # calendars that could not be read
    readable: set[str] = field(default_factory=set)  # calendars that were read
    listed: bool = True  # False: the changes were left to the session our writes' push starts


class _Mappings:
    """The user's mappings a session has read (issue 14): those its observations ask for
    (core.planner.wanted), never all of them but after a full resync, which checks every one."""

    def __init__(self, store: MappingStore, email: str) -> None:
        self.store, self.email = store, email
        self.found: dict[ItemKey, Mapping] = {}
        self.asked = MappingQuery()
        self.complete = False

    def need(self, query: MappingQuery) -> None:
        new = query - self.asked
        if self.complete or not new:
            return
        self.asked = self.asked | new
        self.found.update((m.key, m) for m in self.store.for_query(self.email, new))

    def read_all(self) -> None:
        if not self.complete:
            self.found = {m.key: m for m in self.store.for_user(self.email)}
            self.complete = True

    def settle(self, items: Sequence[Item], sf_events: Sequence[SfEventState]) -> None:
        """Read until the planner would ask for nothing more (a series found wants its
        instances: at most one more round)."""
        for _ in range(3):
            query = wanted(items, sf_events, self.found.values())
            if self.complete or not (query - self.asked):
                return
            self.need(query)

    def values(self) -> list[Mapping]:
        return [self.found[k] for k in sorted(self.found, key=str)]


REFRESH_AFTER = timedelta(hours=6)  # a quiet user still gets a session this often (issue 14)
_org_cache: weakref.WeakKeyDictionary[Any, tuple[float, dict[str, Any], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def org_settings_cached(services: Services) -> tuple[dict[str, Any], dict[str, Any]]:
    """The org settings and their last valid values, as a sweep's look reads them: from the
    store, or from this instance's copy younger than `org_settings_ttl` seconds."""
    store, ttl = services.settings, services.org_settings_ttl
    cached = _org_cache.get(store) if ttl > 0 else None
    if cached is not None and time.monotonic() - cached[0] < ttl:
        return cached[1], cached[2]
    org, valid = store.org_settings(), store.last_valid_org_settings()
    if ttl > 0:
        try:
            _org_cache[store] = (time.monotonic(), org, valid)
        except TypeError:  # a store that cannot be weakly referenced is read every time
            pass
    return org, valid


def window(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """R-05: the sliding window."""
    return series.window(settings, now)


class Session:
    def __init__(self, services: Services, email: str, now: datetime):
        self.s = services
        self.email = email
        self.now = now
        self.holder = uuid.uuid4().hex
        self.fence: Fence | None = None
        self._started = time.monotonic()
        self._renewed = self._started
        self._unread: set[str] = set()  # inbox entries whose copy could not be read (kept)
        # Inbox entries planned on their mapping alone (core/downsync.py, unread), and those whose
        # copy must be read: it changed since its mapping's etag (a 412), or the plan lists first.
        self._unplanned_copies: set[str] = set()
        self._read_first: set[str] = set()
        self._fetched: dict[tuple[str, str], Item] = {}  # copies read by id, kept for a re-plan
        self._mine: _Mappings | None = None
        self._saved: int | None = None  # the store's count of saved SF Events, once asked
        self._issues: list[Issue] | None = None  # the user's open issues, once read

    # -- the whole session ---------------------------------------------------------------

    def run(self, dry_run: bool = False, sweep: bool = False, look: bool = True) -> Report:
        """Run one session. Raises SessionBusy when another one runs, RetryableError when a
        retry can fix what failed (after recording everything that did succeed), and
        SessionFailed (recorded as CS-020) when the session cannot run at all. A sweep's session
        looks first (`quiet`) unless the sweep looked already (`look` False)."""
        if dry_run:
            return self._guarded(lambda: self._run(dry_run, sweep), dry_run)
        if sweep and look and self.quiet():
            return Report(self.email, quiet=True)
        self.fence = self.s.lease.acquire(self.email, self.holder, LEASE_TTL)
        if self.fence is None:
            raise SessionBusy(f"a session of {self.email} is running")
        try:
            report = self._guarded(lambda: self._run(dry_run, sweep), dry_run)
        except LeaseLost:
            log.warning("lease taken over: this session stops", extra={"user": self.email})
            return Report(self.email, superseded=True)
        finally:
            try:
                self.s.lease.release(self.fence)
            except CalsyncError:
                pass  # it expires by itself within LEASE_TTL
        if report.retry:
            raise RetryableError(f"{len(report.failed)} items of {self.email} will be retried")
        return report

    def quiet(self, user: User | None = None) -> bool:
        """Issue 14, R-28: a sweep first looks without the lease and writes nothing: the user's
        document, the org settings (reused for `org_settings_ttl`), one query for pending
        mappings, one for open issues, and each calendar's changes since its sync token. Only
        when all of that is empty, and the last session is recent, is there nothing a session
        would do; anything else (or any doubt) runs the session. The token of such a look is
        not stored: the stored one still reads every change after it. `user`: the document as
        the sweep listed it (not read again)."""
        user = user or self.s.settings.get_user(self.email)
        if user is None or not user.enabled:
            return False  # the session says why it skips
        state = user.state
        last = _parse_instant(state.last_session_at)
        if (not state.calendar_sync_token or state.sf_changed or state.held_deletes
                or state.deletes_release or state.sf_onboard
                or last is None or self.now - last >= REFRESH_AFTER):  # fmt: skip
            return False
        org, org_valid = org_settings_cached(self.s)
        settings, problems = resolve(org, user.settings, user.email, last_valid_org=org_valid,
                                     last_valid_user=user.settings_last_valid)  # fmt: skip
        lo, hi = window(settings, self.now)
        if problems or (_parse_date(state.window_end) or date.min) < hi.date():
            return False  # settings to report, or items that slid into the window
        tokens = {user.email: state.calendar_sync_token, **state.group_sync_tokens}
        calendars = self._calendars(user, settings)
        if not all(tokens.get(c) for c in calendars):
            return False
        if self.s.mappings.for_query(user.email, MappingQuery(pending=True)):
            return False
        if self.s.issues.open_for_user(user.email):
            return False  # items waiting on or a refused write are tried again
        calendar = self.s.calendar_for(user.email)
        for calendar_id in calendars:
            try:
                changes = calendar.changes(calendar_id, tokens[calendar_id], lo, hi)
            except CalsyncError:
                return False  # the session reports it (CS-020, H3) or resyncs (410)
            if changes.full or changes.items:
                return False
        log.info("sweep: nothing to do", extra={"user": user.email})
        return True

    def run_items(
        self, items: Sequence[Item], bounds: tuple[datetime, datetime], dry_run: bool = False
    ) -> Report:
        """R-38: plan and carry out these items (a backfill's batch over `bounds`) as a session
        would, by the autosave rules without the sliding window, under the user's lease
        (SessionBusy while a session runs), with the deletion guard and attachments; sync
        tokens and window_end are left to the sessions."""
        if dry_run:
            return self._guarded(lambda: self._batch(items, bounds, dry_run), dry_run)
        self.fence = self.s.lease.acquire(self.email, self.holder, LEASE_TTL)
        if self.fence is None:
            raise SessionBusy(f"a session of {self.email} is running")
        try:
            report = self._guarded(lambda: self._batch(items, bounds, dry_run), dry_run)
        except LeaseLost as exc:  # a session took over mid-batch: the batch is run again
            raise RetryableError(f"the lease of {self.email} was taken over") from exc
        finally:
            try:
                self.s.lease.release(self.fence)
            except CalsyncError:
                pass
        if report.retry:
            raise RetryableError(f"{len(report.failed)} items of {self.email} will be retried")
        return report

    def _batch(
        self, items: Sequence[Item], bounds: tuple[datetime, datetime], dry_run: bool
    ) -> Report:
        report = Report(self.email, dry_run=dry_run)
        user = self.s.settings.get_user(self.email)
        if user is None or not user.enabled:  # stops the backfill: its items would be skipped
            raise BatchRefused(SESSION_FAILED, f"{self.email} is not enabled for calsync")
        settings, _ = self._settings(user, dry_run)
        calendar = self.s.calendar_for(user.email)
        mine = self._mine = _Mappings(self.s.mappings, user.email)
        observed = _Observed(list(items), {}, False, readable=set(self._calendars(user, settings)))
        observed.items += self._parents(calendar, observed.items, observed.readable)
        mine.settle(observed.items, ())
        mappings = mine.values()
        report.items_seen = len(items)
        sf = self.s.salesforce()
        sf_user_id = user.sf_user_id or self._match_sf_user(sf, user, dry_run)
        if not sf_user_id:
            self._no_sf_user(user, dry_run)
            raise BatchRefused(
                NO_SF_USER, f"no active Salesforce User has the address {user.email}"
            )
        inp = replace(self._input(sf, user, sf_user_id, settings, observed.items, mappings,
                                  frozenset()), backfill=bounds)  # fmt: skip
        report.plan = self._plan(inp)
        if dry_run:
            return report
        if self._create_people(sf, report.plan):
            inp = replace(self._input(sf, user, sf_user_id, settings, observed.items, mappings,
                                      frozenset()), backfill=bounds)  # fmt: skip
            report.plan = self._plan(inp)
        executor = Executor(calendar, sf, self.s.mappings, self.s.issues, settings, user.email,
                            self.now, self.fence, {(i.calendar_id, i.id): i for i in observed.items},
                            self.s.history, self._renew, self._attachments(user, settings))  # fmt: skip
        report.executed = executor.run(report.plan)
        report.retry = report.executed.retry
        if report.plan.held and not report.retry:
            # Held deletes join those the sessions hold, for the admin to confirm.
            new = _with_titles(held_deletes(report.plan.held), sf)
            known = {h.sync_key for h in user.state.held_deletes}
            held = user.state.held_deletes + tuple(h for h in new if h.sync_key not in known)
            self.s.settings.set_state_fields(user.email, {"held_deletes": held,
                                                          "held_id": held_id(held)},
                                             fence=self.fence)  # fmt: skip
        return report

    def _guarded(self, body: Callable[[], Report], dry_run: bool) -> Report:
        """A permanent failure of the session becomes the admin issue CS-020 (and the task's
        answer is then 2xx: a retry cannot fix it); a retryable one propagates."""
        try:
            return body()
        except (RetryableError, LeaseLost, SessionBusy, BatchRefused):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded as an issue, then raised as typed
            where = _innermost(exc)
            code = getattr(exc, "code", "") if isinstance(exc, CalsyncError) else ""
            message = f"the session could not run: {type(exc).__name__}" + (
                f" ({code})" if code else ""
            )
            log.error("session failed", extra={"user": self.email, "code": SESSION_FAILED,
                                               "action": where})  # fmt: skip
            if not dry_run:
                self._record_failure(message)
            raise SessionFailed(message) from exc

    def _record_failure(self, message: str) -> None:
        issue = Issue(SESSION_FAILED, self.email, "", message)
        try:
            self.s.issues.record([issue], [], self.now, self.fence)
            self.s.settings.set_state_fields(
                self.email, {"last_session_at": _rfc3339(self.now),
                             "last_session_result": f"failed {SESSION_FAILED}"},
                fence=self.fence)  # fmt: skip
        except (CalsyncError, KeyError):
            log.warning("session failure not recorded", extra={"user": self.email})

    def _renew(self) -> None:
        """Keep the lease while working; stop at once when it was taken over."""
        if self.fence is None:
            return
        now = time.monotonic()
        if now - self._renewed < RENEW_EVERY:
            return
        if not self.s.lease.renew(self.fence, LEASE_TTL):
            raise LeaseLost(f"the lease of {self.email} was taken over")
        self._renewed = now

    def _over_budget(self) -> bool:
        return time.monotonic() - self._started > BUDGET

    def _run(self, dry_run: bool, sweep: bool) -> Report:
        report = Report(self.email, dry_run=dry_run)
        user = self.s.settings.get_user(self.email)
        if user is None or not user.enabled:
            log.info("session skipped: user not enabled", extra={"user": self.email})
            return report
        settings, setting_issues = self._settings(user, dry_run)
        calendar = self.s.calendar_for(user.email)
        mine = self._mine = _Mappings(self.s.mappings, user.email)
        released = _released(user)
        inbox = user.state.sf_changed  # R-21..R-23: what changed in Salesforce
        lazy = _may_defer_changes(user, sweep, dry_run, released)
        observed = (_Observed([], {}, False, readable={user.email}, listed=False) if lazy
                    else self._observe(calendar, user, settings, sweep, mine))  # fmt: skip
        report.items_seen, report.full_sync = len(observed.items), observed.full
        report.problems = [i.message for i in observed.problems + setting_issues]
        pending = [m for m in mine.values() if m.pending_create or m.pending_delete]
        # The first session matches the rep's Salesforce User even when their calendar is
        # empty, so that a rep who works in Salesforce alone is polled for.
        matched = bool(user.sf_user_id) or not observed.full
        if not observed.items and not released and not pending and not inbox and matched \
                and not user.state.sf_onboard:  # fmt: skip
            report.plan = Plan()
            if not dry_run:
                self._record_problems(user, observed, setting_issues)
                self._save_state(user, observed, settings, report, None)
            return report  # no change, no Salesforce call
        sf = self.s.salesforce()
        self._report_key_field(sf)
        sf_user_id = user.sf_user_id or self._match_sf_user(sf, user, dry_run)
        if not sf_user_id:
            self._no_sf_user(user, dry_run)
            report.plan = Plan()
            return report
        inbox = self._onboard(sf, user, sf_user_id, settings, inbox, mine)
        read = sf.event_states(list(inbox)) if inbox else []
        states, mappings, report.plan = self._planned(sf, calendar, user, sf_user_id, settings,
                                                      read, mine, observed, released)  # fmt: skip
        if not observed.listed and not _pushes_only(report.plan, user.email):
            # Not only new copies and conditional writes (after which Google pushes): read the
            # changes first.
            self._unread.clear()
            observed = self._observe(calendar, user, settings, sweep, mine)
            report.items_seen, report.full_sync = len(observed.items), observed.full
            report.problems = [i.message for i in observed.problems + setting_issues]
            states, mappings, report.plan = self._planned(sf, calendar, user, sf_user_id,
                                                          settings, read, mine, observed,
                                                          released)  # fmt: skip
        report.listed = observed.listed
        if dry_run:
            return report
        # Issue 14: an initial sync is bulk work and waits while the org's API budget is spent
        # past api_budget_share (interactive saves never ask); no token saved: it reads again.
        if observed.full and not user.state.calendar_sync_token and self.s.bulk_gate:
            gate = self.s.bulk_gate(planned_calls(report.plan))
            if not gate.ok:
                wait_for_budget(self.s.issues, self.s.settings, user.email, gate.message,
                                self.now, self.fence)  # fmt: skip
                report.problems.append(gate.message)
                return replace(report, plan=Plan())
        if self._create_people(sf, report.plan):  # link the new records: plan again
            inp = self._input(sf, user, sf_user_id, settings, observed.items, mappings, released,
                              states)  # fmt: skip
            report.plan = self._plan(inp)
        self._renew()
        if self._over_budget():
            report.retry = True  # too late to start writing: the retried task does it
            return report
        executor = Executor(calendar, sf, self.s.mappings, self.s.issues, settings, user.email,
                            self.now, self.fence, {(i.calendar_id, i.id): i for i in observed.items},
                            self.s.history, self._renew, self._attachments(user, settings))  # fmt: skip
        report.executed = executor.run(report.plan)
        if report.executed.stale or not (observed.listed or report.executed.google_changed):
            # Copies changed in Google since calsync last saw them (412): read them and the
            # calendar's changes, and plan those Events again, merging both sides. Or the
            # changes were left to a push that will not come (nothing changed in Google: every
            # write refused): they are listed now.
            observed = self._again(sf, calendar, user, sf_user_id, settings, read, released,
                                   sweep, report, observed)  # fmt: skip
            report.listed = True
        report.retry = report.executed.retry
        if self.s.sf_writes is not None:
            self.s.sf_writes(user.email, report.executed.outcomes)
        self._record_problems(user, observed, setting_issues)
        self._save_state(user, observed, settings, report, sf)
        settled: list[str] = []
        if inbox and not report.retry:
            # Read and settled (a refusal is an issue now); a retry reads them again. Those of
            # items whose delete is held wait with them: if the user saves the item again
            # instead, the change made in Salesforce must still be merged. So do those of items
            # whose writes failed (H2): the unit stopped before the change reached Google.
            held = {d.sf_event_id for u in report.plan.held for d in u.deletes}
            outcomes = report.executed.outcomes if report.executed else ()
            held |= {i for o in outcomes if not o.ok for i in _sf_ids(o.unit)}
            # A unit refused again as changed (412) wrote nothing: its change waits too.
            stale = report.executed.stale if report.executed else []
            held |= {i for u in stale for i in _sf_ids(u)}
            held |= {m.sf_event_id for u in stale for m in _unit_mappings(u)}
            settled = [i for i in inbox if i not in self._unread and i not in held]
            if settled:
                self.s.settings.remove_sf_changes(user.email, settled, fence=self.fence)
        if user.state.sf_onboard and not report.retry:
            self._onboarded(user, inbox, settled)
        log.info("session done", extra={"user": user.email, "count": len(report.plan.units),
                                        "status": "retry" if report.retry else "ok"})  # fmt: skip
        return report

    def _again(self, sf: Salesforce, calendar: Calendar, user: User, sf_user_id: str,
               settings: Settings, read: Sequence[SfEventState], released: frozenset[str],
               sweep: bool, report: Report, observed: _Observed) -> _Observed:  # fmt: skip
        """The second pass of a session whose conditional writes met changed copies (412): those
        copies are read by id and their Events planned and written again, now with their
        copies (R-26 merges both sides' changes). A first pass that left the calendar's changes
        unread lists them now (its first writes come back as echoes: the mappings are read
        again); one that listed them has planned them already, and is not given them twice.
        Returns what was observed."""
        assert report.executed is not None
        first = report.executed
        again = {i for u in first.stale for i in _sf_ids(u)} | {
            m.sf_event_id for u in first.stale for m in _unit_mappings(u)} - {""}  # fmt: skip
        self._read_first |= again
        kept = set(self._unread)  # inbox entries on calendars that could not be read stay
        self._fetched.clear()
        mine = self._mine = _Mappings(self.s.mappings, user.email)
        if observed.listed:
            seen = _Observed([], observed.tokens, observed.full, observed.problems,
                             observed.readable)  # fmt: skip
        else:
            seen = self._observe(calendar, user, settings, sweep, mine)
            report.items_seen += len(seen.items)
        states, _, second = self._planned(sf, calendar, user, sf_user_id, settings,
                                          [s for s in read if s.sf_event_id in again], mine,
                                          seen, released)  # fmt: skip
        self._unread |= kept
        self._renew()
        executor = Executor(calendar, sf, self.s.mappings, self.s.issues, settings, user.email,
                            self.now, self.fence, {(i.calendar_id, i.id): i for i in seen.items},
                            self.s.history, self._renew, self._attachments(user, settings))  # fmt: skip
        done = executor.run(second)
        units = tuple(u for u in report.plan.units if u not in first.stale) + second.units
        held = report.plan.held + second.held if not observed.listed else report.plan.held
        report.plan = Plan(units, held, report.plan.session_issues + second.session_issues)
        report.executed = Executed(first.outcomes + done.outcomes,
                                   first.label_failures + done.label_failures, done.stale,
                                   first.google_changed or done.google_changed)  # fmt: skip
        log.info("copies read again", extra={"user": user.email, "count": len(first.stale),
                                             "status": f"{len(done.stale)} still changing"})  # fmt: skip
        if observed.listed:
            return observed
        return seen

    def _attachments(
        self, user: User, settings: Settings
    ) -> Callable[[StoreAttachments], AttachmentsOutcome] | None:
        """R-20: stores an item's attachments as the user; None while save_attachments is off,
        so that the Drive scope is never asked for then."""
        if not settings.save_attachments or self.s.drive_for is None or self.s.files is None:
            return None
        drive_for, files_for = self.s.drive_for, self.s.files
        readers: dict[str, tuple[Drive, SalesforceFiles]] = {}

        def store(write: StoreAttachments) -> AttachmentsOutcome:
            if not readers:
                readers["it"] = (drive_for(user.email), files_for())
            drive, files = readers["it"]
            return store_attachments(drive, files, write.attachments, write.sf_event_id,
                                     write.files, settings.attachment_max_bytes)  # fmt: skip

        return store

    def _plan(self, inp: SessionInput) -> Plan:
        """The plan; when the deletion guard's verdict depends on how many SF Events the user
        has saved and the session read only some of their mappings, planned again with the
        store's count (R-37)."""
        try:
            planned = plan(inp)
            mine = self._mine
            if (inp.saved is None and inp.backfill is None and mine is not None
                    and not mine.complete and weighs_saved(planned.units + planned.held,
                    inp.settings, inp.released, inp.recent_deletes)):  # fmt: skip
                if self._saved is None:
                    self._saved = self.s.mappings.count_saved(self.email)
                planned = plan(replace(inp, saved=self._saved))
            return planned
        except PlanError as exc:  # a bug, never carried out: the admin hears of it
            raise SessionFailed(f"the plan broke an invariant: {exc}") from exc

    # -- settings (SPEC §7) ---------------------------------------------------------------

    def _settings(self, user: User, dry_run: bool) -> tuple[Settings, list[Issue]]:
        """The settings in force; a bad value keeps the last valid one (audit M6), and the
        user's own document's problems become the user's CS-018 (the sweep reports the org's)."""
        store = self.s.settings
        org, org_valid = store.org_settings(), store.last_valid_org_settings()
        settings, problems = resolve(org, user.settings, user.email, last_valid_org=org_valid,
                                     last_valid_user=user.settings_last_valid)  # fmt: skip
        mine = [p for p in problems if p.source == user.email]
        if not dry_run and not mine and user.settings != user.settings_last_valid:
            store.remember_valid_settings(user.email, user.settings)
        if not dry_run and len(mine) == len(problems) and org != org_valid:
            store.remember_valid_settings("", org)  # the org's too, or its typo gets the default
        for problem in problems:
            log.warning("setting ignored", extra={"user": user.email, "action": problem.name})
        issues = []
        if mine:
            text = "; ".join(str(p) for p in mine)
            issues.append(Issue(SETTINGS_IGNORED, user.email, "settings", text[:900]))
        return settings, issues

    # -- observe --------------------------------------------------------------------------

    def _calendars(self, user: User, settings: Settings) -> list[str]:
        """The primary calendar, then the listed group calendars; "primary" or the user's own
        address among them would read the primary twice (audit H1a), so they are left out."""
        own = {user.email.lower(), "primary"}
        groups = [c for c in settings.group_calendars if c.strip().lower() not in own]
        return [user.email, *dict.fromkeys(groups)]

    def _observe(self, calendar: Calendar, user: User, settings: Settings, sweep: bool,
                 mine: _Mappings) -> _Observed:  # fmt: skip
        lo, hi = window(settings, self.now)
        state = user.state
        tokens = {user.email: state.calendar_sync_token, **state.group_sync_tokens}
        out = _Observed([], {}, False)
        listed: list[tuple[str, CalendarChanges]] = []
        for calendar_id in self._calendars(user, settings):
            try:
                changes = calendar.changes(calendar_id, tokens.get(calendar_id, ""), lo, hi)
            except GoogleRefused as exc:
                if calendar_id == user.email:
                    raise  # the user's own calendar: the session cannot run (CS-020)
                # H3: a group calendar deleted or no longer shared fails alone.
                out.problems.append(Issue(GROUP_CALENDAR_UNREADABLE, user.email,
                                          f"calendar:{calendar_id}",
                                          f"group calendar {calendar_id} cannot be read "
                                          f"({exc.status or 'refused'})"))  # fmt: skip
                continue
            out.readable.add(calendar_id)
            out.tokens[calendar_id] = changes.next_sync_token
            out.full = out.full or changes.full
            listed.append((calendar_id, changes))
        if out.full:
            mine.read_all()  # M4: a full resync checks every mapped copy for a gap
        mine.need(wanted(i for _, changes in listed for i in changes.items))
        by_copy = {(m.calendar_id, m.event_id): m for m in mine.values()}
        for calendar_id, changes in listed:
            # Incremental reads cannot carry a window (API-FACTS A4): every change is kept, since
            # a saved item that left the window must still be updated; the core applies R-05.
            # Our own label writes come back through the token too: those echoes are dropped.
            out.items += [i for i in changes.items
                          if changes.full or not _echo(i, by_copy, settings)]  # fmt: skip
            if changes.full:
                out.items += self._gap(calendar, calendar_id, changes.items, mine.values(), lo)
        slid = sweep or (_parse_date(state.window_end) or hi.date()) < hi.date()
        if slid and user.email in out.readable:
            out.items += self._slid_in(calendar, user, lo, hi, {i.id for i in out.items}, sweep)
        if sweep:  # items waiting on a group calendar too (found by the fault run, seed 338)
            for calendar_id in sorted(out.readable - {user.email}):
                out.items += self._slid_in(calendar, user, lo, hi, {i.id for i in out.items},
                                           sweep, calendar_id)  # fmt: skip
        out.items += self._pending(calendar, out.items, mine.values(), out.readable)
        out.items += self._parents(calendar, out.items, out.readable)
        return out

    def _gap(self, calendar: Calendar, calendar_id: str, listed: Iterable[Item],
             mappings: list[Mapping], lo: datetime) -> list[Item]:  # fmt: skip
        """M4: after a full resync (first session, or a 410), a mapped item the listing left out
        may have been deleted in the gap: read each (events.get returns cancelled ones); one that
        is gone altogether is planned as a cancelled tombstone. An invitee's copy too (R-11), so
        that its mapping and issue go with it. Items that started before the window are left
        alone (they happened)."""
        seen = {i.id for i in listed}
        wanted = [
            m for m in mappings
            if m.calendar_id == calendar_id and m.event_id not in seen
            and not m.occurrence_of and not m.tombstone and _not_before(m, lo)
        ]  # fmt: skip
        if not wanted:
            return []
        ids = sorted({m.event_id for m in wanted})
        found = {i.id: i for i in calendar.get_items(calendar_id, ids)}
        out = [found[i] for i in ids if i in found]
        out += [Item(i, calendar_id, status=ItemStatus.CANCELLED) for i in ids if i not in found]
        return out

    def _slid_in(self, calendar: Calendar, user: User, lo: datetime, hi: datetime,
                 have: set[str], sweep: bool, calendar_id: str = "") -> list[Item]:  # fmt: skip
        """R-05, R-28: items that entered the window since the last look, and (on a sweep) items
        waiting on R-07, R-11 or a refused write (their issue is open), are planned again. A
        group calendar (`calendar_id`) is read for its waiting items only."""
        # The window's far edge moves by whole days (Settings.window): what slid in since the
        # last session starts after the last day it covered; the same day, nothing did.
        since = (_parse_date(user.state.window_end) or hi.date()) + timedelta(days=1)
        start = datetime.combine(since, datetime.min.time(), UTC) if not calendar_id else hi
        waiting = {i.key for i in self._open_issues(user)} if sweep else set()
        if start >= hi and not waiting:
            return []
        listing = calendar.changes(calendar_id or user.email, "", lo if waiting else start, hi)
        return [
            i
            for i in listing.items
            if i.id not in have
            and (str(i.key) in waiting or str(i.series_key) in waiting or _starts_after(i, start))
        ]

    def _pending(self, calendar: Calendar, items: list[Item], mappings: list[Mapping],
                 readable: set[str]) -> list[Item]:  # fmt: skip
        """R-29: the copies of intents not settled yet (a create whose answer was lost), so that
        they are resolved by their key even when the item did not change again; and of deletes
        Salesforce refused (H2), so that the copy is labelled once the delete goes through."""
        have = {(i.calendar_id, i.id) for i in items}
        wanted: dict[str, set[str]] = {}
        for m in mappings:
            copy = (m.calendar_id, m.event_id)
            if (m.pending_create or m.pending_delete) and copy not in have \
                    and m.calendar_id in readable:  # fmt: skip
                wanted.setdefault(m.calendar_id, set()).add(m.event_id)
        out: list[Item] = []
        for calendar_id, ids in wanted.items():
            found = {i.id: i for i in calendar.get_items(calendar_id, sorted(ids))}
            out += [found.get(i) or Item(i, calendar_id, status=ItemStatus.CANCELLED)
                    for i in sorted(ids)]  # fmt: skip
        return out

    def _parents(self, calendar: Calendar, items: list[Item], readable: set[str]) -> list[Item]:
        """A series' parent, when only one of its instances changed (R-17 needs the rule)."""
        have = {(i.calendar_id, i.id) for i in items}
        wanted: dict[str, set[str]] = {}
        for i in items:
            if i.is_instance and (i.calendar_id, i.recurring_event_id) not in have:
                wanted.setdefault(i.calendar_id, set()).add(i.recurring_event_id)
        out: list[Item] = []
        for calendar_id, ids in wanted.items():
            if calendar_id in readable:
                out += calendar.get_items(calendar_id, sorted(ids))
        return out

    def _sf_changes(self, states: Sequence[SfEventState], calendar: Calendar, mine: _Mappings,
                    observed: _Observed, settings: Settings) -> list[SfEventState]:  # fmt: skip
        """R-21..R-23: the SF Events of the user's inbox as they are now, and the Google copies
        of the mapped ones (their changes are merged into those copies). One whose copy is on a
        calendar that could not be read stays in the inbox for a later session (`_unread`):
        planned without its copy, or dropped from the inbox, the change would be lost."""
        if not states:
            return []
        mine.need(wanted((), states))
        by_sf = {m.sf_event_id: m for m in mine.values() if m.sf_event_id}
        have = {(i.calendar_id, i.id) for i in observed.items}
        copies: dict[str, set[str]] = {}
        self._unplanned_copies.clear()
        for state in states:
            m = by_sf.get(state.sf_event_id)
            copy = (m.calendar_id, m.event_id) if m is not None else None
            if m is not None and m.calendar_id not in observed.readable:
                self._unread.add(state.sf_event_id)
            elif m is not None and copy not in have:
                # Unread only without group calendars: another copy of the meeting changed there
                # would be read after the write, as a change newer than Salesforce's.
                if state.sf_event_id not in self._read_first and not settings.group_calendars \
                        and downsync.unread_ok(m, state, settings):  # fmt: skip
                    # As its mapping's etag says it is: written conditionally, not read.
                    self._unplanned_copies.add(state.sf_event_id)
                elif copy in self._fetched:
                    observed.items.append(self._fetched[copy])
                else:
                    copies.setdefault(m.calendar_id, set()).add(m.event_id)
        for calendar_id, ids in copies.items():
            got = calendar.get_items(calendar_id, sorted(ids))
            self._fetched.update(((i.calendar_id, i.id), i) for i in got)
            observed.items += got
        return [s for s in states if s.sf_event_id not in self._unread]

    def _planned(self, sf: Salesforce, calendar: Calendar, user: User, sf_user_id: str,
                 settings: Settings, read: Sequence[SfEventState], mine: _Mappings,
                 observed: _Observed, released: frozenset[str],
                 ) -> tuple[list[SfEventState], list[Mapping], Plan]:  # fmt: skip
        """The plan of what was observed and of the inbox's Events `read`; with the SF Events
        it covers and the mappings it was planned on."""
        states = self._sf_changes(read, calendar, mine, observed, settings)
        mine.settle(observed.items, states)
        mappings = mine.values()
        resolved, unseen = self._sf_reads(sf, observed.items, mappings, states, settings)
        states += unseen
        inp = self._input(sf, user, sf_user_id, settings, observed.items, mappings, released,
                          states, resolved)  # fmt: skip
        return states, mappings, self._plan(inp)

    def _sf_reads(self, sf: Salesforce, items: Sequence[Item], mine: Sequence[Mapping],
                  read: Sequence[SfEventState], settings: Settings,
                  ) -> tuple[dict[str, ResolvedPerson], list[SfEventState]]:  # fmt: skip
        """The initial search, and (R-26) the mapped SF Events these Google changes are about to
        update that the inbox did not bring, read in the same call: those changed in
        Salesforce since calsync last saw them are merged as the inbox's are, so that an edit
        made there moments before the Google edit, not polled yet, is neither overwritten by an
        older Google value nor later dropped as calsync's own echo."""
        emails = sorted(_addresses(items))
        ids = downsync.unseen_candidates(items, mine, (s.sf_event_id for s in read), settings)
        if not ids:
            return (sf.search_people(emails) if emails else {}), []
        resolved, now = sf.search_people_and_events(emails, ids)
        return resolved, downsync.unseen_changes(now, mine)

    def _onboard(self, sf: Salesforce, user: User, sf_user_id: str, settings: Settings,
                 inbox: Sequence[str], mine: _Mappings) -> tuple[str, ...]:  # fmt: skip
        """R-21, R-22: the first session after the poll saw this owner (`sf_onboard`) reads the
        owner's top-level Events of the window in one query, and adds to the inbox those that
        are not already mapped to this user with values that still hash as the mapping says
        (calsync's own, R-26): the unmapped ones are created in Google, the mapped ones that
        changed while the user was not enabled are merged. The user's mappings of those Events
        are read by SF id, or, for a window of more than ONBOARD_BY_ID Events, all at once (one
        query instead of one per 30 ids; onboarding happens once)."""
        if not user.state.sf_onboard:
            return tuple(inbox)
        from infra import sf_changes  # the adapter's SOQL (imported late, as the adapter is)

        lo, hi = window(settings, self.now)
        found = sf_changes.owners_window(sf, [sf_user_id], lo, hi)  # the adapter: SOQL
        if len(found) > ONBOARD_BY_ID:
            mine.read_all()
        else:
            mine.need(MappingQuery(sf_event_ids=frozenset(c.id for c in found)))
        mapped: dict[str, list[Mapping]] = {}
        for m in mine.values():
            if m.sf_event_id:
                mapped.setdefault(m.sf_event_id, []).append(m)
        new = [c.id for c in found if c.id not in mapped or not echo(c.event, mapped[c.id])]
        log.info("onboarding read", extra={"user": user.email, "count": len(found),
                                           "status": f"{len(new)} to plan"})  # fmt: skip
        return tuple(dict.fromkeys([*inbox, *new]))

    def _onboarded(self, user: User, inbox: Sequence[str], settled: Sequence[str]) -> None:
        """The onboarding is done: what the session could not settle joins the stored inbox
        (a later session reads it), then the mark is cleared, unless the poll marked the user
        again meanwhile (a full re-check)."""
        stored = set(user.state.sf_changed)
        left = [i for i in inbox if i not in settled and i not in stored]
        if left:
            self.s.settings.add_sf_changes(user.email, left)
        self.s.settings.set_state_fields(
            user.email, {"sf_onboard": ""}, fence=self.fence,
            expect={"sf_onboard": user.state.sf_onboard},
        )  # fmt: skip

    def _input(self, sf: Salesforce, user: User, sf_user_id: str, settings: Settings,
               items: list[Item], mine: list[Mapping], released: frozenset[str],
               sf_events: Sequence[SfEventState] = (),
               resolved: dict[str, ResolvedPerson] | None = None) -> SessionInput:  # fmt: skip
        emails = sorted(_addresses(items))
        if resolved is None:
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
            open_issues=tuple(self._open_issues(user)),
            released=released,
            recent_deletes=_recent_count(user, self.now),
            sf_events=tuple(sf_events),
            unread=frozenset(self._unplanned_copies & {e.sf_event_id for e in sf_events}),
        )

    def _match_sf_user(self, sf: Salesforce, user: User, dry_run: bool) -> str:
        found = sf.user_ids([user.email]).get(user.email, "")
        if found and not dry_run:
            # Only the id: a `users disable` that lands meanwhile must stay (audit L5).
            self.s.settings.set_sf_user_id(user.email, found)
        return found

    def _no_sf_user(self, user: User, dry_run: bool) -> None:
        issue = Issue(NO_SF_USER, user.email, "", "no active Salesforce User has this address")
        if not dry_run:
            self.s.issues.record([issue], [], self.now, self.fence)
        log.warning("no Salesforce user", extra={"user": user.email, "code": NO_SF_USER})

    def _report_key_field(self, sf: Salesforce) -> None:
        """R-39: `status` says loudly when Calsync_Key__c is missing; learnt once per process."""
        if _reported_key_field:
            return
        try:
            present = sf.has_key_field()
        except CalsyncError:
            return
        self.s.settings.set_org_status({"key_field": present, "key_field_checked": self.now})
        _reported_key_field.append(present)
        if not present:
            log.warning("Calsync_Key__c is missing: retried creates rely on calsync's marker",
                        extra={"code": "R-39"})  # fmt: skip

    # -- execute --------------------------------------------------------------------------

    def _create_people(self, sf: Salesforce, p: Plan) -> bool:
        creates = [a for a in p.of(SfCreate) if isinstance(a, SfCreate)]
        people = {n.email: n for a in creates for n in a.new_people}
        if not people:
            return False
        results = sf.create_people(list(people.values()))
        return any(r.ok for r in results)

    # -- record ---------------------------------------------------------------------------

    def _open_issues(self, user: User) -> list[Issue]:
        """The user's open issues as the session started: read once (one query)."""
        if self._issues is None:
            self._issues = self.s.issues.open_for_user(user.email)
        return self._issues

    def _record_problems(
        self, user: User, observed: _Observed, setting_issues: list[Issue]
    ) -> None:
        """Open the issues of unreadable group calendars and ignored settings, close the ones
        that no longer apply (a calendar read again, settings mended, a session that ran)."""
        wanted = {(i.key, i.code): i for i in observed.problems + setting_issues}
        mine = {GROUP_CALENDAR_UNREADABLE, SETTINGS_IGNORED, SESSION_FAILED, INITIAL_SYNC_WAITS}
        # Read before the writes: nothing the executor writes carries these codes.
        have = [i for i in self._open_issues(user) if i.code in mine]
        if not observed.listed:  # calendars not read this time: their issues stand
            wanted.update({(i.key, i.code): i for i in have
                           if i.code == GROUP_CALENDAR_UNREADABLE})  # fmt: skip
        closed = [i for i in have if (i.key, i.code) not in wanted]
        opened = [i for k, i in wanted.items() if not any((h.key, h.code) == k and
                                                         h.message == i.message for h in have)]  # fmt: skip
        if opened or closed:
            self.s.issues.record(opened, closed, self.now, self.fence)

    def _save_state(self, user: User, observed: _Observed, settings: Settings, report: Report,
                    sf: Salesforce | None) -> None:  # fmt: skip
        """Only after everything was written: a crash before this re-reads the same changes.
        Field by field, under the fence (audit M1, M2)."""
        p = report.plan if report.plan is not None else Plan()  # an all-held plan is falsy
        failed = len(report.failed)
        result = "retry" if report.retry else (f"ok, {failed} items failed" if failed else "ok")
        values: dict[str, object] = {
            "last_session_at": _rfc3339(self.now),
            "last_session_result": result,
        }
        if not report.retry and not p.held and observed.listed:
            # held deletes must come back until the admin confirms, so the token waits.
            # Changes left unread (`listed` False) keep the token and window_end where they were.
            tokens = {**user.state.group_sync_tokens, **observed.tokens}
            primary = tokens.pop(user.email, user.state.calendar_sync_token)
            values.update(
                calendar_sync_token=primary,
                group_sync_tokens=tokens,
                window_end=window(settings, self.now)[1].date().isoformat(),
            )
        held = held_deletes(p.held)
        if held and sf is not None:
            held = _with_titles(held, sf)
        values.update(held_deletes=held, held_id=held_id(held))
        values["recent_deletes"] = _recent_log(
            user,
            self.now,
            report.executed,
            frozenset(h.sync_key for h in user.state.held_deletes)
            if _released(user)
            else frozenset(),
        )
        changed = {k: v for k, v in values.items() if getattr(user.state, k) != v}
        if changed:
            self.s.settings.set_state_fields(user.email, changed, fence=self.fence)
        if user.state.deletes_release and not report.retry:
            # The confirmation is used up (or names a held set that is gone), unless the admin
            # confirmed again meanwhile.
            self.s.settings.set_state_fields(
                user.email, {"deletes_release": ""}, fence=self.fence,
                expect={"deletes_release": user.state.deletes_release},
            )  # fmt: skip


# -- helpers ------------------------------------------------------------------------------


def _may_defer_changes(user: User, sweep: bool, dry_run: bool, released: frozenset[str]) -> bool:
    """Whether a session may plan its inbox before it lists the calendar's changes, leaving them
    to the session that its own calendar write's push starts (issue 10: a down-synced change
    costs two Calendar calls, not three; docs/decisions.md). Only an incremental session with
    Salesforce changes to carry: never a first or full sync, a sweep (R-28 reads what slid into
    the window), a dry run (it shows everything), an onboarding, one that carries out held
    deletes, or one of a user whose deletes are held (R-37: the plan that holds them again needs
    the listing, or the stored set would be emptied)."""
    state = user.state
    return bool(state.sf_changed and state.calendar_sync_token) and not (
        sweep or dry_run or released or state.sf_onboard or state.held_deletes
    )


def _pushes_only(p: Plan, calendar_id: str) -> bool:
    """Whether the plan's Google writes are new copies and writes conditional on a copy's etag
    (R-21..R-23), at least one of them in this (watched) calendar, so that Google will push, and
    it writes nothing else: Google changes read only after its writes then meet nothing they
    could have changed (a copy changed meanwhile refuses its conditional write, 412, and is read
    then: Session._again)."""
    if p.held:
        return False
    pushed = 0
    for unit in p.units:
        for write in unit.writes:
            target = _conditional_or_new(write)
            if target is None:
                return False
            pushed += target == calendar_id
        if unit.labels:
            return False
    return pushed > 0


def _conditional_or_new(write: Write) -> str | None:
    """The calendar of a new copy or of a write conditional on the copy's etag; None else."""
    if isinstance(write, GoogleCreate):
        return write.event.calendar_id
    if isinstance(write, GoogleWrite) and write.patch.if_match:
        return write.patch.calendar_id
    if isinstance(write, GoogleLabel) and write.patch.if_match:
        return write.patch.calendar_id
    if isinstance(write, GoogleDelete) and write.if_match:
        return write.calendar_id
    return None


def _unit_mappings(unit: Unit) -> list[Mapping]:
    return [a.mapping for a in unit.mappings]


def _released(user: User) -> frozenset[str]:
    """R-37: the sync keys of the held deletes the admin confirmed (exactly that set)."""
    state = user.state
    if state.deletes_release and state.deletes_release == state.held_id:
        return frozenset(h.sync_key for h in state.held_deletes)
    return frozenset()


def _recent_count(user: User, now: datetime) -> int:
    total = 0
    for entry in user.state.recent_deletes:
        at, _, count = entry.partition(" ")
        moment = _parse_instant(at)
        if moment is not None and now - moment < DAY and count.isdigit():
            total += int(count)
    return total


def _recent_log(user: User, now: datetime, executed: Executed | None,
                released: frozenset[str]) -> tuple[str, ...]:  # fmt: skip
    """The rolling guard's log: this session's judged deletes added, entries over 24 h dropped."""
    kept = [
        e for e in user.state.recent_deletes
        if (m := _parse_instant(e.partition(" ")[0])) is not None and now - m < DAY
    ]  # fmt: skip
    done = sum(judged(o.unit, released) for o in executed.outcomes if o.ok) if executed else 0
    if done:
        kept.append(f"{_rfc3339(now)} {done}")
    return tuple(kept)


def _with_titles(held: Sequence[HeldDelete], sf: Salesforce) -> tuple[HeldDelete, ...]:
    """R-37: what will be deleted, as Salesforce has it (a cancelled item has no title left)."""
    from dataclasses import replace

    try:
        found = sf.event_summaries(sorted({h.sf_event_id for h in held if h.sf_event_id}))
    except CalsyncError:
        return tuple(held)
    out = []
    for h in held:
        subject, start = found.get(h.sf_event_id, ("", None))
        out.append(replace(h, title=h.title or subject,
                           start=h.start or (_rfc3339(start) if start else "")))  # fmt: skip
    return tuple(out)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _not_before(m: Mapping, lo: datetime) -> bool:
    """Whether a mapped item may still matter: it starts in or after the window (or we do not
    know when it starts)."""
    start = series.instance_start(m) or _instance_text_moment(m.start)
    return start is None or start >= lo - timedelta(days=1)


def _instance_text_moment(text: str) -> datetime | None:
    for fmt in ("%Y%m%dT%H%M%SZ", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _innermost(exc: BaseException) -> str:
    """file:line of the innermost frame: enough to find a bug, nothing of the data (audit L6)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {Path(last.filename).name}:{last.lineno}"


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


def _sf_ids(unit: Unit) -> set[str]:
    """The SF Events a unit is about: those it writes and those its mappings point at."""
    out = {w.sf_event_id for w in unit.writes if isinstance(w, (SfUpdate, SfDelete))}
    for a in unit.mappings:
        out.add(a.mapping.sf_event_id)
        if isinstance(a, MappingPut) and a.before is not None:
            out.add(a.before.sf_event_id)
    return out - {""}


def _echo(item: Item, by_copy: dict[tuple[str, str], Mapping], settings: Settings) -> bool:
    """R-26: the copy is as calsync's last label write left it, and (saved) its synced fields
    are those its mapping last recorded. The digest alone took a copy moved and moved back
    after an update calsync wrote no label for as an echo, and the move back was lost (found by
    the fault run, seed 58)."""
    m = by_copy.get((item.calendar_id, item.id))
    if m is not None and m.etag and item.etag == m.etag and \
            not (m.owned and m.sf_event_id and labels.P_KEY not in item.props):  # fmt: skip
        return True  # the copy as calsync's last write left it, or as it read it (Google's etag)
    if not labels.is_echo(item):
        return False
    if m is None:
        # A copy labelled saved that no mapping knows is no echo of anything calsync holds: its
        # unsync went through, its label did not, and the user tagged it again (seed 758).
        return labels.P_KEY not in item.props
    if m.owned and m.sf_event_id and not m.pending_create and labels.P_KEY not in item.props:
        # A saved mapping whose copy no longer says saved: the label went out, forgetting the
        # mapping did not (a crash between, infra/execute.py); the copy is planned again.
        return False
    if not m.owned or not m.google_fp or item.span is None or item.is_series or item.is_instance:
        return True
    names = fields.synced_fields(settings)
    try:
        now = fields.fingerprint(fields.google_values(item, item.span, settings), names)
    except (ValueError, TypeError, OverflowError, OSError, KeyError):
        return True
    return dict(now) == dict(m.google_fp)


def _starts_after(item: Item, start: datetime) -> bool:
    try:
        return item.span is not None and item.span.start_utc >= start
    except (OverflowError, ValueError):
        return False


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
