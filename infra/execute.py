"""Execute per item: run each unit's writes in order, batched across units, then record each
unit's outcome as core/outcome.py decides it from that unit's own results (issue 9).

Order, so that a crash anywhere leaves nothing a retry cannot mend (R-29):
1. the intents of the Salesforce creates (pending mappings with their sync keys);
2. the writes, in rounds: round n sends the n-th write of every unit still going, grouped by
   kind into Salesforce sObject Collections (200) and Google batches (50) (R-30); a unit whose
   write failed sends nothing more;
3. the mappings forgotten, the issues, the labels (R-02; failures become CS-014), the mappings
   stored (only what was really written; after the labels, with the etag each label's answer
   gave its copy), the mappings of Events deleted in Salesforce (R-23: after the labels that
   say so) and the history, all under the session's fence. A crash before the mappings are
   stored leaves the intent (resolved by its key, R-29) or the old mapping (its change is sent
   again, idempotently).

A unit whose conditional Google write was refused because the copy changed since calsync last
saw it (412, `WriteResult.stale`) wrote nothing: it records nothing and comes back in
`Executed.stale`, for the session to read the copy and plan it again. Each mapping stored keeps
the etag its copy has after the unit (Mapping.etag), or none when a label write follows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from core import labels
from core.actions import (
    SF_WRITES,
    GoogleCreate,
    GoogleDelete,
    GoogleLabel,
    GoogleWrite,
    HistoryNote,
    IssueClose,
    IssueOpen,
    MappingDelete,
    Plan,
    SfCreate,
    SfDelete,
    SfUpdate,
    StoreAttachments,
    Unit,
    Write,
    WriteResult,
)
from core.attachments import FileFailure, issues_for
from core.errors import CalsyncError
from core.fields import GooglePatch, apply_google_patch
from core.issues import Issue
from core.model import Item, ItemKey, Mapping
from core.outcome import GOOGLE_REFUSED, TRY_AGAIN, Outcome, intents, settle, with_files
from core.ports import Calendar, Fence, IssueStore, MappingStore, Salesforce
from core.settings import Settings
from infra.attachments import UNAVAILABLE, AttachmentsOutcome

log = logging.getLogger("calsync.execute")
CALL_SIZE = 200  # Salesforce writes per call (an sObject Collection)
GOOGLE_WRITES = (GoogleWrite, GoogleDelete, GoogleCreate, GoogleLabel)
GOOGLE_CALL_SIZE = 50  # Google writes per call (one batch request, API-FACTS A6)


@dataclass
class Executed:
    """What the writes did: one outcome per unit, and whether a retry can fix a failure."""

    outcomes: list[Outcome] = field(default_factory=list)
    label_failures: list[WriteResult] = field(default_factory=list)
    stale: list[Unit] = field(default_factory=list)  # their copies changed: read, plan again
    google_changed: bool = False  # a Google write or label went through (Google will push)

    @property
    def retry(self) -> bool:
        return any(o.retry for o in self.outcomes) or any(r.retryable for r in self.label_failures)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


@dataclass
class Executor:
    calendar: Calendar
    salesforce: Salesforce
    mappings: MappingStore
    issues: IssueStore
    settings: Settings
    user_email: str
    now: datetime
    fence: Fence | None = None
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    history: Callable[[Sequence[HistoryNote], str, datetime], None] = lambda n, u, t: None
    between_rounds: Callable[[], None] = lambda: None  # before each call: the lease's renewal
    # stores one item's attachments (None: not configured, the files stay pending)
    attachments: Callable[[StoreAttachments], AttachmentsOutcome] | None = None

    def _seen(self, write: GoogleWrite) -> GooglePatch:
        """R-26: a field patch also records the echo digest of the copy it leaves, so that the
        change coming back through the sync token costs no session; when a label patch of the
        same copy follows, that one records it (from the patched copy, kept in `items`)."""
        copy = (write.patch.calendar_id, write.patch.event_id)
        item = self.items.get(copy)
        if item is None:
            return write.patch
        after = apply_google_patch(item, write.patch)
        self.items[copy] = after
        if copy in self._labelled:
            return write.patch
        return replace(write.patch, seen=labels.seen_digest(after))

    def run(self, plan: Plan) -> Executed:
        units = list(plan.units)
        self._labelled = {(a.patch.calendar_id, a.patch.event_id) for u in units for a in u.labels}
        self._stored: dict[str, AttachmentsOutcome] = {}
        self._label_etags: dict[tuple[str, str], str] = {}
        self._google_changed = False
        pending = intents(units)
        if pending:
            self.mappings.put(pending, self.fence)
        results = self._writes(units)
        stale = [u for u, r in zip(units, results, strict=True) if any(x and x.stale for x in r)]
        done = Executed([self._etags(u, r, self._files(u, settle(u, r, self.settings,
                                                                   self.user_email)))
                         for u, r in zip(units, results, strict=True) if u not in stale],
                        stale=stale)  # fmt: skip
        if stale:
            log.info("copies changed meanwhile", extra={"user": self.user_email,
                                                        "count": len(stale)})  # fmt: skip
        self._record(done, plan)
        done.google_changed = self._google_changed
        return done

    def _etags(self, unit: Unit, results: Sequence[WriteResult | None],
               outcome: Outcome) -> Outcome:  # fmt: skip
        """Each stored mapping with its copy's etag after the unit: the answer of the unit's
        last write to it, else the copy as read; none when a label write follows (it changes
        the etag after the mapping is stored), when the write's answer is not known, or when a
        write of the unit failed (the mapping then holds fingerprints put back so that the
        change is sent again: it does not describe the copy, whose listing must not be taken
        for calsync's own write)."""
        if outcome.failure is not None:
            return replace(outcome, puts=tuple(replace(m, etag="") for m in outcome.puts))
        after: dict[tuple[str, str], tuple[str, str | None]] = {}
        for write, result in zip(unit.writes, results, strict=True):
            copy, zone = _copy_written(write)
            if copy is not None and result is not None:
                after[copy] = (result.etag if result.ok else "", zone)
        labelled = {(p.calendar_id, p.event_id) for p in outcome.labels}
        puts = []
        for m in outcome.puts:
            copy = (m.calendar_id, m.event_id)
            etag, zone = m.etag, m.zone
            if copy in labelled:
                etag = ""
            elif copy in after:
                etag, written_zone = after[copy]
                zone = zone if written_zone is None else written_zone
            elif copy in self.items:
                item = self.items[copy]
                etag = item.etag
                zone = item.span.time_zone if item.span is not None else ""
            puts.append(replace(m, etag=etag, zone=zone) if (etag, zone) != (m.etag, m.zone)
                        else m)  # fmt: skip
        return replace(outcome, puts=tuple(puts))

    # -- 2. the writes, in rounds ---------------------------------------------------------

    def _writes(self, units: Sequence[Unit]) -> list[list[WriteResult | None]]:
        results: list[list[WriteResult | None]] = [[None] * len(u.writes) for u in units]
        going = set(range(len(units)))
        rounds = max((len(u.writes) for u in units), default=0)
        for step in range(rounds):
            batch = [(i, self._with_event(units[i], results[i], units[i].writes[step]))
                     for i in sorted(going) if step < len(units[i].writes)]  # fmt: skip
            if not batch:
                break
            for (i, _), result in zip(batch, self._send([w for _, w in batch]), strict=True):
                results[i][step] = result
                if result.ok and isinstance(units[i].writes[step], GOOGLE_WRITES):
                    self._google_changed = True
                if not result.ok and not isinstance(units[i].writes[step], StoreAttachments):
                    going.discard(i)  # a unit that failed sends nothing more
        return results

    @staticmethod
    def _with_event(unit: Unit, done: list[WriteResult | None], write: Write) -> Write:
        """Attachments go with the Event the unit's own create made (R-20)."""
        if not isinstance(write, StoreAttachments) or write.sf_event_id:
            return write
        for earlier, result in zip(unit.writes, done, strict=False):
            if isinstance(earlier, SfCreate) and earlier.sync_key == write.sync_key and result:
                return replace(write, sf_event_id=result.id)
        return write

    def _attachments(self, write: StoreAttachments) -> WriteResult:
        if self.attachments is None or not write.sf_event_id:
            return WriteResult(write.sync_key, False, "", "NOT_SUPPORTED",
                               "attachments are not stored in this deployment")  # fmt: skip
        self.between_rounds()  # an item's downloads take time: the lease is kept (throttled)
        try:
            outcome = self.attachments(write)
        except CalsyncError as exc:
            # Drive or Salesforce failed below the files' own handling: nothing is known stored,
            # each file is tried again by a later session (CS-011), the other items go on.
            log.warning("attachments failed", extra={"user": self.user_email, "code": exc.code})
            detail = "the file could not be stored now; it is tried again on a later session"
            failures = tuple(FileFailure(a.file_id, a.title, UNAVAILABLE, detail, True)
                             for a in write.attachments)  # fmt: skip
            outcome = AttachmentsOutcome(write.files, (), failures)
        self._stored[write.sync_key] = outcome
        return WriteResult(write.sync_key, not outcome.failures, write.sf_event_id,
                           retryable=outcome.retry)  # fmt: skip

    def _send(self, writes: Sequence[Write]) -> list[WriteResult]:
        """One result per write, in order; each kind goes out in its own batched calls. The
        lease is renewed (when due) before each call, not only between rounds: a round of many
        calls may outlast the lease, and a session beside it would write too (audit M2)."""
        by_kind: dict[type, list[int]] = defaultdict(list)
        for i, w in enumerate(writes):
            by_kind[type(w)].append(i)
        out: dict[int, WriteResult] = {}
        for kind, indexes in by_kind.items():
            size = CALL_SIZE if kind in SF_WRITES else GOOGLE_CALL_SIZE
            for start in range(0, len(indexes), size):
                part = indexes[start : start + size]
                self.between_rounds()
                chosen = [writes[i] for i in part]
                answers = self._call(kind, chosen)
                if len(answers) != len(chosen):
                    raise AssertionError(f"{kind.__name__}: {len(answers)} results for "
                                         f"{len(chosen)}")  # fmt: skip
                out.update(zip(part, answers, strict=True))
        return [out[i] for i in range(len(writes))]

    def _call(self, kind: type, writes: Sequence[Write]) -> list[WriteResult]:
        if kind is SfCreate:
            return self.salesforce.create_events([w for w in writes if isinstance(w, SfCreate)])
        if kind is SfUpdate:
            return self.salesforce.update_events([w for w in writes if isinstance(w, SfUpdate)])
        if kind is SfDelete:
            return self.salesforce.delete_events([w for w in writes if isinstance(w, SfDelete)])
        if kind is GoogleWrite:
            return self.calendar.apply_patches(
                [self._seen(w) for w in writes if isinstance(w, GoogleWrite)]
            )
        if kind is GoogleCreate:
            return self.calendar.insert_events(
                [w.event for w in writes if isinstance(w, GoogleCreate)]
            )
        if kind is GoogleDelete:
            deletes = [w for w in writes if isinstance(w, GoogleDelete)]
            return self.calendar.delete_events([(w.calendar_id, w.event_id) for w in deletes],
                                               [w.if_match for w in deletes])  # fmt: skip
        if kind is GoogleLabel:
            return self.calendar.apply_labels([w.patch for w in writes
                                               if isinstance(w, GoogleLabel)])  # fmt: skip
        if kind is StoreAttachments:
            return [self._attachments(w) for w in writes if isinstance(w, StoreAttachments)]
        raise TypeError(f"no executor for {kind.__name__}")

    # -- 3. what the writes mean ------------------------------------------------------------

    def _files(self, unit: Unit, outcome: Outcome) -> Outcome:
        """R-20: the files each StoreAttachments stored go into the mapping; each file that
        could not be stored is an issue of its own, the item is saved all the same."""
        for write in unit.writes:
            if not isinstance(write, StoreAttachments) or write.sync_key not in self._stored:
                continue
            stored = self._stored[write.sync_key]
            item = unit.item
            start = item.span.start_utc if item is not None and item.span is not None else None
            title = item.shown_title if item is not None else ""
            issues = issues_for(stored.failures, self.user_email, unit.key, title, start)
            refused = [f.file_id for f in stored.failures if not f.retryable]
            outcome = with_files(outcome, write.sync_key, stored.files, issues, refused)
        return outcome

    def _record(self, done: Executed, plan: Plan) -> None:
        puts: dict[ItemKey, Mapping] = {}
        forgets: dict[ItemKey, Mapping] = {}
        for o in done.outcomes:
            for m in o.forgets:
                forgets[m.key] = m
                puts.pop(m.key, None)
            for m in o.puts:
                puts[m.key] = m
                forgets.pop(m.key, None)
        # a mapping forgotten because its Event was deleted in Salesforce waits for the
        # labels (below); every other one goes now.
        late = {a.key for o in done.outcomes for a in o.unit.mappings
                if isinstance(a, MappingDelete) and a.rule == "R-23"}  # fmt: skip
        late &= set(forgets)
        if set(forgets) - late:
            self.mappings.delete(self.user_email, [k for k in forgets if k not in late], self.fence)
        # The issues before the labels: a label write records the copy's echo digest, so a crash
        # after it would hide the item from the next session and its issue would never be
        # written. Only what depends on the labels' own results waits for them.
        opened = [i for o in done.outcomes for i in o.opened]
        opened += [a.issue for a in plan.session_issues if isinstance(a, IssueOpen)]
        closed = [i for o in done.outcomes for i in o.closed]
        closed += [a.issue for a in plan.session_issues if isinstance(a, IssueClose)]
        label_issues = [i for i in closed if i.code in (GOOGLE_REFUSED, TRY_AGAIN)]
        closed = [i for i in closed if i not in label_issues]
        if opened or closed:
            self.issues.record(opened, closed, self.now, self.fence)
        failed_keys = set()
        opened = []
        for unit, result in self._labels(done):
            failed_keys.add(unit.key)
            item = unit.item
            code = TRY_AGAIN if result.retryable else GOOGLE_REFUSED
            text = f"Google refused the label: {result.error_code}" + (
                f" ({result.message[:200]})" if result.message else ""
            )
            opened.append(Issue(code, self.user_email, unit.key, text,
                                item.shown_title if item is not None else ""))  # fmt: skip
        closed = [i for i in label_issues if i.key not in failed_keys]
        if opened or closed:
            self.issues.record(opened, closed, self.now, self.fence)
        # The mappings after the labels, with the etag each label's answer gave its copy (a
        # later change made in Salesforce is then written unread). A crash before them leaves
        # the intent or the old mapping, which the next session resolves or sends again.
        if puts:
            failed = {m.key for o in done.outcomes if o.failure is not None for m in o.puts}
            self.mappings.put([m if m.key in failed else self._labelled_etag(m)
                               for m in puts.values()], self.fence)  # fmt: skip
        # After the labels: a crash between the two leaves a mapping whose copy no longer says
        # saved, which the Salesforce change still in the inbox, or the next session that sees
        # the copy (no echo, infra/session._echo), settles. The other order left a copy saying
        # saved that no mapping knew, which a later look at the tagged item saved again, against
        # R-23 (docs/reliability.md). Other forgets keep theirs: an unsync's crash must leave
        # no mapping of an Event calsync deleted, or a tag given again would read as R-23.
        if late:
            self.mappings.delete(self.user_email, sorted(late, key=str), self.fence)
        notes = [n for o in done.outcomes for n in o.history]
        if notes:
            self.history(notes, self.user_email, self.now)

    def _labelled_etag(self, m: Mapping) -> Mapping:
        etag = self._label_etags.get((m.calendar_id, m.event_id))
        return replace(m, etag=etag) if etag else m

    def _labels(self, done: Executed) -> list[tuple[Unit, WriteResult]]:
        """R-02: every outcome's labels in one batched write; each failure is its unit's issue."""
        patches = []
        owners: list[Unit] = []
        for o in done.outcomes:
            for patch in o.labels:
                item = self.items.get((patch.calendar_id, patch.event_id))
                patches.append(labels.marked(patch, item))
                owners.append(o.unit)
        if not patches:
            return []
        failed = []
        for unit, patch, result in zip(owners, patches, self.calendar.apply_labels(patches),
                                       strict=True):  # fmt: skip
            self._label_etags[(patch.calendar_id, patch.event_id)] = (
                result.etag if result.ok else ""
            )
            self._google_changed = self._google_changed or result.ok
            if not result.ok:
                done.label_failures.append(result)
                failed.append((unit, result))
                log.warning("label write failed", extra={"user": self.user_email,
                                                         "item": result.ref, "code": result.error_code})  # fmt: skip
        return failed


def _copy_written(write: Write) -> tuple[tuple[str, str] | None, str | None]:
    """The copy a Google write changes, and the time zone it leaves on a timed copy (None: it
    does not say)."""
    if isinstance(write, GoogleWrite):
        start = write.patch.start
        zone = start.time_zone if start is not None and start.date_time is not None else None
        return (write.patch.calendar_id, write.patch.event_id), zone
    if isinstance(write, GoogleCreate):
        start = write.event.fields.start
        zone = start.time_zone if start is not None and start.date_time is not None else ""
        return (write.event.calendar_id, write.event.event_id), zone
    if isinstance(write, GoogleLabel):
        return (write.patch.calendar_id, write.patch.event_id), None
    return None, None
