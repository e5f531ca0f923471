"""What a plan is made of: per-item units, each holding the item's decision, the ordered writes
to either side, and what to record once those writes are done (R-36: it prints as the dry run).

A unit is the unit of work (issue 9): the executor runs a unit's writes in order and decides the
unit's outcome from its own writes' results (core/outcome.py), never from another unit's. Every
action is a small frozen value object carrying the rule that asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.downsync import NewGoogleEvent
from core.fields import Conflict, GooglePatch, NewPerson, SfEventFields
from core.issues import Issue
from core.labels import LabelPatch, LabelState
from core.model import Attachment, Item, ItemKey, Mapping, StoredFile
from core.policy import Decision

# ---------------------------------------------------------------------------------------------
# Writes: what changes either side. Each returns one WriteResult.


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one write: `ref` names what was written (a sync key, an event id), `id`
    is the record id on success. Failures carry the service's error code and whether a retry
    can help (rate limits, 5xx, record locks, a lost answer) or not (validation)."""

    ref: str
    ok: bool
    id: str = ""
    error_code: str = ""
    message: str = ""
    retryable: bool = False
    etag: str = ""  # a Google write's answer: the copy's etag after it ("" unknown)

    @property
    def stale(self) -> bool:
        """A conditional Google write refused because the copy changed since calsync last saw it
        (412 conditionNotMet): nothing was written; the copy is read and planned again."""
        return not self.ok and self.error_code == CONDITION_NOT_MET


CONDITION_NOT_MET = "conditionNotMet"


@dataclass(frozen=True)
class SfCreate:
    """Create (with Calsync_Key__c: upsert) one SF Event. `retry`: an intent of this create
    was found, so an earlier attempt may have made the Event already (R-29, R-39)."""

    sync_key: str
    key: ItemKey
    fields: SfEventFields
    rule: str
    new_people: tuple[NewPerson, ...] = ()  # create first, then link
    retry: bool = False
    intent_start: str = ""  # the start the intent recorded (instance text): a retry's lookup
    tried_starts: tuple[str, ...] = ()  # where earlier retries may have moved it (Mapping)

    def describe(self) -> str:
        again = " (again: an earlier attempt may have made it)" if self.retry else ""
        return f"create SF Event for {self.key}, owner {self.fields.owner_id}{again}"


@dataclass(frozen=True)
class SfUpdate:
    """Update `sf_event_id`, or the occurrence of series `occurrence_of` at `occurrence_start`.
    `send`: the synced fields to write (core.fields names, "relations" for R-16's links)."""

    sync_key: str
    sf_event_id: str
    fields: SfEventFields
    send: tuple[str, ...]
    rule: str
    occurrence_of: str = ""
    occurrence_start: datetime | None = None

    def describe(self) -> str:
        target = self.sf_event_id or f"occurrence {self.occurrence_start} of {self.occurrence_of}"
        return f"update SF Event {target} ({', '.join(self.send)})"


@dataclass(frozen=True)
class SfDelete:
    """Delete `sf_event_id`; with neither an id nor an occurrence, the Event is found by its sync
    key (the intent of a create whose answer was lost: R-29). `key` is the item key's text."""

    sync_key: str
    sf_event_id: str
    rule: str
    series: bool = False  # DELETE .../fromThisEventOnwards on the first occurrence
    occurrence_of: str = ""
    occurrence_start: datetime | None = None
    key: str = ""
    retry: bool = False  # a delete refused earlier and tried again (already judged, R-37)
    owner_id: str = ""  # by key: the Event's owner and the intent's start, for the lookup
    intent_start: str = ""
    tried_starts: tuple[str, ...] = ()

    @property
    def by_key(self) -> bool:
        return not self.sf_event_id and not self.occurrence_of

    def describe(self) -> str:
        if self.by_key:
            target = f"with sync key {self.sync_key}, if an earlier attempt made it"
        else:
            target = (
                self.sf_event_id or f"occurrence {self.occurrence_start} of {self.occurrence_of}"
            )
        return f"delete SF Event {target}{' (whole series)' if self.series else ''}"


@dataclass(frozen=True)
class GoogleWrite:
    """R-22: patch fields of the user's copy (`fields`: the synced fields it carries)."""

    patch: GooglePatch
    rule: str
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        sent = [k for k in ("summary", "start", "location", "visibility", "transparency",
                            "description") if getattr(self.patch, k) is not None]  # fmt: skip
        return f"patch Google item {self.patch.event_id} ({', '.join(sent)})"


@dataclass(frozen=True)
class GoogleDelete:
    calendar_id: str
    event_id: str
    rule: str
    if_match: str = ""  # only if the copy still has this etag (a copy planned unread)

    def describe(self) -> str:
        return f"delete Google item {self.event_id}"


@dataclass(frozen=True)
class GoogleLabel:
    """A label written as one of the unit's writes, not after them: the label of a copy planned
    unread (R-23), conditional on its etag, so that a copy changed meanwhile fails the unit
    before anything is recorded, and is read and planned again."""

    patch: LabelPatch
    state: LabelState
    rule: str

    def describe(self) -> str:
        return f"label {self.patch.event_id} {self.state.value}"


@dataclass(frozen=True)
class GoogleCreate:
    """R-21: insert the user's copy of an SF Event created in Salesforce (an id of calsync's
    choosing: a retried insert finds the copy it made, never a second one)."""

    event: NewGoogleEvent
    rule: str = "R-21"

    def describe(self) -> str:
        return f"create Google item {self.event.event_id} in {self.event.calendar_id}"


@dataclass(frozen=True)
class StoreAttachments:
    """R-20: store an item's attachments with its SF Event (ContentVersion), each file once and
    each new revision as a new version; the Event is the unit's SfCreate's, else `sf_event_id`.
    `files` is what the mapping says is stored already. A file that cannot be stored fails
    alone, with an issue of its own (CS-021..CS-023), never the item."""

    sync_key: str
    attachments: tuple[Attachment, ...]
    files: tuple[StoredFile, ...] = ()
    sf_event_id: str = ""
    rule: str = "R-20"

    @property
    def attachment(self) -> Attachment:  # the first, for describe and old callers
        return self.attachments[0]

    def describe(self) -> str:
        names = ", ".join(a.title or a.file_id for a in self.attachments)
        return f"store attachments with {self.sync_key}: {names}"


AttachmentUpload = StoreAttachments  # the name the planner's tests know


Write = (SfCreate | SfUpdate | SfDelete | GoogleWrite | GoogleDelete | GoogleCreate
         | GoogleLabel | AttachmentUpload)  # fmt: skip
SF_WRITES = (SfCreate, SfUpdate, SfDelete, AttachmentUpload)

# ---------------------------------------------------------------------------------------------
# What a unit records once its writes are done.


@dataclass(frozen=True)
class MappingPut:
    """Store `mapping`. An empty `sf_event_id` takes the id of the unit's SfCreate with the
    same sync key (or of its occurrence update); `before` is the stored mapping it replaces,
    whose fingerprints come back for the fields of a write that failed."""

    mapping: Mapping
    rule: str
    before: Mapping | None = None

    def describe(self) -> str:
        return f"store mapping {self.mapping.key}"


@dataclass(frozen=True)
class MappingDelete:
    """Forget `mapping` (kept with `pending_delete` instead, when its SF delete fails)."""

    mapping: Mapping
    rule: str

    @property
    def key(self) -> ItemKey:
        return self.mapping.key

    def describe(self) -> str:
        return f"forget mapping {self.mapping.key}"


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
class IssueOpen:
    issue: Issue
    rule: str

    def describe(self) -> str:
        return f"open issue {self.issue.code}: {self.issue.message}"


@dataclass(frozen=True)
class IssueClose:
    issue: Issue
    rule: str

    def describe(self) -> str:
        return f"close issue {self.issue.code}"


@dataclass(frozen=True)
class HistoryNote:
    """R-26: a field changed on both sides; the losing value goes to the event's history."""

    key: ItemKey
    conflict: Conflict
    rule: str = "R-26"

    def describe(self) -> str:
        return f"conflict on {self.conflict.field}: {self.conflict.winner} wins"


Record = MappingPut | MappingDelete | LabelWrite | IssueOpen | IssueClose | HistoryNote
Action = Write | Record


# ---------------------------------------------------------------------------------------------
# The unit and the plan.


@dataclass(frozen=True)
class Unit:
    """One item's change: its decision, its writes in order, and what to record when they are
    done. `key` is the item's key as issues name it ("" for the session's own issues)."""

    key: str
    item: Item | None
    decision: Decision | None
    writes: tuple[Write, ...] = ()
    mappings: tuple[MappingPut | MappingDelete, ...] = ()
    labels: tuple[LabelWrite, ...] = ()
    issues: tuple[IssueOpen | IssueClose, ...] = ()
    history: tuple[HistoryNote, ...] = ()
    manual: bool = False  # the user asked to save it (the error label keeps that wish)

    @property
    def actions(self) -> tuple[Action, ...]:
        return (*self.writes, *self.mappings, *self.labels, *self.issues, *self.history)

    @property
    def deletes(self) -> tuple[SfDelete, ...]:
        return tuple(w for w in self.writes if isinstance(w, SfDelete))

    def describe(self) -> str:
        who = _item_text(self.item) if self.item is not None else (self.key or "session")
        return f"{who}: {self.decision}" if self.decision is not None else who


def _item_text(item: Item) -> str:
    when = ""
    if item.span is not None:
        try:
            when = " " + item.span.start_utc.strftime("%Y-%m-%d %H:%M UTC")
        except (OverflowError, ValueError):
            when = ""
    return f'"{item.shown_title}"{when} [{item.id}]'


class PlanError(ValueError):
    """A plan that would break an invariant (two creates of one SF Event): a bug, never run."""


@dataclass(frozen=True)
class Plan:
    """A session's plan: the units to carry out, the units the deletion guard holds (R-37),
    and the session's own issue changes (the guard's CS-009)."""

    units: tuple[Unit, ...] = ()
    held: tuple[Unit, ...] = ()
    session_issues: tuple[IssueOpen | IssueClose, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for unit in self.units:
            for write in unit.writes:
                if isinstance(write, SfCreate):
                    if write.sync_key in seen:
                        raise PlanError(f"two creates of one SF Event ({write.sync_key})")
                    seen.add(write.sync_key)

    def __bool__(self) -> bool:
        return bool(self.actions)

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every action of every unit to carry out, in order, then the session's issues."""
        out: list[Action] = []
        for unit in self.units:
            out += unit.actions
        return (*out, *self.session_issues)

    @property
    def deletes_held(self) -> int:
        return sum(len(u.deletes) for u in self.held)

    @property
    def decisions(self) -> tuple[tuple[str, Decision], ...]:
        return tuple(
            (u.item.id, u.decision)
            for u in self.units + self.held
            if u.item is not None and u.decision is not None
        )

    def of(self, kind: type) -> list[Action]:
        return [a for a in self.actions if isinstance(a, kind)]

    def render(self) -> str:
        """R-36: the plan as the dry run prints it: each item, its decision and rule, and what
        would be written; then what the deletion guard holds."""
        lines: list[str] = []
        for unit in self.units:
            if unit.decision is None and not unit.actions:
                continue
            lines.append(unit.describe())
            lines += [f"    [{a.rule}] {a.describe()}" for a in unit.actions]
        if self.held:
            lines.append(f"deletion guard (R-37): {self.deletes_held} deletes held for the admin:")
            lines += [f"    {u.describe()}" for u in self.held]
        lines += [f"[{a.rule}] {a.describe()}" for a in self.session_issues]
        return "\n".join(lines) if lines else "nothing to do"


@dataclass
class Work:
    """The planner's scratch list of one item's actions, before they become a Unit."""

    key: str
    item: Item | None = None
    decision: Decision | None = None
    manual: bool = False
    actions: list[Action] = field(default_factory=list)

    def unit(self) -> Unit:
        a = self.actions
        return Unit(
            key=self.key,
            item=self.item,
            decision=self.decision,
            writes=tuple(
                x
                for x in a
                if isinstance(x, (*SF_WRITES, GoogleWrite, GoogleDelete, GoogleCreate, GoogleLabel))
            ),  # fmt: skip
            mappings=tuple(x for x in a if isinstance(x, (MappingPut, MappingDelete))),
            labels=tuple(x for x in a if isinstance(x, LabelWrite)),
            issues=tuple(x for x in a if isinstance(x, (IssueOpen, IssueClose))),
            history=tuple(x for x in a if isinstance(x, HistoryNote)),
            manual=self.manual,
        )
