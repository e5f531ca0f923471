"""The planner of one sync session (observe → plan → execute): one user's changed items and SF
Events in, a list of printable action value objects out (R-36 dry run prints it).

The plan is a pure function of its input. It writes nothing and compares what each side should
carry with what it carries, so planning twice gives the same actions, and planning again on the
result of applying them gives none. Keys are deterministic (R-39), so it never plans two creates
for the same owner and item. The deletion guard (R-37) holds every delete of a session that
would delete too much.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from core import fields, labels, policy, recurrence
from core.fields import Conflict, GooglePatch, NewPerson, SfEventFields
from core.issues import Issue
from core.labels import Label, LabelPatch, LabelState
from core.model import (
    Attachment,
    Item,
    ItemKey,
    ItemStatus,
    Mapping,
    People,
    Role,
    SessionUser,
    SfEventState,
    Span,
    instance_text,
    sync_key,
    with_props,
)
from core.policy import Decision, Verdict
from core.settings import Settings

BATCH = 200  # Salesforce sObject Collections take at most 200 records
GUARD_CODE = "CS-009"
RELATION_NAMES = ("WhoId", "WhatId", "EventWhoIds", "AcceptedEventInviteeIds",
                  "DeclinedEventInviteeIds", "UndecidedEventInviteeIds")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Input


@dataclass(frozen=True)
class SessionInput:
    """What the session observed for one user.

    `items`: the user's changed Google copies (primary and listed group calendars), plus the
    copy of every mapped SF Event in `sf_events`, plus a series' parent when one of its instances
    is there. `mappings`: all of this user's mappings (the deletion guard counts them).
    `organizer_mappings`: other owners' mappings for the same iCalUIDs (R-11). `sf_events`: the
    user's mapped SF Events that changed or were deleted since the watermark (R-22, R-23).
    """

    user: SessionUser
    settings: Settings
    now: datetime
    items: tuple[Item, ...] = ()
    mappings: tuple[Mapping, ...] = ()
    organizer_mappings: tuple[Mapping, ...] = ()
    people: People = field(default_factory=People)
    sf_events: tuple[SfEventState, ...] = ()
    open_issues: tuple[Issue, ...] = ()
    deletes_confirmed: bool = False  # the admin ran `deletes confirm`


# ---------------------------------------------------------------------------------------------
# Actions: small value objects, each with the rule that asked for it.


@dataclass(frozen=True)
class SfCreate:
    sync_key: str
    key: ItemKey
    fields: SfEventFields
    rule: str
    new_people: tuple[NewPerson, ...] = ()  # create first, then link

    def describe(self) -> str:
        return f"create SF Event {self.sync_key} for {self.key} owner {self.fields.owner_id}"


@dataclass(frozen=True)
class SfUpdate:
    """Update `sf_event_id`, or the occurrence of series `occurrence_of` at `occurrence_start`."""

    sync_key: str
    sf_event_id: str
    fields: SfEventFields
    names: tuple[str, ...]  # the API fields to send
    rule: str
    occurrence_of: str = ""
    occurrence_start: datetime | None = None

    def describe(self) -> str:
        target = self.sf_event_id or f"occurrence {self.occurrence_start} of {self.occurrence_of}"
        return f"update SF Event {target} ({', '.join(self.names)})"


@dataclass(frozen=True)
class SfDelete:
    sync_key: str
    sf_event_id: str
    rule: str
    series: bool = False  # DELETE .../fromThisEventOnwards on the first occurrence
    occurrence_of: str = ""
    occurrence_start: datetime | None = None
    key: str = ""

    def describe(self) -> str:
        target = self.sf_event_id or f"occurrence {self.occurrence_start} of {self.occurrence_of}"
        return f"delete SF Event {target}{' (whole series)' if self.series else ''}"


@dataclass(frozen=True)
class LabelWrite:
    patch: LabelPatch
    state: LabelState
    rule: str

    def describe(self) -> str:
        p = self.patch
        color = f" colour {p.color_id or 'default'}" if p.set_color else ""
        return f"label {p.event_id} {self.state.value}{color}"


@dataclass(frozen=True)
class GoogleWrite:
    patch: GooglePatch
    rule: str

    def describe(self) -> str:
        sent = [k for k in ("summary", "start", "location", "visibility", "transparency",
                            "description") if getattr(self.patch, k) is not None]  # fmt: skip
        return f"patch Google item {self.patch.event_id} ({', '.join(sent)})"


@dataclass(frozen=True)
class GoogleDelete:
    calendar_id: str
    event_id: str
    rule: str

    def describe(self) -> str:
        return f"delete Google item {self.event_id}"


@dataclass(frozen=True)
class MappingPut:
    """Store a mapping. An empty `sf_event_id` takes the id of the SfCreate with the same sync
    key in the same plan; without such a create it stays empty (occurrences, tombstones)."""

    mapping: Mapping
    rule: str

    def describe(self) -> str:
        return f"store mapping {self.mapping.key} → {self.mapping.sync_key}"


@dataclass(frozen=True)
class MappingDelete:
    user_email: str
    key: ItemKey
    rule: str

    def describe(self) -> str:
        return f"forget mapping {self.key}"


@dataclass(frozen=True)
class IssueOpen:
    issue: Issue
    rule: str

    def describe(self) -> str:
        return (
            f"open issue {self.issue.code} on {self.issue.key or 'session'}: {self.issue.message}"
        )


@dataclass(frozen=True)
class IssueClose:
    issue: Issue
    rule: str

    def describe(self) -> str:
        return f"close issue {self.issue.code} on {self.issue.key or 'session'}"


@dataclass(frozen=True)
class AttachmentUpload:
    """R-20: store one attachment as a ContentVersion linked to the SF Event."""

    sync_key: str
    attachment: Attachment
    rule: str = "R-20"

    def describe(self) -> str:
        return f"store attachment {self.attachment.file_id} with {self.sync_key}"


@dataclass(frozen=True)
class HistoryNote:
    """R-26: a field changed on both sides; the losing value goes to the event's history."""

    key: ItemKey
    conflict: Conflict
    rule: str = "R-26"

    def describe(self) -> str:
        return f"conflict on {self.key} {self.conflict.field}: {self.conflict.winner} wins"


Action = (SfCreate | SfUpdate | SfDelete | LabelWrite | GoogleWrite | GoogleDelete | MappingPut
          | MappingDelete | IssueOpen | IssueClose | AttachmentUpload | HistoryNote)  # fmt: skip


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    decisions: tuple[tuple[str, Decision], ...] = ()  # (item id, decision): the dry run's "why"
    deletes_held: int = 0

    def __bool__(self) -> bool:
        return bool(self.actions)

    def of(self, kind: type) -> list[Action]:
        return [a for a in self.actions if isinstance(a, kind)]

    def sf_batches(self) -> list[tuple[Action, ...]]:
        """R-30: Salesforce writes in sObject Collection batches of at most 200, creates first."""
        out: list[tuple[Action, ...]] = []
        for kind in (SfCreate, SfUpdate, SfDelete):
            group = self.of(kind)
            out += [tuple(group[i : i + BATCH]) for i in range(0, len(group), BATCH)]
        return out

    def render(self) -> str:
        """R-36: the plan as the dry run prints it: each decision with its rule, then actions."""
        lines = [f"item {item_id}: {decision}" for item_id, decision in self.decisions]
        if self.deletes_held:
            lines.append(f"deletion guard (R-37): {self.deletes_held} deletes held")
        lines += [f"[{a.rule}] {a.describe()}" for a in self.actions]
        return "\n".join(lines) if lines else "nothing to do"


# ---------------------------------------------------------------------------------------------
# Planning


@dataclass
class _Work:
    """Actions planned for one item, kept together so the deletion guard can hold them."""

    key: str
    actions: list[Action] = field(default_factory=list)

    @property
    def deletes(self) -> int:
        return sum(isinstance(a, SfDelete) for a in self.actions)


@dataclass(frozen=True)
class _Target:
    """One SF Event an item becomes: the item, a series, or one instance of a series."""

    key: ItemKey
    span: Span
    pattern: str = ""


class _Session:
    def __init__(self, inp: SessionInput) -> None:
        self.inp = inp
        self.s = inp.settings
        self.user = inp.user
        me = inp.user.email.lower()
        self.mine = {m.key: m for m in inp.mappings if m.user_email.lower() == me}
        self.by_event = {(m.calendar_id, m.event_id): m for m in self.mine.values()}
        self.by_sf = {m.sf_event_id: m for m in self.mine.values() if m.sf_event_id}
        self.sf = {e.sf_event_id: e for e in inp.sf_events}
        self.issues = {i.key: [] for i in inp.open_issues}  # type: dict[str, list[Issue]]
        for issue in inp.open_issues:
            self.issues[issue.key].append(issue)
        self.decisions: list[tuple[str, Decision]] = []
        # tagging any instance saves the series.
        self.tagged_series = {
            i.series_key for i in inp.items if i.is_instance and labels.wants_save(i, self.s)
        }

    # -- helpers --------------------------------------------------------------------------

    def mapping_for(self, item: Item) -> Mapping | None:
        return self.mine.get(item.key) or self.by_event.get((item.calendar_id, item.id))

    def organizer_mapping(self, item: Item) -> Mapping | None:
        organiser = policy.organizer_email(item)
        owner = self.inp.people.enabled_users.get(organiser, "")
        for m in self.inp.organizer_mappings:
            if m.key == item.key and m.owner_sf_id == owner and m.role is Role.OWNER:
                return m
        return None

    def issue_actions(self, key: str, want: Issue | None, rule: str) -> list[Action]:
        out: list[Action] = []
        have = self.issues.get(key, [])
        for issue in have:
            if want is None or issue.code != want.code:
                out.append(IssueClose(issue, rule))
        if want is not None and not any(i.code == want.code for i in have):
            out.append(IssueOpen(want, rule))
        return out

    def issue(self, item: Item, code: str, message: str) -> Issue:
        start = item.span.start_utc if item.span is not None else None
        return Issue(code, self.user.email, str(self.issue_key(item)), message, item.title, start)

    @staticmethod
    def issue_key(item: Item) -> ItemKey:
        return item.series_key if item.is_series else item.key

    def label(self, item: Item, label: Label, manual: bool, rule: str) -> list[Action]:
        patch = labels.patch_for(item, label, self.s, manual)
        return [LabelWrite(patch, label.state, rule)] if patch is not None else []

    # -- targets (R-17) -------------------------------------------------------------------

    def targets(self, item: Item) -> tuple[list[_Target], str]:
        """The SF Events an item becomes, and a status note. A series whose rule Salesforce
        cannot express is saved instance by instance inside the window (R-17)."""
        assert item.span is not None
        if not item.is_series:
            return [_Target(item.key, item.span)], ""
        translation = recurrence.translate(item.recurrence, item.span)
        if translation.ok:
            return [_Target(item.series_key, item.span, translation.pattern)], ""
        lo = self.inp.now - timedelta(days=self.s.window_past_days)
        hi = self.inp.now + timedelta(days=self.s.window_future_days)
        try:
            spans = recurrence.instances(item.recurrence, item.span, lo, hi)
        except (ValueError, TypeError):
            spans = []
        uid = item.series_key.ical_uid
        out = [
            _Target(ItemKey(uid, instance_text(s.start_date if s.is_all_day else s.start_utc)), s)
            for s in spans
        ]
        return out, f"saved instance by instance: {translation.refusal}"

    # -- one item -------------------------------------------------------------------------

    def plan_item(self, item: Item) -> _Work:
        work = _Work(str(self.issue_key(item)))
        if item.is_instance and self.series_mapping(item) is not None:
            work.actions += self.occurrence(item)
            return work
        mapping = self.mapping_for(item)
        if (
            item.is_instance
            and item.series_key in self.tagged_series
            and self.parent_in_batch(item)
        ):
            return self.covered_by_series(item, work)
        ctx = policy.Context(self.user, self.s, self.inp.now, self.inp.people, mapping,
                             self.organizer_mapping(item))  # fmt: skip
        seen = item
        if item.is_series and item.series_key in self.tagged_series and mapping is None:
            # a tagged instance is a manual save of its series (labels compare with `item`).
            seen = with_props(item, {**item.props, labels.P_MANUAL: "1"})
        decision = policy.decide(seen, ctx)
        self.decisions.append((item.id, decision))
        v = decision.verdict
        if v in (Verdict.SAVE, Verdict.UPDATE):
            work.actions += self.save(item, decision)
        elif v in (Verdict.DELETE, Verdict.UNSYNC):
            work.actions += self.delete(item, decision)
        elif v is Verdict.JOIN:
            work.actions += self.join(item, decision, ctx)
        elif v in (Verdict.WAIT, Verdict.FAIL):
            state = LabelState.PENDING if v is Verdict.WAIT else LabelState.ERROR
            label = Label(state, decision.reason, decision.issue_code)
            work.actions += self.label(item, label, decision.manual, decision.rule)
            want = self.issue(item, decision.issue_code, decision.reason)
            work.actions += self.issue_actions(work.key, want, decision.rule)
        else:  # SKIP: quietly, but take off labels and issues that no longer apply
            state = LabelState.UNSYNCED if labels.was_unsynced(item) else LabelState.NONE
            if item.status is not ItemStatus.CANCELLED:
                work.actions += self.label(item, Label(state), decision.manual, decision.rule)
            work.actions += self.issue_actions(work.key, None, decision.rule)
        return work

    def parent_in_batch(self, item: Item) -> bool:
        return any(i.is_series and i.series_key == item.series_key for i in self.inp.items)

    def covered_by_series(self, item: Item, work: _Work) -> _Work:
        """R-17: a tagged instance saves its series; the instance copy is labelled with it."""
        owner = self.user.sf_user_id
        parent = next(i for i in self.inp.items if i.is_series and i.series_key == item.series_key)
        targets, _ = self.targets(parent) if parent.span is not None else ([], "")
        # The key the series' own save uses (R-39): with the rule's generation when Salesforce
        # takes it as one series.
        # Instance by instance, every copy carries the series' own key, as save() labels it.
        target = targets[0] if len(targets) == 1 and targets[0].pattern else None
        if target is None:
            key = sync_key(owner, item.series_key)
        else:
            key = sync_key(owner, target.key, recurrence.normalise(target.pattern))
        label = Label(LabelState.SAVED, "saved with its series", sync_key=key)
        work.actions += self.label(item, label, True, "R-17")
        self.decisions.append((item.id, Decision(Verdict.SKIP, "R-17", "saved with its series")))
        return work

    def series_mapping(self, item: Item) -> Mapping | None:
        m = self.mine.get(item.series_key)
        return m if m is not None and m.pattern and m.role is Role.OWNER else None

    # -- save / update --------------------------------------------------------------------

    def save(self, item: Item, decision: Decision) -> list[Action]:
        out: list[Action] = []
        targets, note = self.targets(item)
        owner = decision.owner_sf_id
        keys = []
        notes: list[str] = [note] if note else []
        for target in targets:
            acts, key, tnotes = self.save_target(item, target, owner, decision)
            out += acts
            keys.append(key)
            notes += [n for n in tnotes if n not in notes]
        # A series that switched between one SF series and instance by instance: drop the old.
        old = self.mine.get(item.series_key) if item.is_series else None
        if (
            old is not None
            and old.role is Role.OWNER
            and not any(t.key == old.key for t in targets)
        ):
            out += self.remove(old, "R-17")
        if item.is_series and note:
            out += self.orphans(item, {t.key for t in targets})
        status = "; ".join([labels.STATUS_SAVED] + notes)
        # Instance by instance, the copy carries the series' key: it must not change as the
        # window slides.
        copy_key = sync_key(owner, item.series_key) if note else (keys[0] if keys else "")
        label = Label(LabelState.SAVED, status, sync_key=copy_key)
        out += self.label(item, label, decision.manual, decision.rule)
        out += self.issue_actions(str(self.issue_key(item)), None, decision.rule)
        return out

    def orphans(self, item: Item, current: set[ItemKey]) -> list[Action]:
        """R-17: instances saved earlier that the changed series no longer has inside the
        window are deleted; instances before the window stay (they happened)."""
        lo = self.inp.now - timedelta(days=self.s.window_past_days)
        hi = self.inp.now + timedelta(days=self.s.window_future_days)
        out: list[Action] = []
        for m in sorted(self.mine.values(), key=lambda m: str(m.key)):
            start = _instance_start(m)
            if (m.key.ical_uid == item.series_key.ical_uid and m.key not in current
                    and not m.occurrence_of and m.role is Role.OWNER and start is not None
                    and lo <= start <= hi):  # fmt: skip
                out += self.remove(m, "R-17")
        return out

    def save_target(self, item: Item, target: _Target, owner: str,
                    decision: Decision) -> tuple[list[Action], str, tuple[str, ...]]:  # fmt: skip
        m = self.mine.get(target.key)
        if m is not None and m.role is not Role.OWNER:
            m = None
        generation = recurrence.normalise(target.pattern) if target.pattern else ""
        key = sync_key(owner, target.key, generation)
        # The status notes (R-13a, relation limits) are the same whether created or updated.
        notes = self.event(item, target, owner, key, creating=True).notes
        if m is not None and target.pattern and m.pattern != target.pattern:
            # Salesforce never updates a pattern; a changed rule replaces the series.
            return (
                self.remove(m, "R-17") + self.create(item, target, owner, key, "R-17"),
                key,
                notes,
            )
        if m is None:
            return self.create(item, target, owner, key, decision.rule), key, notes
        if m.google_fp == _GONE:
            return [], m.sync_key, notes  # deleted in Salesforce: not created again
        return self.update(item, target, m), m.sync_key, notes

    def event(self, item: Item, target: _Target, owner: str, key: str,
              creating: bool) -> SfEventFields:  # fmt: skip
        return fields.event_fields(item, target.span, owner, self.user, self.inp.people, self.s,
                                   creating=creating, sync_key=key, pattern=target.pattern)  # fmt: skip

    def create(self, item: Item, target: _Target, owner: str, key: str, rule: str) -> list[Action]:
        f = self.event(item, target, owner, key, creating=True)
        names = fields.synced_fields(self.s)
        uploads = self.uploads(item, key, ())
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
            attachments=tuple(u.attachment.file_id for u in uploads),
        )
        out: list[Action] = [SfCreate(key, target.key, f, rule, f.relations.new_people)]
        out += uploads
        out.append(MappingPut(mapping, rule))
        return out

    def uploads(self, item: Item, key: str, done: tuple[str, ...]) -> list[AttachmentUpload]:
        """R-20: attachments not yet stored, within the admin's size limit."""
        if not self.s.save_attachments:
            return []
        return [
            AttachmentUpload(key, a)
            for a in item.attachments
            if a.file_id not in done
            and (a.size_bytes is None or a.size_bytes <= self.s.attachment_max_bytes)
        ]

    def update(self, item: Item, target: _Target, m: Mapping) -> list[Action]:
        """R-15, R-16, R-22, R-26: carry each changed field the way it changed."""
        names = fields.synced_fields(self.s)
        sf_state = self.sf.get(m.sf_event_id) if m.sf_event_id else None
        g_now = fields.google_values(item, target.span, self.s)
        s_now = fields.sf_values(sf_state) if sf_state is not None else None
        merged = fields.merge(names, g_now, dict(m.google_fp), s_now, dict(m.sf_fp),
                              item.updated, sf_state.last_modified if sf_state else None)  # fmt: skip
        out: list[Action] = [HistoryNote(target.key, c) for c in merged.conflicts]
        f = self.event(item, target, m.owner_sf_id, m.sync_key, creating=False)
        api = [n for name in merged.up for n in fields.SF_NAMES[name]]
        linked = m.linked
        if self.s.smart_auto_sharing and set(f.relations.linked) - set(m.linked):
            api += list(RELATION_NAMES)  # newly resolved people are linked
            linked = tuple(sorted(set(m.linked) | set(f.relations.linked)))
        sent = tuple(n for n in f.as_salesforce() if n in api)
        if sent:
            out.append(SfUpdate(m.sync_key, m.sf_event_id, f, sent, "R-15", m.occurrence_of,
                                target.span.start_utc if m.occurrence_of else None))  # fmt: skip
        after = item
        if target.key.instance and item.is_series:
            # Instance by instance: Google has one item for the whole series, so a change
            # made in Salesforce to one occurrence stays on that occurrence (recorded, not echoed).
            merged = replace(merged, down=())
        if merged.down and sf_state is not None:
            patch = fields.google_patch(item, sf_state, merged.down)
            out.append(GoogleWrite(patch, "R-22"))
            after = fields.apply_google_patch(item, patch)
        span_after = after.span if (after.span is not None and not item.is_series) else target.span
        sf_fp = dict(m.sf_fp)
        if s_now is not None:
            sf_fp.update(fields.fingerprint(s_now, names))
        written = fields.fields_values(f)
        sf_fp.update(fields.fingerprint(written, merged.up))
        uploads = self.uploads(item, m.sync_key, m.attachments)
        out += uploads
        new = replace(
            m,
            calendar_id=item.calendar_id,
            event_id=item.id,
            google_fp=fields.fingerprint(fields.google_values(after, span_after, self.s), names),
            sf_fp=tuple((n, sf_fp[n]) for n in names if n in sf_fp),
            linked=linked,
            attachments=m.attachments + tuple(u.attachment.file_id for u in uploads),
        )
        if new != m:
            out.append(MappingPut(new, "R-15"))
        return out

    # -- series occurrences (R-17) --------------------------------------------------------

    def occurrence(self, item: Item) -> list[Action]:
        """An instance of a series saved as one SF series: a cancelled instance deletes that
        occurrence's Event, a moved or renamed one updates it."""
        series = self.series_mapping(item)
        assert series is not None and item.original_start is not None
        original = item.original_start
        start = (original.astimezone(UTC) if isinstance(original, datetime)
                 else datetime.combine(original, datetime.min.time(), UTC))  # fmt: skip
        m = self.mine.get(item.key)
        decision = Decision(Verdict.UPDATE, "R-17", "instance of a saved series")
        if item.status is ItemStatus.CANCELLED:
            self.decisions.append((item.id, replace(decision, verdict=Verdict.DELETE)))
            if m is not None and dict(m.google_fp).get("cancelled") == "1":
                return []
            done = Mapping(self.user.email, item.key, item.calendar_id, item.id, series.owner_sf_id,
                           "", series.sync_key, google_fp=(("cancelled", "1"),),
                           occurrence_of=series.sf_event_id)  # fmt: skip
            return [SfDelete(series.sync_key, "", "R-17", occurrence_of=series.sf_event_id,
                             occurrence_start=start, key=str(item.key)),
                    MappingPut(done, "R-17")]  # fmt: skip
        self.decisions.append((item.id, decision))
        assert item.span is not None
        if m is None:
            # First sight of this occurrence: Salesforce has the series' values at the original
            # start, so only what differs from the series (or a moved start) is written.
            base_g, base_s = dict(series.google_fp), dict(series.sf_fp)
            if item.span.start_utc == start:
                own = fields.digest(fields.google_values(item, item.span, self.s)[fields.WHEN])
                base_g[fields.WHEN] = base_s[fields.WHEN] = own
            else:
                base_g.pop(fields.WHEN, None)
                base_s.pop(fields.WHEN, None)
            m = Mapping(self.user.email, item.key, item.calendar_id, item.id, series.owner_sf_id,
                        "", series.sync_key, google_fp=tuple(base_g.items()),
                        sf_fp=tuple(base_s.items()), occurrence_of=series.sf_event_id)  # fmt: skip
        target = _Target(item.key, item.span)
        acts = self.update(item, target, m)
        return [replace(a, occurrence_start=start) if isinstance(a, SfUpdate) else a for a in acts]

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
            m.role is Role.OWNER
            and (m.sf_event_id or m.occurrence_of)
            and not (m.occurrence_of and dict(m.google_fp).get("cancelled") == "1")
        ):
            out.append(SfDelete(m.sync_key, m.sf_event_id, rule, series=bool(m.pattern),
                                occurrence_of=m.occurrence_of, key=str(m.key)))  # fmt: skip
        out.append(MappingDelete(m.user_email, m.key, rule))
        return out

    def delete(self, item: Item, decision: Decision) -> list[Action]:
        """R-18: the organiser cancelled (delete) or the user unsynced (delete + unlabel)."""
        out: list[Action] = []
        for m in sorted(self.related(item), key=lambda m: str(m.key)):
            if m.occurrence_of and any(x.pattern for x in self.related(item)):
                out.append(MappingDelete(m.user_email, m.key, decision.rule))  # the series goes
            else:
                out += self.remove(m, decision.rule)
        if decision.verdict is Verdict.UNSYNC:
            out += self.label(item, Label(LabelState.UNSYNCED), False, "R-18")
        out += self.issue_actions(str(self.issue_key(item)), None, decision.rule)
        return out

    def join(self, item: Item, decision: Decision, ctx: policy.Context) -> list[Action]:
        """R-11: the organiser saved it; the attendee's copy is labelled saved, as an invitee."""
        org = ctx.organizer_mapping
        assert org is not None
        mine = Mapping(self.user.email, item.key, item.calendar_id, item.id, org.owner_sf_id,
                       org.sf_event_id, org.sync_key, Role.INVITEE,
                       prev_color=labels.own_color(item, self.s))  # fmt: skip
        out: list[Action] = []
        if ctx.mapping != mine:
            out.append(MappingPut(mine, "R-11"))
        label = Label(LabelState.SAVED, labels.STATUS_SAVED + "; invitee on the organiser's event",
                      sync_key=org.sync_key)  # fmt: skip
        out += self.label(item, label, decision.manual, "R-11")
        out += self.issue_actions(str(self.issue_key(item)), None, "R-11")
        return out

    # -- Salesforce deletions (R-23) ------------------------------------------------------

    def sf_deleted(self, event: SfEventState, items: dict[tuple[str, str], Item]) -> _Work:
        m = self.by_sf[event.sf_event_id]
        work = _Work(str(m.key))
        item = items.get((m.calendar_id, m.event_id))
        if m.key.instance and item is not None and item.is_series:
            # One instance of a series saved instance by instance: forget that occurrence only,
            # and remember it was deleted so that it is not created again. The series
            # itself is still planned in this session, against the tombstone.
            tomb = replace(m, sf_event_id="", google_fp=_GONE)
            work.actions.append(MappingPut(tomb, "R-23"))
            self.mine[m.key] = tomb
            self.by_event = {(x.calendar_id, x.event_id): x for x in self.mine.values()}
            return work
        work.actions.append(MappingDelete(m.user_email, m.key, "R-23"))
        if item is None or item.status is ItemStatus.CANCELLED:
            return work
        if self.s.delete_from_calendar:
            work.actions.append(GoogleDelete(m.calendar_id, m.event_id, "R-23"))
        else:
            # Left in place, labels off; marked unsynced so autosave does not save it again.
            work.actions += self.label(item, Label(LabelState.UNSYNCED), False, "R-23")
        work.actions += self.issue_actions(work.key, None, "R-23")
        return work


_GONE = (("deleted_in_salesforce", "1"),)  # an instance's mapping kept as a tombstone


def _instance_start(m: Mapping) -> datetime | None:
    text = m.key.instance
    for fmt in ("%Y%m%dT%H%M%SZ", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def plan(inp: SessionInput) -> Plan:
    """Plan one session of one user. Pure: same input, same plan."""
    session = _Session(inp)
    items = sorted(inp.items, key=lambda i: (i.calendar_id, i.id))
    by_copy = {(i.calendar_id, i.id): i for i in items}
    works: list[_Work] = []
    gone: set[tuple[str, str]] = set()
    for event in sorted(inp.sf_events, key=lambda e: e.sf_event_id):
        if event.deleted and event.sf_event_id in session.by_sf:
            m = session.by_sf[event.sf_event_id]
            work = session.sf_deleted(event, by_copy)
            if session.mine.get(m.key) is m:  # the whole item's Event is gone: nothing to plan
                gone.add((m.calendar_id, m.event_id))
            works.append(work)
    for item in items:
        if (item.calendar_id, item.id) not in gone:
            works.append(session.plan_item(item))
    actions, held = _guard(session, works)
    return Plan(tuple(actions), tuple(session.decisions), held)


def _guard(session: _Session, works: Iterable[_Work]) -> tuple[list[Action], int]:
    """R-37: a session that would delete more SF Events than `max_deletes_per_session`, or more
    than half of the user's mapped items, deletes nothing and opens an issue for the admin.

    The half rule counts from `deletion_guard_min_deletes` deletes on, so that a user with two
    saved items can still unsync one without waiting for an admin.
    """
    works = list(works)
    s = session.s
    deletes = sum(w.deletes for w in works)
    mapped = sum(1 for m in session.mine.values() if m.role is Role.OWNER and not m.occurrence_of)
    too_many = deletes > s.max_deletes_per_session or (
        deletes >= s.deletion_guard_min_deletes and deletes * 2 > mapped
    )
    hold = too_many and not session.inp.deletes_confirmed
    actions: list[Action] = []
    held = 0
    for w in works:
        if hold and w.deletes:
            held += w.deletes
            continue  # the whole item waits: its mapping, labels and issues stay as they are
        actions += w.actions
    guard_issue = Issue(GUARD_CODE, session.user.email, "",
                        f"{deletes} deletes held for the admin's confirmation")  # fmt: skip
    actions += session.issue_actions("", guard_issue if hold else None, "R-37")
    return actions, held
