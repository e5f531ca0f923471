"""An in-memory model of both sides (a user's Google copies, Salesforce Events, the mapping and
issue stores) that executes a plan the way the adapters will. Used to check that plans converge
(R-26, R-29): after applying a plan, planning again yields nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.fields import apply_google_patch
from core.issues import Issue
from core.labels import apply_patch
from core.model import Item, ItemKey, Mapping, People, SessionUser, SfEventState
from core.plan import (
    GoogleDelete,
    GoogleWrite,
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
)
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
    deletes_confirmed: bool = False
    counter: int = 0

    def add(self, *items: Item) -> World:
        for item in items:
            self.items[(item.calendar_id, item.id)] = item
        return self

    def input(self) -> SessionInput:
        mapped = {m.sf_event_id for m in self.mappings.values() if m.sf_event_id}
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
            deletes_confirmed=self.deletes_confirmed,
        )

    def sf_delete_outside(self, sf_id: str) -> None:
        """Someone deletes the Event in Salesforce (R-23): the next read reports it deleted."""
        self.sf[sf_id] = replace(self.sf[sf_id], deleted=True, last_modified=self.now)
        self.live.pop(sf_id, None)

    def apply(self, plan: Plan) -> None:
        self.created: dict[str, str] = {}  # sync key → SF id, of this plan's creates
        for a in plan.actions:
            self._apply(a)

    def _apply(self, a: object) -> None:  # noqa: C901 - one branch per action type
        if isinstance(a, SfCreate):
            assert all(k != a.sync_key for k in (e.sync_key for e in self.sf.values() if not e.deleted)), \
                f"second create for {a.key}"  # fmt: skip
            owner_key = (a.fields.owner_id, a.key)
            assert owner_key not in self.live.values(), f"a second live SF Event for {owner_key}"
            self.creates.append(owner_key)
            self.counter += 1
            sf_id = f"00U{self.counter:012d}"
            self.live[sf_id] = owner_key
            self.created[a.sync_key] = sf_id
            f = a.fields
            self.sf[sf_id] = SfEventState(
                sf_id, f.owner_id, subject=f.subject, start_utc=f.start_utc, end_utc=f.end_utc,
                is_all_day=f.is_all_day, activity_date=f.activity_date,
                duration_minutes=f.duration_minutes, location=f.location, is_private=f.is_private,
                show_as=f.show_as, description=f.description or "", last_modified=self.now,
                sync_key=a.sync_key, is_recurrence2=bool(f.recurrence_pattern))  # fmt: skip
        elif isinstance(a, SfUpdate):
            if not a.sf_event_id:
                return  # an occurrence of a series: not modelled here
            e, f, n = self.sf[a.sf_event_id], a.fields, set(a.names)
            self.sf[a.sf_event_id] = replace(
                e,
                subject=f.subject if "Subject" in n else e.subject,
                start_utc=f.start_utc if "StartDateTime" in n else e.start_utc,
                end_utc=f.end_utc if "StartDateTime" in n else e.end_utc,
                is_all_day=f.is_all_day if "IsAllDayEvent" in n else e.is_all_day,
                activity_date=f.activity_date if "StartDateTime" in n else e.activity_date,
                duration_minutes=f.duration_minutes if "StartDateTime" in n else e.duration_minutes,
                location=f.location if "Location" in n else e.location,
                is_private=f.is_private if "IsPrivate" in n else e.is_private,
                show_as=f.show_as if "ShowAs" in n else e.show_as,
                description=(f.description or "") if "Description" in n else e.description,
                last_modified=self.now,
            )
        elif isinstance(a, SfDelete):
            if a.sf_event_id:
                self.sf.pop(a.sf_event_id, None)
                self.live.pop(a.sf_event_id, None)
        elif isinstance(a, LabelWrite):
            k = (a.patch.calendar_id, a.patch.event_id)
            self.items[k] = apply_patch(self.items[k], a.patch)
        elif isinstance(a, GoogleWrite):
            k = (a.patch.calendar_id, a.patch.event_id)
            self.items[k] = replace(apply_google_patch(self.items[k], a.patch),
                                    updated=self.now + timedelta(seconds=1))  # fmt: skip
        elif isinstance(a, GoogleDelete):
            self.items.pop((a.calendar_id, a.event_id), None)
        elif isinstance(a, MappingPut):
            m = a.mapping
            if not m.sf_event_id and m.sync_key in self.created:
                m = replace(m, sf_event_id=self.created[m.sync_key])
            self.mappings[m.key] = m
        elif isinstance(a, MappingDelete):
            self.mappings.pop(a.key, None)
        elif isinstance(a, IssueOpen):
            self.issues[a.issue.ident] = a.issue
        elif isinstance(a, IssueClose):
            self.issues.pop(a.issue.ident, None)
