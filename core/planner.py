"""The planner of one sync session: one user's changed items and SF Events in, a Plan of per-item
units out (observe → plan per item → execute per item → save the state).

The plan is a pure function of its input. It compares what each side should carry with what it
carries, so planning twice gives the same plan, and planning again on the result of carrying it
out gives nothing. Each item is planned on its own: one that cannot be planned fails alone with
CS-015 (audit H3), and the same meeting seen twice (primary and a group calendar) is planned once
(audit H1). Keys are deterministic (R-39), and a plan refuses two creates with one key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from core import downsync, fields, guard, labels, policy, recurrence, series
from core.actions import (
    Action,
    GoogleCreate,
    GoogleDelete,
    GoogleLabel,
    GoogleWrite,
    HistoryNote,
    IssueClose,
    IssueOpen,
    LabelWrite,
    MappingDelete,
    MappingPut,
    Plan,
    SfCreate,
    SfDelete,
    SfUpdate,
    StoreAttachments,
    Unit,
    Work,
)
from core.attachments import ATTACHMENT_CODES
from core.issues import Issue
from core.labels import Label, LabelState
from core.model import (
    Item,
    ItemKey,
    ItemStatus,
    Mapping,
    MappingQuery,
    People,
    Role,
    SessionUser,
    SfEventState,
    StoredFile,
    instance_text,
    sync_key,
    with_props,
)
from core.policy import Decision, Verdict
from core.series import Target
from core.settings import Settings

UNPROCESSABLE = "CS-015"
RELATIONS = "relations"  # SfUpdate.send: the Event's links


@dataclass(frozen=True)
class SessionInput:
    """What the session observed for one user.

    `items`: the user's changed Google copies (primary and listed group calendars), plus the copy
    of every mapped SF Event in `sf_events`, a series' parent when one of its instances is there,
    and the copies of pending mappings. `mappings`: this user's mappings that `wanted` names (or
    all of them). `saved`: the user's saved SF Events as the store counted them, for the deletion
    guard; None counts `mappings` (all of them, then). `organizer_mappings`: other owners' mappings for the same iCalUIDs (R-11).
    `sf_events`: the user's mapped SF Events that changed or were deleted (R-22, R-23).
    `unread`: those of `sf_events` whose copy the session did not read: planned on the mapping
    alone, every write conditional on the copy's etag (core/downsync.py `unread_ok`).
    `released`: the sync keys of held deletes the admin confirmed (R-37); `recent_deletes`: the
    SF Events deleted for this user in the last 24 hours, released ones left out.
    """

    user: SessionUser
    settings: Settings
    now: datetime
    items: tuple[Item, ...] = ()
    mappings: tuple[Mapping, ...] = ()
    saved: int | None = None
    organizer_mappings: tuple[Mapping, ...] = ()
    people: People = field(default_factory=People)
    sf_events: tuple[SfEventState, ...] = ()
    unread: frozenset[str] = frozenset()
    open_issues: tuple[Issue, ...] = ()
    released: frozenset[str] = frozenset()
    recent_deletes: int = 0
    # a backfill's range: its items are judged by the autosave rules without the sliding
    # window, and a series saved instance by instance is saved over this range instead of it
    backfill: tuple[datetime, datetime] | None = None


_TOMBSTONE_CANCELLED = "cancelled"  # an occurrence cancelled in Google, its SF occurrence gone
_TOMBSTONE_SF_DELETED = "deleted_in_salesforce"  # an instance deleted in Salesforce


class _Planner:
    def __init__(self, inp: SessionInput) -> None:
        self.inp = inp
        self.s = inp.settings
        self.user = inp.user
        me = inp.user.email.lower()
        self.mine = {m.key: m for m in inp.mappings if m.user_email.lower() == me}
        self._index()
        self.sf = {e.sf_event_id: e for e in inp.sf_events}
        self.issues: dict[str, list[Issue]] = defaultdict(list)
        for issue in inp.open_issues:
            self.issues[issue.key].append(issue)
        # tagging any instance saves the series.
        self.tagged_series = {
            i.series_key for i in inp.items if i.is_instance and labels.wants_save(i, self.s)
        }
        self.parents = {i.series_key for i in inp.items if i.is_series}
        self.known_keys = frozenset(m.sync_key for m in self.mine.values())

    def _index(self) -> None:
        self.by_event = {(m.calendar_id, m.event_id): m for m in self.mine.values()}
        self.by_sf = {m.sf_event_id: m for m in self.mine.values() if m.sf_event_id}

    # -- helpers --------------------------------------------------------------------------

    def mapping_for(self, item: Item) -> Mapping | None:
        return self.mine.get(item.key) or self.by_event.get((item.calendar_id, item.id))

    def organizer_mapping(self, item: Item) -> Mapping | None:
        organiser = policy.organizer_email(item)
        owner = self.inp.people.enabled_users.get(organiser, "")
        for m in self.inp.organizer_mappings:
            if m.key == item.key and m.owner_sf_id == owner and m.owned and m.sf_event_id:
                return m
        return None

    def issue_actions(self, key: str, want: Issue | None, rule: str,
                      keep: Sequence[str] = ()) -> list[Action]:  # fmt: skip
        """Open `want` for the item `key` and close its other issues but those coded `keep`."""
        out: list[Action] = []
        have = self.issues.get(key, [])
        for issue in have:
            if (want is None or issue.code != want.code) and issue.code not in keep:
                out.append(IssueClose(issue, rule))
        if want is not None and not any(i.code == want.code for i in have):
            out.append(IssueOpen(want, rule))
        return out

    def issue(self, item: Item, code: str, message: str) -> Issue:
        start = _start(item)
        return Issue(code, self.user.email, str(issue_key(item)), message, item.shown_title, start)

    def label(self, item: Item, label: Label, manual: bool, rule: str) -> list[Action]:
        patch = labels.patch_for(item, label, self.s, manual)
        return [LabelWrite(patch, label.state, rule)] if patch is not None else []

    # -- one item -------------------------------------------------------------------------

    def plan_item(self, item: Item, copies: Sequence[Item] = ()) -> Unit:
        """One item's unit; `copies` are the same meeting's other copies (audit H1a), which are
        only labelled as the item is."""
        work = self._plan(item, any(labels.wants_save(c, self.s) for c in copies))
        if copies:
            self._mirror(work, copies)
        return work.unit()

    def _plan(self, item: Item, tagged_elsewhere: bool) -> Work:
        work = Work(str(issue_key(item)), item)
        if item.problem:
            return self.unprocessable(item, work, item.problem)
        if item.is_instance and self.series_mapping(item) is not None:
            return self.occurrence(item, work)
        mapping = self.mapping_for(item)
        if (
            item.is_instance
            and item.series_key in self.tagged_series
            and item.series_key in self.parents
        ):
            return self.covered_by_series(item, work)
        ctx = policy.Context(self.user, self.s, self.inp.now, self.inp.people, mapping,
                             self.organizer_mapping(item), self.inp.backfill is not None)  # fmt: skip
        seen = item
        if tagged_elsewhere or (
            item.is_series and item.series_key in self.tagged_series and mapping is None
        ):
            # a tagged instance is a manual save of its series; H1a: a tag on another copy
            # of the meeting is a tag of this one (labels compare with `item`).
            seen = with_props(item, {**item.props, labels.P_MANUAL: "1"})
        decision = policy.decide(seen, ctx)
        work.decision, work.manual = decision, decision.manual
        v = decision.verdict
        if v in (Verdict.SAVE, Verdict.UPDATE):
            return self.save(item, decision, work)
        if v in (Verdict.DELETE, Verdict.UNSYNC):
            work.actions += self.delete(item, decision)
        elif v is Verdict.JOIN:
            work.actions += self.join(item, decision, ctx)
        elif v in (Verdict.WAIT, Verdict.FAIL):
            self.fail(item, work, decision)
        else:  # SKIP: quietly, but take off labels and issues that no longer apply
            state = LabelState.UNSYNCED if labels.was_unsynced(item) else LabelState.NONE
            if item.status is not ItemStatus.CANCELLED:
                work.actions += self.label(item, Label(state), decision.manual, decision.rule)
            elif mapping is not None and not mapping.owned:
                # an invitee's cancelled copy: nothing to delete, the link goes.
                work.actions.append(MappingDelete(mapping, decision.rule))
            work.actions += self.issue_actions(work.key, None, decision.rule)
        return work

    def fail(self, item: Item, work: Work, decision: Decision) -> Work:
        work.decision, work.manual = decision, decision.manual
        state = LabelState.PENDING if decision.verdict is Verdict.WAIT else LabelState.ERROR
        label = Label(state, decision.reason, decision.issue_code)
        work.actions += self.label(item, label, decision.manual, decision.rule)
        want = self.issue(item, decision.issue_code, decision.reason)
        work.actions += self.issue_actions(work.key, want, decision.rule)
        return work

    def unprocessable(self, item: Item, work: Work, reason: str) -> Work:
        """H3: an item calsync cannot read or plan fails alone, with CS-015, when the user asked
        for it or it is saved; otherwise it is skipped (an odd event nobody tagged is no news)."""
        manual = labels.wants_save(item, self.s)
        if not manual and self.mapping_for(item) is None:
            work.decision = Decision(Verdict.SKIP, "R-09", f"cannot be processed: {reason}")
            return work
        decision = Decision(Verdict.FAIL, "R-09", f"calsync cannot process this item: {reason}",
                            UNPROCESSABLE, manual=manual)  # fmt: skip
        work.actions.clear()
        try:
            return self.fail(item, work, decision)
        except (ValueError, TypeError, OverflowError, OSError, AssertionError):
            # Even its label cannot be computed: the issue alone says it.
            work.actions = self.issue_actions(
                work.key,
                Issue(
                    UNPROCESSABLE, self.user.email, work.key, decision.reason, item.shown_title
                ),  # fmt: skip
                decision.rule,
            )
            return work

    def _mirror(self, work: Work, copies: Sequence[Item]) -> None:
        """H1a: the meeting's other copies carry the label the planned copy gets."""
        lead = work.item
        wanted = next((a for a in work.actions if isinstance(a, LabelWrite)), None)
        for copy in copies:
            if lead is None or copy.status is ItemStatus.CANCELLED:
                continue
            if wanted is None:
                continue
            after = labels.apply_patch(lead, wanted.patch)
            label = Label(wanted.state, after.props.get(labels.P_STATUS, ""),
                          after.props.get(labels.P_ISSUE, ""), after.props.get(labels.P_KEY, ""))  # fmt: skip
            work.actions += self.label(copy, label, work.manual, wanted.rule)

    def covered_by_series(self, item: Item, work: Work) -> Work:
        """R-17: a tagged instance saves its series; the instance copy is labelled with it."""
        owner = self.user.sf_user_id
        parent = next(i for i in self.inp.items if i.is_series and i.series_key == item.series_key)
        result = (
            series.targets(parent, self.s, self.inp.now, self.inp.backfill)
            if parent.span
            else series.Targets()
        )
        key = series.series_copy_key(owner, parent, result)
        label = Label(LabelState.SAVED, "saved with its series", sync_key=key)
        work.actions += self.label(item, label, True, "R-17")
        work.decision = Decision(Verdict.SKIP, "R-17", "saved with its series")
        return work

    def series_mapping(self, item: Item) -> Mapping | None:
        m = self.mine.get(item.series_key)
        return m if m is not None and m.pattern and m.owned and not m.pending_create else None

    # -- save / update --------------------------------------------------------------------

    def save(self, item: Item, decision: Decision, work: Work) -> Work:
        result = series.targets(item, self.s, self.inp.now, self.inp.backfill)
        if result.refusal:
            fail = Decision(Verdict.FAIL, "R-17", result.refusal, result.code,
                            manual=decision.manual)  # fmt: skip
            return self.fail(item, work, fail)
        out: list[Action] = []
        owner = decision.owner_sf_id
        keys = []
        notes: list[str] = [result.note] if result.note else []
        for target in result.targets:
            acts, key = self.save_target(item, target, owner, decision)
            out += acts
            keys.append(key)
        for n in fields.status_notes(item, owner, self.user, self.inp.people, self.s,
                                     series=bool(result.targets and result.targets[0].pattern)):  # fmt: skip
            if n not in notes:
                notes.append(n)
        # A series that switched between one SF series and instance by instance: drop the old.
        old = self.mine.get(item.series_key) if item.is_series else None
        if old is not None and old.owned and not any(t.key == old.key for t in result.targets):
            out += self.remove(old, "R-17")
        if item.is_series and result.note:
            out += self.orphans(item, {t.key for t in result.targets})
        status = "; ".join([labels.STATUS_SAVED] + notes)
        # Instance by instance, the copy carries the series' key: it must not change as the
        # window slides.
        copy_key = sync_key(owner, item.series_key) if result.note else (keys[0] if keys else "")
        label = Label(LabelState.SAVED, status, sync_key=copy_key)
        out += self.label(item, label, decision.manual, decision.rule)
        # A file's issue (CS-021..CS-023) stays open until its file is tried again (with the
        # item's next write) or the item has no files left.
        trying = any(isinstance(a, StoreAttachments) for a in out)
        keep = (
            ATTACHMENT_CODES if self.s.save_attachments and item.attachments and not trying else ()
        )
        out += self.issue_actions(work.key, None, decision.rule, keep=keep)
        work.actions += out
        return work

    def orphans(self, item: Item, current: set[ItemKey]) -> list[Action]:
        """R-17: instances saved earlier that the changed series no longer has inside the
        window (a backfill's range) are deleted; instances before it stay (they happened)."""
        lo, hi = self.inp.backfill or series.window(self.s, self.inp.now)
        out: list[Action] = []
        for m in sorted(self.mine.values(), key=lambda m: str(m.key)):
            start = series.instance_start(m)
            if (m.key.ical_uid == item.series_key.ical_uid and m.key not in current
                    and not m.occurrence_of and m.owned and start is not None
                    and lo <= start and (start < hi if self.inp.backfill else start <= hi)):  # fmt: skip
                out += self.remove(m, "R-17")
        return out

    def save_target(self, item: Item, target: Target, owner: str,
                    decision: Decision) -> tuple[list[Action], str]:  # fmt: skip
        m = self.mine.get(target.key)
        if m is not None and not m.owned:
            m = None
        generation = recurrence.normalise(target.pattern) if target.pattern else ""
        key = sync_key(owner, target.key, generation)
        if m is not None and target.pattern and m.pattern != target.pattern:
            # Salesforce never updates a pattern; a changed rule replaces the series.
            # Its stored files are linked to the new Event, not stored again.
            return self.remove(m, "R-17") + self.create(item, target, owner, key, "R-17",
                                                        files=m.files), key  # fmt: skip
        if m is None or m.pending_create:
            # A pending mapping is an intent: the create may have happened, the retry
            # resolves it by the sync key (the mapping's, never one made of the item as it is now).
            retry_key = m.sync_key if m is not None else key
            return self.create(item, target, owner, retry_key, decision.rule, retry=m), retry_key
        if m.tombstone == _TOMBSTONE_SF_DELETED:
            return [], m.sync_key  # deleted in Salesforce: not created again
        return self.update(item, target, m), m.sync_key

    def event(self, item: Item, target: Target, owner: str, key: str,
              creating: bool) -> fields.SfEventFields:  # fmt: skip
        return fields.event_fields(item, target.span, owner, self.user, self.inp.people, self.s,
                                   creating=creating, sync_key=key, pattern=target.pattern)  # fmt: skip

    def create(self, item: Item, target: Target, owner: str, key: str, rule: str,
               retry: Mapping | None = None,
               files: tuple[StoredFile, ...] = ()) -> list[Action]:  # fmt: skip
        f = self.event(item, target, owner, key, creating=True)
        names = fields.synced_fields(self.s)
        uploads = self.uploads(item, key, None, writing=True) if not target.key.instance else []
        uploads = [replace(u, files=files) for u in uploads] if files else uploads
        mapping = Mapping(
            user_email=self.user.email,
            key=target.key,
            calendar_id=item.calendar_id,
            event_id=item.id,
            owner_sf_id=owner,
            sf_event_id="",
            sync_key=key,
            role=Role.OWNER,
            google_fp=fields.fingerprint(fields.google_values(item, target.span, self.s), names),
            sf_fp=fields.fingerprint(fields.fields_values(f), names),
            prev_color=labels.own_color(item, self.s),
            pattern=target.pattern,
            linked=f.relations.linked,
            start=_instance_of(target),
        )
        out: list[Action] = [SfCreate(key, target.key, f, rule, f.relations.new_people,
                                      retry=retry is not None,
                                      intent_start=retry.start if retry else "",
                                      tried_starts=retry.tried_starts if retry else ())]  # fmt: skip
        out += uploads
        out.append(MappingPut(mapping, rule, before=retry))
        return out

    def uploads(self, item: Item, key: str, m: Mapping | None,
                writing: bool) -> list[StoreAttachments]:  # fmt: skip
        """R-20: the item's attachments go with its Event when one is not stored yet, and, with
        every other write of the Event, all of them (a new revision becomes a new version).
        Size, type and access are judged when they are stored (core/attachments.py)."""
        if not self.s.save_attachments or not item.attachments:
            return []
        judged = set(m.attachments) if m is not None else set()
        new = any(a.file_id not in judged for a in item.attachments)
        if not new and not writing:
            return []
        event = m.occurrence_of or m.sf_event_id if m is not None else ""
        files = m.files if m is not None else ()
        return [StoreAttachments(key, item.attachments, files, event)]

    def update(self, item: Item, target: Target, m: Mapping) -> list[Action]:
        """R-15, R-16, R-22, R-26: carry each changed field the way it changed."""
        names = fields.synced_fields(self.s)
        sf_state = self.sf.get(m.sf_event_id) if m.sf_event_id else None
        g_now = fields.google_values(item, target.span, self.s)
        s_now = fields.sf_values(sf_state) if sf_state is not None else None
        merged = fields.merge(names, g_now, dict(m.google_fp), s_now, dict(m.sf_fp),
                              item.updated, sf_state.last_modified if sf_state else None)  # fmt: skip
        out: list[Action] = [HistoryNote(target.key, c) for c in merged.conflicts]
        f = self.event(item, target, m.owner_sf_id, m.sync_key, creating=False)
        send = list(merged.up)
        linked = m.linked
        if self.s.smart_auto_sharing and set(f.relations.linked) - set(m.linked):
            send.append(RELATIONS)  # newly resolved people are linked
            linked = tuple(sorted(set(m.linked) | set(f.relations.linked)))
        if send:
            out.append(SfUpdate(m.sync_key, m.sf_event_id, f, tuple(send), "R-15", m.occurrence_of,
                                target.span.start_utc if m.occurrence_of else None))  # fmt: skip
        after = item
        if target.key.instance and item.is_series:
            # Instance by instance: Google has one item for the whole series, so a change
            # made in Salesforce to one occurrence stays on that occurrence (recorded, not echoed).
            merged = replace(merged, down=())
        if merged.down and sf_state is not None:
            patch = fields.google_patch(item, sf_state, merged.down)
            out.append(GoogleWrite(patch, "R-22", merged.down))
            after = fields.apply_google_patch(item, patch)
        span_after = after.span if (after.span is not None and not item.is_series) else target.span
        sf_fp = dict(m.sf_fp)
        if s_now is not None:
            sf_fp.update(fields.fingerprint(s_now, names))
        written = fields.fields_values(f)
        sf_fp.update(fields.fingerprint(written, merged.up))
        uploads: list[Action] = []
        if not target.key.instance or not item.is_series:
            uploads += self.uploads(item, m.sync_key, m, writing=bool(send))
        out += uploads
        new = replace(
            m,
            calendar_id=item.calendar_id,
            event_id=item.id,
            google_fp=fields.fingerprint(fields.google_values(after, span_after, self.s), names),
            sf_fp=tuple((n, sf_fp[n]) for n in names if n in sf_fp),
            linked=linked,
            pending_delete=False,
            start=_instance_of(target) if not m.occurrence_of else m.start,
        )
        if new != m or uploads:  # the files stored go into the mapping
            out.append(MappingPut(new, "R-15", before=m))
        return out

    # -- series occurrences (R-17) --------------------------------------------------------

    def occurrence(self, item: Item, work: Work) -> Work:
        """An instance of a series saved as one SF series: a cancelled instance deletes that
        occurrence's Event, a moved or renamed one updates it."""
        parent = self.series_mapping(item)
        assert parent is not None and item.original_start is not None
        start = series.original_start(item)
        m = self.mine.get(item.key)
        decision = Decision(Verdict.UPDATE, "R-17", "instance of a saved series")
        if item.status is ItemStatus.CANCELLED:
            work.decision = replace(decision, verdict=Verdict.DELETE)
            if m is not None and m.tombstone == _TOMBSTONE_CANCELLED:
                return work
            done = Mapping(self.user.email, item.key, item.calendar_id, item.id, parent.owner_sf_id,
                           "", parent.sync_key, occurrence_of=parent.sf_event_id,
                           tombstone=_TOMBSTONE_CANCELLED)  # fmt: skip
            work.actions += [SfDelete(parent.sync_key, "", "R-17", occurrence_of=parent.sf_event_id,
                                      occurrence_start=start, key=str(item.key)),
                             MappingPut(done, "R-17", before=m)]  # fmt: skip
            return work
        work.decision = decision
        assert item.span is not None
        if m is None:
            # First sight of this occurrence: Salesforce has the series' values at the original
            # start, so only what differs from the series (or a moved start) is written.
            base_g, base_s = dict(parent.google_fp), dict(parent.sf_fp)
            if item.span.start_utc == start:
                own = fields.digest(fields.google_values(item, item.span, self.s)[fields.WHEN])
                base_g[fields.WHEN] = base_s[fields.WHEN] = own
            else:
                base_g.pop(fields.WHEN, None)
                base_s.pop(fields.WHEN, None)
            m = Mapping(self.user.email, item.key, item.calendar_id, item.id, parent.owner_sf_id,
                        "", parent.sync_key, google_fp=tuple(base_g.items()),
                        sf_fp=tuple(base_s.items()), occurrence_of=parent.sf_event_id)  # fmt: skip
        target = Target(item.key, item.span)
        acts = self.update(item, target, m)
        work.actions += [
            replace(a, occurrence_start=start) if isinstance(a, SfUpdate) else a for a in acts
        ]
        return work

    # -- delete, unsync, join -------------------------------------------------------------

    def related(self, item: Item) -> list[Mapping]:
        """This user's mappings made of the item: itself, or a series and its instances."""
        own = self.mapping_for(item)
        if own is None:
            return []
        uid = own.key.ical_uid
        if item.is_series or own.pattern or (not own.key.instance and item.recurrence):
            return [m for m in self.mine.values() if m.key.ical_uid == uid]
        return [own]

    def remove(self, m: Mapping, rule: str) -> list[Action]:
        out: list[Action] = []
        if (
            m.owned
            and (m.sf_event_id or m.occurrence_of or m.pending_create)
            and not (m.occurrence_of and m.tombstone == _TOMBSTONE_CANCELLED)
        ):
            # A pending create has no id: the delete finds the Event by its sync key (audit M3).
            out.append(SfDelete(m.sync_key, m.sf_event_id, rule, series=bool(m.pattern),
                                occurrence_of=m.occurrence_of, key=str(m.key),
                                retry=m.pending_delete, owner_id=m.owner_sf_id,
                                intent_start=m.start, tried_starts=m.tried_starts))  # fmt: skip
        out.append(MappingDelete(m, rule))
        return out

    def delete(self, item: Item, decision: Decision) -> list[Action]:
        """R-18: the organiser cancelled (delete) or the user unsynced (delete + unlabel)."""
        out: list[Action] = []
        related = self.related(item)
        for m in sorted(related, key=lambda m: str(m.key)):
            if m.occurrence_of and any(x.pattern for x in related):
                out.append(MappingDelete(m, decision.rule))  # the series goes
            else:
                out += self.remove(m, decision.rule)
        if decision.verdict is Verdict.UNSYNC:
            out += self.label(item, Label(LabelState.UNSYNCED), False, "R-18")
        out += self.issue_actions(str(issue_key(item)), None, decision.rule)
        return out

    def join(self, item: Item, decision: Decision, ctx: policy.Context) -> list[Action]:
        """R-11: the organiser saved it; the attendee's copy is labelled saved, as an invitee."""
        org = ctx.organizer_mapping
        assert org is not None
        mine = Mapping(self.user.email, item.key, item.calendar_id, item.id, org.owner_sf_id,
                       org.sf_event_id, org.sync_key, Role.INVITEE,
                       prev_color=labels.own_color(item, self.s))  # fmt: skip
        if ctx.mapping is not None:
            # What the executor records of the copy (its etag) is not the planner's to change.
            mine = replace(mine, etag=ctx.mapping.etag, zone=ctx.mapping.zone)
        out: list[Action] = []
        if ctx.mapping != mine:
            out.append(MappingPut(mine, "R-11", before=ctx.mapping))
        label = Label(LabelState.SAVED, labels.STATUS_SAVED + "; invitee on the organiser's event",
                      sync_key=org.sync_key)  # fmt: skip
        out += self.label(item, label, decision.manual, "R-11")
        out += self.issue_actions(str(issue_key(item)), None, "R-11")
        return out

    def retry_delete(self, m: Mapping) -> Unit:
        """R-18: a delete Salesforce refused earlier, tried again without a Google copy (the
        cancelled item is no longer listed)."""
        decision = Decision(Verdict.DELETE, "R-18", "Salesforce refused the delete earlier; again")
        work = Work(str(m.key), None, decision)
        work.actions += self.remove(m, "R-18")
        work.actions += self.issue_actions(str(m.key), None, "R-18")
        return work.unit()

    # -- Salesforce creations (R-21, R-24) ------------------------------------------------

    def sf_created(self, event: SfEventState) -> Unit | None:
        """An SF Event that no mapping knows: copied into the calendar (R-21), or, a series,
        reported (R-24); None when it is not the user's to receive."""
        known = self.known_keys
        down = downsync.new_event(event, self.user.email, self.user.sf_user_id, self.s,
                                  self.inp.now, known)  # fmt: skip
        if down is None:
            return None
        if down.create is None:
            key = f"sf-series:{down.series_key}" if down.series_key else f"sf:{event.sf_event_id}"
            work = Work(key, None, down.decision)
            if down.decision.verdict is Verdict.FAIL:
                want = Issue(down.decision.issue_code, self.user.email, key, down.decision.reason,
                             event.subject, event.start_utc)  # fmt: skip
                work.actions += self.issue_actions(key, want, down.decision.rule)
            return work.unit()
        assert down.mapping is not None and down.item is not None
        work = Work(str(down.mapping.key), down.item, down.decision)
        work.actions += [GoogleCreate(down.create), MappingPut(down.mapping, "R-21")]
        return work.unit()

    # -- a copy planned unread (R-22, R-23) ------------------------------------------------

    def sf_changed_unread(self, event: SfEventState) -> Unit:
        """R-22: the fields Salesforce changed, patched into the copy if it still has the etag
        the mapping recorded (then Google did not change it: nothing to merge, R-26)."""
        m = self.by_sf[event.sf_event_id]
        work = Work(str(m.key), None, Decision(Verdict.UPDATE, "R-22", "changed in Salesforce"))
        got = downsync.unread_update(event, m, self.s)
        assert got is not None  # the session asks downsync.unread_ok first
        patch, after = got
        if patch is not None:
            was = dict(m.sf_fp)
            sent = tuple(n for n, fp in after.sf_fp if n != fields.LINKS and was.get(n) != fp)
            work.actions.append(GoogleWrite(patch, "R-22", sent))
        if after != m:
            work.actions.append(MappingPut(after, "R-22", before=m))
        return work.unit()

    def sf_deleted_unread(self, event: SfEventState) -> Unit:
        """R-23 for a copy not read: its labels off (or, with delete_from_calendar, the copy
        deleted) if it still has the etag the mapping recorded; the mapping goes."""
        m = self.by_sf[event.sf_event_id]
        work = Work(str(m.key), None, Decision(Verdict.UNSYNC, "R-23", "deleted in Salesforce"))
        if self.s.delete_from_calendar:
            work.actions.append(GoogleDelete(m.calendar_id, m.event_id, "R-23", m.etag))
        else:
            patch = labels.unsynced_unread(m.calendar_id, m.event_id, m.prev_color, m.etag)
            work.actions.append(GoogleLabel(patch, LabelState.UNSYNCED, "R-23"))
        work.actions.append(MappingDelete(m, "R-23"))
        work.actions += self.issue_actions(work.key, None, "R-23")
        return work.unit()

    # -- Salesforce deletions (R-23) ------------------------------------------------------

    def sf_deleted(self, event: SfEventState, items: dict[tuple[str, str], Item]) -> Unit:
        m = self.by_sf[event.sf_event_id]
        item = items.get((m.calendar_id, m.event_id))
        work = Work(str(m.key), item, Decision(Verdict.UNSYNC, "R-23", "deleted in Salesforce"))
        if m.key.instance and item is not None and item.is_series:
            # One instance of a series saved instance by instance: forget that occurrence only,
            # and remember it was deleted so that it is not created again. The series
            # itself is still planned in this session, against the tombstone.
            tomb = replace(m, sf_event_id="", tombstone=_TOMBSTONE_SF_DELETED)
            work.actions.append(MappingPut(tomb, "R-23", before=m))
            self.mine[m.key] = tomb
            self._index()
            return work.unit()
        work.actions.append(MappingDelete(m, "R-23"))
        if item is None or item.status is ItemStatus.CANCELLED:
            # The Event is gone, as a cancel wanted: a refused delete's issue closes (audit H2).
            work.actions += self.issue_actions(work.key, None, "R-23")
            return work.unit()
        if self.s.delete_from_calendar and m.owned:
            work.actions.append(GoogleDelete(m.calendar_id, m.event_id, "R-23"))
        else:
            # Left in place (an invitee's copy always: the meeting is theirs too), labels off; marked unsynced so autosave does not save it again.
            work.actions += self.label(item, Label(LabelState.UNSYNCED), False, "R-23")
        work.actions += self.issue_actions(work.key, None, "R-23")
        return work.unit()


def issue_key(item: Item) -> ItemKey:
    """The key an item's issue is filed under: a series by its own key, anything else by its key."""
    return item.series_key if item.is_series else item.key


def _start(item: Item) -> datetime | None:
    if item.span is None:
        return None
    try:
        return item.span.start_utc
    except (OverflowError, ValueError):
        return None


def _instance_of(target: Target) -> str:
    """The mapping's `start`: when the SF Event starts, as instance text (for a 410 resync)."""
    try:
        span = target.span
        return instance_text(span.start_date if span.is_all_day else span.start_utc)
    except (OverflowError, ValueError):
        return ""


def _same_meeting(items: Sequence[Item], user_email: str) -> list[tuple[Item, list[Item]]]:
    """H1a: copies with the same key (the meeting on the primary and on a group calendar) are
    planned once: the user's own copy leads, the others are only labelled with it."""
    groups: dict[ItemKey, list[Item]] = defaultdict(list)
    for item in items:
        groups[item.key].append(item)
    out: list[tuple[Item, list[Item]]] = []
    for item in items:
        group = groups[item.key]
        if len(group) == 1:
            out.append((item, []))
            continue
        lead = min(group, key=lambda i: (i.calendar_id.lower() != user_email.lower(),
                                         i.status is ItemStatus.CANCELLED, i.calendar_id, i.id))  # fmt: skip
        if item is lead:
            out.append((lead, [i for i in group if i is not lead]))
    return out


def wanted(items: Iterable[Item], sf_events: Iterable[SfEventState] = (),
           found: Iterable[Mapping] = ()) -> MappingQuery:  # fmt: skip
    """The user's mappings that planning these items and SF Events reads (issue 14: a session
    never reads all of them): each item's own and its series' (by key; by the copy's id when
    Google sent no iCalUID, as for a cancelled event), every mapping of a series or of an
    instance's series (R-17), those of the SF Events by id and by sync key (R-21..R-23), and the
    pending ones (R-29, H2). `found`: mappings read already; a series mapping among them wants
    its instances too. Asked again with what it found until nothing new is wanted."""
    items = list(items)
    events = list(sf_events)
    keys = {i.key for i in items} | {i.series_key for i in items if i.is_instance or i.is_series}
    uids = {i.series_key.ical_uid for i in items if i.is_instance or i.is_series or i.recurrence}
    uids |= {m.key.ical_uid for m in found if m.pattern}
    return MappingQuery(
        keys=frozenset(keys),
        event_ids=frozenset(i.id for i in items if not i.ical_uid),
        ical_uids=frozenset(uids),
        sf_event_ids=frozenset(e.sf_event_id for e in events),
        sync_keys=frozenset(e.calsync_key for e in events if e.calsync_key),
        pending=True,
    )


def plan(inp: SessionInput) -> Plan:
    """Plan one session of one user. Pure: same input, same plan."""
    planner = _Planner(inp)
    items = sorted(inp.items, key=lambda i: (i.calendar_id, i.id))
    by_copy = {(i.calendar_id, i.id): i for i in items}
    units: list[Unit] = []
    gone: set[tuple[str, str]] = set()
    gone_keys: set[ItemKey] = set()  # the meeting's other copies too (H1a: planned once)
    series_seen: set[str] = set()
    for event in sorted(inp.sf_events, key=lambda e: e.sf_event_id):
        unread = event.sf_event_id in inp.unread and event.sf_event_id in planner.by_sf
        if unread and not event.deleted:
            units.append(planner.sf_changed_unread(event))
        elif event.deleted and event.sf_event_id in planner.by_sf:
            m = planner.by_sf[event.sf_event_id]
            units.append(planner.sf_deleted_unread(event) if unread
                         else planner.sf_deleted(event, by_copy))  # fmt: skip
            if planner.mine.get(m.key) is None or not m.key.instance:
                gone.add((m.calendar_id, m.event_id))
                gone_keys.add(m.key)
        elif event.sf_event_id not in planner.by_sf:
            created = planner.sf_created(event)
            if created is not None and created.key not in series_seen:  # once a series
                series_seen.add(created.key)
                units.append(created)
    planned: set[ItemKey] = set()
    left = [i for i in items if (i.calendar_id, i.id) not in gone and i.key not in gone_keys]
    for item, copies in _same_meeting(left, inp.user.email):
        units.append(_isolated(planner, item, copies))
        planned.add(item.key)
    for m in sorted(planner.mine.values(), key=lambda m: str(m.key)):
        if m.pending_delete and m.key not in planned and (m.calendar_id, m.event_id) not in by_copy:
            units.append(planner.retry_delete(m))
    if inp.backfill is not None:
        # a backfill saves and never deletes. The sessions see every cancel and
        # unsync through their sync token; the deletion guard, its held set and CS-009 stay
        # theirs, and an item whose unit would delete is left to them.
        return Plan(tuple(u for u in units if not u.deletes))
    verdict = guard.guard(units, planner.mine.values(), inp.settings, inp.user.email,
                          inp.released, inp.recent_deletes, inp.open_issues, inp.saved)  # fmt: skip
    return Plan(verdict.go, verdict.held, verdict.issues)


def _isolated(planner: _Planner, item: Item, copies: Sequence[Item]) -> Unit:
    """H3: an item whose planning fails (a time that cannot be converted, a rule dateutil chokes
    on) fails alone with CS-015; the others are planned as usual."""
    try:
        return planner.plan_item(item, copies)
    except (ValueError, TypeError, OverflowError, OSError, ArithmeticError, LookupError,
            AssertionError, RecursionError) as exc:  # fmt: skip
        work = Work(str(_safe_key(item)), item)
        return planner.unprocessable(item, work, f"{type(exc).__name__} while planning").unit()


def _safe_key(item: Item) -> ItemKey:
    try:
        return issue_key(item)
    except (ValueError, TypeError):
        return ItemKey(item.ical_uid or item.id)
