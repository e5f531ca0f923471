"""Where a Salesforce change goes (R-21..R-26): the inbox of the enabled user whose session reads
it, the one-way copy of a public calendar (R-25), or nowhere (an echo of calsync's own write, an
invitee's child event, an owner calsync does not sync).

The poller and the Flow's callout both see Event rows that changed; this decides, per row, with
a reason, and never reads anything: the caller gives it the enabled owners, the mappings of
those Event ids and calsync's integration user. Routing is a hint: the user's session reads the
Event from Salesforce again and its per-field merge decides what changes (R-26).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from core import fields
from core.model import Mapping as ItemMapping
from core.model import SfEventState

CALENDAR_PREFIX = "023"  # Salesforce's key prefix of public and resource calendars


@dataclass(frozen=True)
class SfChange:
    """One Event row that changed in Salesforce, as the poller or the Flow's callout saw it.

    `event` holds the row's values when they were read (the poller's query); `read` is False for
    a callout or a delete whose row is gone, which carry ids only.
    """

    event: SfEventState
    stamp: datetime | None = None  # SystemModstamp
    last_modified_by: str = ""
    is_child: bool = False
    read: bool = True

    @property
    def id(self) -> str:
        return self.event.sf_event_id


class Why(Enum):
    ROUTED = "routed"  # to the inboxes named
    PUBLIC = "public calendar"  # to the one-way copy
    CHILD = "invitee's child event"  # never a source
    ECHO = "calsync's own write"
    MERGED = "merged already"  # a session read these values (the Flow's callout came first)
    OURS_UNREAD = "calsync's own write, values unread"  # left to the poller's full check
    NOT_MAPPED = "deleted, never synced"  # R-23 applies to mapped Events only
    NO_OWNER = "owner not an enabled user"


@dataclass(frozen=True)
class Decision:
    change: SfChange
    why: Why
    users: tuple[str, ...] = ()  # the inboxes it goes to (Why.ROUTED)


@dataclass(frozen=True)
class Routes:
    decisions: tuple[Decision, ...] = ()

    @property
    def inboxes(self) -> dict[str, tuple[str, ...]]:
        """User email → the SF Event ids to add to their inbox, sorted."""
        out: dict[str, set[str]] = defaultdict(set)
        for d in self.decisions:
            for user in d.users:
                out[user].add(d.change.id)
        return {user: tuple(sorted(ids)) for user, ids in sorted(out.items())}

    @property
    def public(self) -> tuple[SfChange, ...]:
        return tuple(d.change for d in self.decisions if d.why is Why.PUBLIC)

    def count(self, why: Why) -> int:
        return sum(1 for d in self.decisions if d.why is why)


def is_calendar(owner_id: str) -> bool:
    return owner_id[:3] == CALENDAR_PREFIX


Fingerprint = tuple[tuple[str, str], ...]
"""A mapping's `sf_fp`: per synced field, a short hash of the value calsync last wrote or read."""


def holds(event: SfEventState, fp: Fingerprint) -> bool:
    """The Event's values of the fingerprint's fields hash as they did (an empty one holds
    nothing)."""
    if not fp:
        return False
    values = fields.sf_values(event)
    names = tuple(name for name, _ in fp)
    if any(name not in values for name in names):
        return False
    return dict(fields.fingerprint(values, names)) == dict(fp)


def echo(event: SfEventState, mappings: Sequence[ItemMapping]) -> bool:
    """R-26: the Event still holds what calsync last wrote or read for every mapping of it (the
    fields of each mapping's `sf_fp`); a mapping without fingerprints (a create not settled yet)
    matches nothing."""
    owned = [m for m in mappings if m.owned and m.sf_fp]
    return bool(owned) and all(holds(event, m.sf_fp) for m in owned)


def ours(change: SfChange, integration_user: str) -> bool:
    """The row's last change was made by calsync's integration user."""
    return bool(integration_user) and change.last_modified_by == integration_user


def ledger_echo(change: SfChange, written: Mapping[str, Fingerprint],
                integration_user: str) -> bool:  # fmt: skip
    """R-26 without a mapping lookup: calsync made the row's last change (LastModifiedById) and
    its values still hash as those calsync recorded writing (`written`: SF Event id → the
    fingerprint of the mapping a session put after writing it; infra/sf_ledger.py). A delete,
    an invitee's child, a bare id or an Event the ledger does not name is never one."""
    fp = written.get(change.id)
    return (
        fp is not None and ours(change, integration_user) and change.read
        and not change.event.deleted and not change.is_child and holds(change.event, fp)
    )  # fmt: skip


def needs_mappings(change: SfChange, written: Mapping[str, Fingerprint], integration_user: str,
                   public_calendars: frozenset[str]) -> bool:  # fmt: skip
    """Whether `decide` needs the Event's mappings: not for an invitee's child, a public
    calendar's Event (R-25) or an echo the ledger proves."""
    if change.is_child or change.event.owner_sf_id in public_calendars:
        return False
    return not ledger_echo(change, written, integration_user)


def decide(change: SfChange, owners: Mapping[str, str], mappings: Sequence[ItemMapping],
           integration_user: str, public_calendars: frozenset[str],
           written: Mapping[str, Fingerprint] | None = None) -> Decision:  # fmt: skip
    """One change's destination. `owners`: SF User id → email of each enabled user; `mappings`:
    every user's mappings of this Event id (none need be given for a change the ledger
    `written` proves an echo, see `needs_mappings`)."""
    event = change.event
    if change.is_child:
        return Decision(change, Why.CHILD)
    if event.owner_sf_id in public_calendars:
        return Decision(change, Why.PUBLIC)
    if written and ledger_echo(change, written, integration_user):
        return Decision(change, Why.ECHO)
    by_us = ours(change, integration_user)
    if event.deleted:
        # R-23 concerns mapped Events; a delete calsync made itself forgot its mapping first.
        # Invitees' links to the Event go too (R-11): their copies no longer say saved.
        users = _users(mappings, owners, owner_too=False, invitees=True)
        return Decision(change, Why.ROUTED, users) if users else Decision(change, Why.NOT_MAPPED)
    if by_us and change.read and echo(event, mappings):
        return Decision(change, Why.ECHO)
    if by_us and not change.read:
        return Decision(change, Why.OURS_UNREAD)
    if change.read and echo(event, mappings) and all(
            m.owner_sf_id == event.owner_sf_id for m in mappings if m.owned):  # fmt: skip
        # Someone's change that a session has merged already (the mappings recorded exactly
        # these values, for this owner): the poll after the Flow's callout queues nothing.
        return Decision(change, Why.MERGED)
    users = _users(mappings, owners, owner_too=True, owner=event.owner_sf_id)
    return Decision(change, Why.ROUTED, users) if users else Decision(change, Why.NO_OWNER)


def _users(mappings: Sequence[ItemMapping], owners: Mapping[str, str], *, owner_too: bool,
           owner: str = "", invitees: bool = False) -> tuple[str, ...]:  # fmt: skip
    """The enabled users whose sessions must see the change: the Event's owner, and whoever maps
    it (an owner it was taken from, R-22/R-23); invitees' copies ride on their organiser, but
    for a delete (`invitees`), which takes their link away."""
    enabled = set(owners.values())
    found: set[str] = set()
    if owner_too and owner in owners:
        found.add(owners[owner])
    for m in mappings:
        if m.user_email in enabled and (m.owned or invitees):
            found.add(m.user_email)
    return tuple(sorted(found))


def route(changes: Iterable[SfChange], owners: Mapping[str, str],
          mappings: Mapping[str, Sequence[ItemMapping]], integration_user: str,
          public_calendars: Iterable[str] = (),
          written: Mapping[str, Fingerprint] | None = None) -> Routes:  # fmt: skip
    """Decide every change; one Event seen twice (its create and a later edit in one read) is
    decided once, on its latest row."""
    latest: dict[str, SfChange] = {}
    for change in changes:
        seen = latest.get(change.id)
        if seen is None or _later(change, seen):
            latest[change.id] = change
    calendars = frozenset(public_calendars)
    return Routes(tuple(
        decide(c, owners, mappings.get(c.id, ()), integration_user, calendars, written)
        for _, c in sorted(latest.items())
    ))  # fmt: skip


def _later(a: SfChange, b: SfChange) -> bool:
    if a.read != b.read:
        return a.read  # a row read beats a bare id
    if a.stamp is None or b.stamp is None:
        return a.stamp is not None
    return a.stamp >= b.stamp


@dataclass
class Seen:
    """Rows already routed in the watermark's overlap, so that a poll reading them again (the
    overlap is there for late commits) does not route them twice: "id@SystemModstamp"."""

    marks: set[str] = field(default_factory=set)

    @staticmethod
    def mark(change: SfChange) -> str:
        stamp = change.stamp.isoformat() if change.stamp else ""
        return f"{change.id}@{stamp}"

    def new(self, changes: Iterable[SfChange]) -> list[SfChange]:
        return [c for c in changes if self.mark(c) not in self.marks]
