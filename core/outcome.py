"""What one unit's writes mean once their results are in (issue 9: each item's outcome is decided
by its own writes' results, here and only here).

All went well: the unit's mappings (with the ids Salesforce gave), labels and issues are
recorded. A write failed: the mapping keeps only what was really written (a create refused
leaves no mapping, a delete refused keeps the mapping as `pending_delete`, an update refused keeps
the old fingerprints of its fields, so the change is seen again), the item gets its issue (CS-010
Salesforce refused, CS-014 Google refused, CS-011 try again) and, for a refusal, the error label
(R-02); the item stays pending until a later session saves it (R-29, R-31).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from core import labels
from core.actions import (
    SF_WRITES,
    AttachmentUpload,
    GoogleCreate,
    GoogleWrite,
    HistoryNote,
    IssueClose,
    IssueOpen,
    MappingDelete,
    MappingPut,
    SfCreate,
    SfDelete,
    SfUpdate,
    Unit,
    Write,
    WriteResult,
)
from core.issues import Issue
from core.labels import Label, LabelPatch, LabelState
from core.model import ItemKey, ItemStatus, Mapping, StoredFile, instance_text
from core.policy import Verdict
from core.settings import Settings

SF_REFUSED = "CS-010"
TRY_AGAIN = "CS-011"
GOOGLE_REFUSED = "CS-014"


@dataclass(frozen=True)
class Outcome:
    """What to record for one unit: `failure` is the first failed write's result (None: all
    went well); `retry` when a retry can fix it."""

    unit: Unit
    puts: tuple[Mapping, ...] = ()
    forgets: tuple[Mapping, ...] = ()
    labels: tuple[LabelPatch, ...] = ()
    opened: tuple[Issue, ...] = ()
    closed: tuple[Issue, ...] = ()
    history: tuple[HistoryNote, ...] = ()
    failure: WriteResult | None = None
    failed_write: Write | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def retry(self) -> bool:
        return self.failure is not None and self.failure.retryable

    @property
    def created(self) -> dict[str, str]:
        """sync key → SF Event id of the Events this unit's creates made (or found)."""
        keys = {w.sync_key for w in self.unit.writes if isinstance(w, SfCreate)}
        return {
            m.sync_key: m.sf_event_id for m in self.puts if m.sync_key in keys and m.sf_event_id
        }


def intents(units: Sequence[Unit]) -> list[Mapping]:
    """R-29: the pending mappings to store before the Salesforce creates of these units, so that a
    crash after a create is resolved by the sync key on the retry (and a delete of the item then
    finds the Event). A create retried from an intent needs none: it is stored already."""
    out: list[Mapping] = []
    for unit in units:
        keys = {w.sync_key for w in unit.writes if isinstance(w, SfCreate) and not w.retry}
        retried = {w.sync_key for w in unit.writes if isinstance(w, SfCreate) and w.retry}
        for m in unit.mappings:
            if not isinstance(m, MappingPut):
                continue
            if m.mapping.sync_key in keys:
                out.append(replace(m.mapping, sf_event_id="", pending_create=True))
            elif m.mapping.sync_key in retried and m.before is not None:
                # A retry that finds the Event moves it to the item's start now; should its
                # answer be lost too, the next retry must look there as well (audit H1b).
                known = (m.before.start, *m.before.tried_starts)
                if m.mapping.start and m.mapping.start not in known:
                    out.append(replace(m.before, tried_starts=(*m.before.tried_starts,
                                                               m.mapping.start)))  # fmt: skip
    return out


def settle(unit: Unit, results: Sequence[WriteResult | None], settings: Settings,
           user_email: str) -> Outcome:  # fmt: skip
    """The outcome of `unit` (a session of `user_email`), whose writes gave `results` (None: not
    tried, because an earlier write of the unit failed)."""
    if len(results) != len(unit.writes):
        raise ValueError("one result per write")
    # A file that cannot be stored fails alone, not its item: it stays out of the mapping.
    hard = [
        i
        for i, (w, r) in enumerate(zip(unit.writes, results, strict=True))
        if not isinstance(w, AttachmentUpload) and (r is None or not r.ok)
    ]
    if not hard:
        return _succeeded(unit, results)
    index = next(i for i in hard if results[i] is not None)
    failure = results[index]
    assert failure is not None
    write = unit.writes[index]
    if isinstance(write, SfUpdate) and not write.occurrence_of and failure.error_code == DELETED:
        return _deleted_in_salesforce(unit, write, settings)
    puts, forgets = _mappings_after_failure(unit, results)
    issue = _issue(unit, write, failure, user_email)
    closed = [
        a.issue for a in unit.issues if isinstance(a, IssueClose) and a.issue.code != issue.code
    ]
    closed += [
        a.issue for a in unit.issues if isinstance(a, IssueOpen) and a.issue.code != issue.code
    ]
    return Outcome(
        unit=unit,
        puts=tuple(puts),
        forgets=tuple(forgets),
        labels=_error_label(unit, issue, settings) if not failure.retryable else (),
        opened=(issue,),
        closed=tuple(closed),
        failure=failure,
        failed_write=write,
    )


DELETED = "ENTITY_IS_DELETED"  # Salesforce's answer to an update of a deleted record


def _deleted_in_salesforce(unit: Unit, write: SfUpdate, settings: Settings) -> Outcome:
    """R-23: the update found the Event deleted in Salesforce (its change notice was missed or
    came too late): as a deletion read from Salesforce, the mapping goes, the copy is labelled
    unsynced (not saved again by autosave) and the item's issues close. Retrying the update
    could never succeed (found by the fault run: CS-010 for good)."""
    forgets = tuple(
        a.before or a.mapping
        for a in unit.mappings
        if isinstance(a, MappingPut) and a.mapping.sync_key == write.sync_key
    )
    patch = (
        labels.patch_for(unit.item, Label(LabelState.UNSYNCED), settings, False)
        if unit.item is not None and unit.item.status is not ItemStatus.CANCELLED
        else None
    )
    return Outcome(
        unit=unit,
        forgets=forgets,
        labels=(patch,) if patch is not None else (),
        closed=tuple(a.issue for a in unit.issues if isinstance(a, IssueClose)),
        history=unit.history,
    )


def _succeeded(unit: Unit, results: Sequence[WriteResult | None]) -> Outcome:
    created: dict[str, str] = {}
    occurrences: dict[tuple[str, str], str] = {}
    for write, result in zip(unit.writes, results, strict=True):
        if result is None or not result.ok:
            continue
        if isinstance(write, SfCreate):
            created[write.sync_key] = result.id
        elif isinstance(write, SfUpdate) and write.occurrence_of and write.occurrence_start:
            # an occurrence's own Event id, which a later move of it cannot hide.
            for text in _instance_texts(write):
                occurrences[(write.occurrence_of, text)] = result.id
    # In the unit's order, the last word on a key stands (R-17: a replaced series forgets the
    # old mapping and stores the new one under the same key).
    final: dict[ItemKey, tuple[bool, Mapping]] = {}
    for action in unit.mappings:
        m = action.mapping
        if isinstance(action, MappingPut):
            m = replace(m, pending_create=False, pending_delete=False)
            if not m.sf_event_id and not m.occurrence_of and m.sync_key in created:
                m = replace(m, sf_event_id=created[m.sync_key])
            elif not m.sf_event_id and m.occurrence_of:
                m = replace(m, sf_event_id=occurrences.get((m.occurrence_of, m.key.instance), ""))
        final[m.key] = (isinstance(action, MappingPut), m)
    return Outcome(
        unit=unit,
        puts=tuple(m for put, m in final.values() if put),
        forgets=tuple(m for put, m in final.values() if not put),
        labels=tuple(a.patch for a in unit.labels),
        opened=tuple(a.issue for a in unit.issues if isinstance(a, IssueOpen)),
        closed=tuple(a.issue for a in unit.issues if isinstance(a, IssueClose)),
        history=unit.history,
    )


def _instance_texts(write: SfUpdate) -> tuple[str, ...]:
    """The mapping-key texts an occurrence's original start can have: the instant, and, at
    midnight UTC, the date (all-day occurrences are keyed by their date)."""
    assert write.occurrence_start is not None
    moment = write.occurrence_start
    if moment.hour == moment.minute == moment.second == 0:
        return (instance_text(moment), instance_text(moment.date()))
    return (instance_text(moment),)


def _mappings_after_failure(unit: Unit, results: Sequence[WriteResult | None]
                            ) -> tuple[list[Mapping], list[Mapping]]:  # fmt: skip
    """Only what was really written: see the module docstring."""
    puts: list[Mapping] = []
    forgets: list[Mapping] = []
    outcome = list(zip(unit.writes, results, strict=True))
    for action in unit.mappings:
        m = action.mapping
        if isinstance(action, MappingDelete):
            deletes = [
                (w, r) for w, r in outcome if isinstance(w, SfDelete) and w.key == str(m.key)
            ]
            if deletes and all(r is not None and r.ok for _, r in deletes):
                forgets.append(m)
            elif deletes and m.owned and not m.pending_delete and not m.pending_create:
                puts.append(replace(m, pending_delete=True))
            # else: nothing of this mapping changes (its item is planned again next time)
            continue
        creates = [
            (w, r) for w, r in outcome if isinstance(w, SfCreate) and w.sync_key == m.sync_key
        ]
        if creates:
            _, result = creates[0]
            if result is not None and result.ok:
                puts.append(replace(m, sf_event_id=result.id, pending_create=False))
            elif result is not None and not result.retryable and action.before is None:
                # Refused for good: nothing was created; the intent goes (a later save makes
                # a new one).
                forgets.append(replace(m, pending_create=True))
            # a lost answer or a create not tried: the intent stays, a retry resolves it by key
            continue
        partial = _restore_failed(action, outcome)
        if partial is not None and partial != action.before:
            puts.append(partial)
    return puts, forgets


def _restore_failed(action: MappingPut, outcome: list[tuple[Write, WriteResult | None]]
                    ) -> Mapping | None:  # fmt: skip
    """The new mapping, with the fingerprints (and links, files) of the fields whose write did
    not succeed put back as they were, so that the change is still seen next time (R-15, R-22)."""
    new, before = action.mapping, action.before
    if before is None:
        return None
    google, sf = dict(new.google_fp), dict(new.sf_fp)
    old_google, old_sf = dict(before.google_fp), dict(before.sf_fp)
    linked = new.linked
    for write, result in outcome:
        if result is not None and result.ok:
            continue
        if not _same_target(write, new):
            continue
        names: tuple[str, ...] = ()
        if isinstance(write, SfUpdate):
            names = write.send
            if "relations" in names:
                linked = before.linked
        elif isinstance(write, GoogleWrite):
            names = write.fields
        for name in names:
            for now, old in ((google, old_google), (sf, old_sf)):
                if name in old:
                    now[name] = old[name]
                else:
                    now.pop(name, None)
            if result is not None and result.retryable and name in google and name in sf:
                # The write may have been applied (a lost answer): the side it carried reads
                # as unknown, so the next session sends it again whatever it says by then. Put
                # back as it was, a change undone meanwhile matched it and was never sent
                # (found by the fault run, seed 714).
                (google if isinstance(write, SfUpdate) else sf)[name] = ""
    order = [n for n, _ in new.google_fp] + [n for n, _ in before.google_fp]
    return replace(
        new,
        google_fp=tuple((n, google[n]) for n in dict.fromkeys(order) if n in google),
        sf_fp=tuple(
            (n, sf[n])
            for n in dict.fromkeys([n for n, _ in new.sf_fp] + [n for n, _ in before.sf_fp])
            if n in sf
        ),
        linked=linked,
    )


def _same_target(write: Write, m: Mapping) -> bool:
    if isinstance(write, (SfUpdate, AttachmentUpload)):
        return write.sync_key == m.sync_key and (
            not isinstance(write, SfUpdate)
            or not write.occurrence_of
            or m.occurrence_of == write.occurrence_of
        )
    if isinstance(write, GoogleWrite):
        return (write.patch.calendar_id, write.patch.event_id) == (m.calendar_id, m.event_id)
    return False


def _issue(unit: Unit, write: Write, result: WriteResult, user_email: str) -> Issue:
    sf = isinstance(write, SF_WRITES)
    code = TRY_AGAIN if result.retryable else (SF_REFUSED if sf else GOOGLE_REFUSED)
    item = unit.item
    start = None
    if item is not None and item.span is not None:
        try:
            start = item.span.start_utc
        except (OverflowError, ValueError):
            start = None
    title = item.shown_title if item is not None else ""
    return Issue(code, user_email, unit.key, refusal(write, result), title, start)


def refusal(write: Write, result: WriteResult) -> str:
    """The readable message of a failed write (its status text and issue message)."""
    side = "Salesforce" if isinstance(write, SF_WRITES) else "Google"
    what = "delete" if isinstance(write, SfDelete) else "change"
    if isinstance(write, SfCreate):
        what = "event"
    if result.retryable:
        text = f"{side} is unavailable for now ({result.error_code or 'error'}); retried shortly"
    else:
        text = f"{side} refused the {what}: {result.error_code or 'error'}"
    return text + (f" ({result.message[:300]})" if result.message else "")


def _error_label(unit: Unit, issue: Issue, settings: Settings) -> tuple[LabelPatch, ...]:
    """R-02: the item that Salesforce or Google refused carries the error label."""
    item = unit.item
    if item is None or item.status is ItemStatus.CANCELLED or item.span is None:
        return ()
    if any(isinstance(w, GoogleCreate) for w in unit.writes):
        return ()  # the copy was not created: nothing in Google to label
    label = Label(LabelState.ERROR, issue.message, issue.code)
    patch = labels.patch_for(
        item, label, settings, unit.manual or labels.wants_save(item, settings)
    )
    if patch is not None and unit.decision is not None and unit.decision.verdict is Verdict.UNSYNC:
        # the error colour replaces the unsync colour, so the wish is kept in the copy
        # (with the pending delete of its mapping, the next session unsyncs it again).
        patch = replace(
            patch,
            set_props=tuple(sorted({**dict(patch.set_props), labels.P_UNSYNCED: "1"}.items())),
            remove_props=tuple(k for k in patch.remove_props if k != labels.P_UNSYNCED),
        )
    return (patch,) if patch is not None else ()


def with_files(outcome: Outcome, sync_key: str, files: tuple[StoredFile, ...],
               issues: Sequence[Issue], refused: Sequence[str] = ()) -> Outcome:  # fmt: skip
    """R-20: what storing the unit's attachments did: the mapping of `sync_key` lists the files
    stored (`files`) and every file judged (`attachments`: stored, or refused for good, which is
    tried again only with the item's next write); each file that could not be stored is its own
    issue (CS-021..CS-023, or CS-010/CS-011 from Salesforce); attachment issues that no longer
    occur close."""
    judged = tuple(dict.fromkeys([f.file_id for f in files] + [r for r in refused if r]))
    puts = tuple(
        replace(m, files=files, attachments=judged) if m.sync_key == sync_key else m
        for m in outcome.puts
    )  # fmt: skip
    opened = {i.ident: i for i in outcome.opened}
    for issue in issues:
        opened[issue.ident] = issue
    closed = [i for i in outcome.closed if i.ident not in opened]
    return replace(outcome, puts=puts, opened=tuple(opened.values()), closed=tuple(closed))
