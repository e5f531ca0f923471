"""An in-memory model of both sides (a user's Google copies, Salesforce Events, the mapping and
issue stores) that carries out a plan's units as if every write succeeded, and records each
unit's outcome with core.outcome.settle, as the executor does. Used to check that plans converge
(R-26, R-29): after carrying out a plan, planning again yields nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.actions import (
    GoogleCreate,
    GoogleDelete,
    GoogleLabel,
    GoogleWrite,
    Plan,
    SfCreate,
    SfDelete,
    SfUpdate,
    StoreAttachments,
    Write,
    WriteResult,
)
from core.fields import apply_google_patch
from core.issues import Issue
from core.labels import apply_patch
from core.model import (
    Item,
    ItemKey,
    Mapping,
    People,
    SessionUser,
    SfEventState,
    Span,
    StoredFile,
    Transparency,
    Visibility,
)
from core.outcome import settle, with_files
from core.planner import SessionInput
from core.settings import Settings


@dataclass
class World:
    user: SessionUser
    settings: Settings
    now: datetime
    people: People
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    sf: dict[str, SfEventState] = field(default_factory=dict)
    mappings: dict[ItemKey, Mapping] = field(default_factory=dict)
    issues: dict[tuple[str, str, str], Issue] = field(default_factory=dict)
    organizer_mappings: tuple[Mapping, ...] = ()
    creates: list[tuple[str, ItemKey]] = field(default_factory=list)  # (owner, key) ever created
    live: dict[str, tuple[str, ItemKey]] = field(default_factory=dict)  # sf id → (owner, key)
    released: frozenset[str] = frozenset()
    inbox: set[str] = field(default_factory=set)  # SF Events changed in Salesforce
    stored_files: dict = field(default_factory=dict)  # StoreAttachments results, by sync key
    counter: int = 0

    def add(self, *items: Item) -> World:
        for item in items:
            self.items[(item.calendar_id, item.id)] = item
        return self

    def input(self) -> SessionInput:
        mapped = {m.sf_event_id for m in self.mappings.values() if m.sf_event_id}
        mapped |= self.inbox
        return SessionInput(
            user=self.user,
            settings=self.settings,
            now=self.now,
            items=tuple(self.items.values()),
            mappings=tuple(self.mappings.values()),
            organizer_mappings=self.organizer_mappings,
            people=self.people,
            sf_events=tuple(e for i, e in sorted(self.sf.items()) if i in mapped),
            open_issues=tuple(self.issues.values()),
            released=self.released,
        )

    def sf_delete_outside(self, sf_id: str) -> None:
        """Someone deletes the Event in Salesforce (R-23): the next read reports it deleted."""
        self.sf[sf_id] = replace(self.sf[sf_id], deleted=True, last_modified=self.now)
        self.live.pop(sf_id, None)

    def apply(self, plan: Plan) -> None:
        for unit in plan.units:
            results = [self._write(w) for w in unit.writes]
            outcome = settle(unit, results, self.settings, self.user.email)
            for w in unit.writes:
                if isinstance(w, StoreAttachments) and w.sync_key in self.stored_files:
                    kept, big = self.stored_files.pop(w.sync_key)
                    outcome = with_files(outcome, w.sync_key, kept, (), big)
            for m in outcome.forgets:
                self.mappings.pop(m.key, None)
            for m in outcome.puts:
                self.mappings[m.key] = m
            for patch in outcome.labels:
                k = (patch.calendar_id, patch.event_id)
                self.items[k] = apply_patch(self.items[k], patch)
            for issue in outcome.closed:
                self.issues.pop(issue.ident, None)
            for issue in outcome.opened:
                self.issues[issue.ident] = issue
        for action in plan.session_issues:
            issue = action.issue
            if type(action).__name__ == "IssueOpen":
                self.issues[issue.ident] = issue
            else:
                self.issues.pop(issue.ident, None)

    def _write(self, a: Write) -> WriteResult:  # noqa: C901 - one branch per write type
        if isinstance(a, SfCreate):
            assert all(k != a.sync_key for k in (e.sync_key for e in self.sf.values() if not e.deleted)), \
                f"second create for {a.key}"  # fmt: skip
            owner_key = (a.fields.owner_id, a.key)
            assert owner_key not in self.live.values(), f"a second live SF Event for {owner_key}"
            self.creates.append(owner_key)
            self.counter += 1
            sf_id = f"00U{self.counter:012d}"
            self.live[sf_id] = owner_key
            f = a.fields
            self.sf[sf_id] = SfEventState(
                sf_id, f.owner_id, subject=f.subject, start_utc=f.start_utc, end_utc=f.end_utc,
                is_all_day=f.is_all_day, activity_date=f.activity_date,
                duration_minutes=f.duration_minutes, location=f.location, is_private=f.is_private,
                show_as=f.show_as, description=f.description or "", last_modified=self.now,
                sync_key=a.sync_key, is_recurrence2=bool(f.recurrence_pattern))  # fmt: skip
            return WriteResult(a.sync_key, True, sf_id)
        if isinstance(a, SfUpdate):
            if not a.sf_event_id:
                return WriteResult(a.sync_key, True, "")  # an occurrence: not modelled here
            e, f, n = self.sf[a.sf_event_id], a.fields, set(a.send)
            self.sf[a.sf_event_id] = replace(
                e,
                subject=f.subject if "subject" in n else e.subject,
                start_utc=f.start_utc if "when" in n else e.start_utc,
                end_utc=f.end_utc if "when" in n else e.end_utc,
                is_all_day=f.is_all_day if "when" in n else e.is_all_day,
                activity_date=f.activity_date if "when" in n else e.activity_date,
                duration_minutes=f.duration_minutes if "when" in n else e.duration_minutes,
                location=f.location if "location" in n else e.location,
                is_private=f.is_private if "private" in n else e.is_private,
                show_as=f.show_as if "show_as" in n else e.show_as,
                description=(f.description or "") if "description" in n else e.description,
                last_modified=self.now,
            )
            return WriteResult(a.sync_key, True, a.sf_event_id)
        if isinstance(a, SfDelete):
            if a.sf_event_id:
                self.sf.pop(a.sf_event_id, None)
                self.live.pop(a.sf_event_id, None)
            return WriteResult(a.sync_key, True, a.sf_event_id)
        if isinstance(a, GoogleWrite):
            k = (a.patch.calendar_id, a.patch.event_id)
            self.items[k] = replace(apply_google_patch(self.items[k], a.patch),
                                    updated=self.now + timedelta(seconds=1))  # fmt: skip
            return WriteResult(a.patch.event_id, True, a.patch.event_id)
        if isinstance(a, GoogleDelete):
            self.items.pop((a.calendar_id, a.event_id), None)
            return WriteResult(a.event_id, True, a.event_id)
        if isinstance(a, GoogleLabel):
            k = (a.patch.calendar_id, a.patch.event_id)
            self.items[k] = apply_patch(self.items[k], a.patch)
            return WriteResult(a.patch.event_id, True, a.patch.event_id)
        if isinstance(a, GoogleCreate):
            ev = a.event
            p = ev.fields
            assert p.start is not None and p.end is not None
            span = (Span.all_day(p.start.date, p.end.date) if p.start.date and p.end.date
                    else Span.timed(p.start.date_time, p.end.date_time, p.start.time_zone))  # type: ignore[arg-type]  # fmt: skip
            self.items.setdefault((ev.calendar_id, ev.event_id), Item(
                ev.event_id, ev.calendar_id, f"{ev.event_id}@google.com", span=span,
                title=p.summary or "", location=p.location or "", description=p.description or "",
                visibility=p.visibility or Visibility.DEFAULT,
                transparency=p.transparency or Transparency.OPAQUE, color_id=ev.color_id,
                private_props=ev.private_props, updated=self.now))  # fmt: skip
            return WriteResult(ev.event_id, True, ev.event_id)
        if isinstance(a, StoreAttachments):  # stored as the executor would: judged by size
            big = [
                x for x in a.attachments if (x.size_bytes or 0) > self.settings.attachment_max_bytes
            ]
            kept = tuple(StoredFile(x.file_id, f"069{i:012d}", "1", a.sf_event_id)
                         for i, x in enumerate(a.attachments) if x not in big)  # fmt: skip
            self.stored_files[a.sync_key] = (kept, tuple(x.file_id for x in big))
            return WriteResult(a.sync_key, not big, a.sf_event_id)
        raise AssertionError(f"no model for {type(a).__name__}")
