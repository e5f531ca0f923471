"""The poll's own logic on fakes (infra/sf_poll.py): the bound on one poll's lookups, the echo
ledger's rows dropped without a lookup, owners marked for onboarding instead of read
(R-21, R-23, R-26, R-30). Salesforce's two reads are stood in for by the rows a test gives; the
emulators' run of the same is tests/integration/test_sf_poll.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import fields
from core.model import ItemKey, Mapping, SfEventState
from core.sf_routing import Fingerprint, SfChange
from infra import sf_changes
from infra.sf_poll import Poller, PollState
from tests.fakes import InMemoryIssueStore, InMemoryMappingStore, InMemorySettingsStore
from tests.fixtures.upsync import RecordingQueue

NOW = datetime(2025, 3, 20, 9, 0, tzinfo=UTC)
CALSYNC = "005CALSYNC00001AAA"
ANN, ANN_SF = "ann@example.com", "005ANN000000001AAA"
BOB, BOB_SF = "bob@example.com", "005BOB000000001AAA"
NAMES = fields.synced_fields(fields.Settings())


class MemoryPollStore:
    """infra.sf_poll.FirestorePollStore in memory (its claim is tested on Firestore)."""

    def __init__(self) -> None:
        self.state = PollState()

    def claim(self, holder: str) -> PollState:
        return self.state

    def save(self, holder: str, state: PollState) -> bool:
        self.state = state
        return True

    def release(self, holder: str) -> None:
        return None


class CountingMappings(InMemoryMappingStore):
    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[str] = []

    def for_sf_events(self, sf_event_ids: Iterable[str]) -> list[Mapping]:
        ids = sorted(set(sf_event_ids))
        self.looked_up += ids
        return super().for_sf_events(ids)

    def mapped_sf_events(self) -> list[Mapping]:
        return [m for m in self.docs.values() if m.sf_event_id]


class Ledger:
    def __init__(self, written: dict[str, Fingerprint] | None = None) -> None:
        self.written = written or {}

    def since(self, age: timedelta) -> dict[str, Fingerprint]:
        return dict(self.written)

    def expire(self) -> int:
        return 0


@dataclass
class Sf:
    """The adapter as far as the poll touches it outside sf_changes' reads."""

    calls: int = 0
    integration_user_id: str = CALSYNC


@dataclass
class World:
    poller: Poller
    settings: InMemorySettingsStore
    mappings: CountingMappings
    queue: RecordingQueue
    rows: list[SfChange] = field(default_factory=list)
    windows: list[Any] = field(default_factory=list)

    def poll(self, minutes: float = 1) -> Any:
        return self.poller.run(NOW + timedelta(minutes=minutes))

    def inbox(self, email: str) -> tuple[str, ...]:
        user = self.settings.get_user(email)
        assert user is not None
        return user.state.sf_changed


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    settings = InMemorySettingsStore()
    settings.enable_user(ANN, ANN_SF)
    settings.enable_user(BOB, BOB_SF)
    mappings = CountingMappings()
    queue = RecordingQueue()
    poller = Poller(MemoryPollStore(), settings, mappings, InMemoryIssueStore(), queue,
                    lambda: Sf())  # type: ignore[arg-type, return-value]  # fmt: skip
    w = World(poller, settings, mappings, queue)

    def changed_since(sf: Any, since: datetime, owners: Any) -> list[SfChange]:
        return [c for c in w.rows if c.stamp is not None and c.stamp >= since]

    def owners_window(sf: Any, owners: Any, lo: datetime, hi: datetime) -> list[SfChange]:
        w.windows.append(tuple(owners))
        return []

    monkeypatch.setattr(sf_changes, "changed_since", changed_since)
    monkeypatch.setattr(sf_changes, "owners_window", owners_window)
    monkeypatch.setattr(sf_changes, "events_by_id", lambda sf, ids: [])
    monkeypatch.setattr(sf_changes, "deleted_between",
                        lambda sf, start, end: sf_changes.DeletedFeed((), end))  # fmt: skip
    return w


def row(n: int, stamp: datetime, by: str = "005REP000000001AAA", owner: str = ANN_SF,
        subject: str = "Call") -> SfChange:  # fmt: skip
    start = NOW + timedelta(days=2)
    event = SfEventState(f"00U{n:012d}AAA", owner, subject=subject, start_utc=start,
                         end_utc=start + timedelta(hours=1), last_modified=stamp)  # fmt: skip
    return SfChange(event, stamp=stamp, last_modified_by=by)


def fingerprint(change: SfChange) -> Fingerprint:
    return fields.fingerprint(fields.sf_values(change.event), NAMES)


def mapped(world: World, change: SfChange, user: str = ANN) -> None:
    m = Mapping(user, ItemKey(f"uid-{change.id}"), user, f"g{change.id}", change.event.owner_sf_id,
                change.id, f"cs1-{change.id}", sf_fp=fingerprint(change))  # fmt: skip
    world.mappings.put([m])


def test_R30_a_poll_past_its_bound_routes_in_stamp_order_and_the_next_carries_on(world):
    """Five rows, three of them on one SystemModstamp; two lookups a poll. Each poll routes
    the oldest rows it can, the watermark stops at the last one routed, and the `seen` marks
    keep the routed rows of a shared stamp from going twice: every row is routed exactly once."""
    world.poll(0)  # the watermark
    t = NOW + timedelta(seconds=70)
    world.rows = [row(1, t), row(2, t), row(3, t), row(4, t + timedelta(seconds=1)),
                  row(5, t + timedelta(seconds=2))]  # fmt: skip
    world.poller.max_lookups, world.poller.lookup_chunk = 2, 2
    first = world.poll(2)
    assert first.partial and first.looked_up == 2
    assert world.inbox(ANN) == (world.rows[0].id, world.rows[1].id)
    assert world.poller.store.state.since == t  # not past the rows left
    second = world.poll(3)
    assert second.partial
    assert world.inbox(ANN) == tuple(r.id for r in world.rows[:4])
    third = world.poll(4)
    assert not third.partial
    assert world.inbox(ANN) == tuple(r.id for r in world.rows)
    assert world.mappings.looked_up == [r.id for r in world.rows]  # each looked up once
    assert world.poller.store.state.since == t + timedelta(seconds=2)
    assert world.poll(5).routed == {}


def test_R30_the_bound_is_time_too(world):
    """Lookups that take their time stop the poll at the chunk where the time ran out."""
    world.poll(0)
    t = NOW + timedelta(seconds=70)
    world.rows = [row(n, t + timedelta(seconds=n)) for n in range(6)]
    ticks = iter(range(0, 1000, 25))  # each look at the clock: 25 s later
    world.poller.clock = lambda: float(next(ticks))
    world.poller.lookup_chunk = 2
    report = world.poll(2)
    assert report.partial and report.looked_up == 4  # at 25 s, 50 s: looked; at 75 s: stop
    assert world.poller.store.state.since == t + timedelta(seconds=3)
    world.poller.clock = lambda: 0.0
    assert not world.poll(3).partial
    assert world.inbox(ANN) == tuple(r.id for r in world.rows)


def test_R26_rows_the_ledger_proves_calsyncs_own_are_dropped_without_a_lookup(world):
    world.poll(0)
    t = NOW + timedelta(seconds=70)
    ours = [row(n, t, by=CALSYNC) for n in range(3)]
    changed = row(3, t, by=CALSYNC)  # calsync wrote it, then... the ledger says other values
    rep = row(4, t)  # a rep saved an Event calsync wrote, its synced values as they were
    for c in (*ours, changed, rep):
        mapped(world, c)
    stale = row(3, t, by=CALSYNC, subject="what calsync wrote")
    world.poller.ledger = Ledger({**{c.id: fingerprint(c) for c in ours},  # type: ignore[assignment]
                                  changed.id: fingerprint(stale), rep.id: fingerprint(rep)})  # fmt: skip
    world.rows = [*ours, changed, rep]
    report = world.poll(2)
    assert report.ledger == 3
    assert sorted(world.mappings.looked_up) == [changed.id, rep.id]
    # the mismatch is dropped by its mapping; the rep's save is looked up, never the ledger's to
    # judge, and its mapping holds exactly its values
    assert report.dropped == {"calsync's own write": 4, "merged already": 1}
    assert world.inbox(ANN) == ()


def test_R26_deletes_are_never_taken_for_echoes_by_the_ledger(world):
    world.poll(0)
    t = NOW + timedelta(seconds=70)
    gone = row(1, t, by=CALSYNC)
    mapped(world, gone)
    world.poller.ledger = Ledger({gone.id: fingerprint(gone)})  # type: ignore[assignment]
    world.rows = [replace(gone, event=replace(gone.event, deleted=True))]
    report = world.poll(2)
    assert report.ledger == 0 and world.mappings.looked_up == [gone.id]
    assert world.inbox(ANN) == (gone.id,)  # the user who maps it hears of the delete


def test_R21_new_owners_are_marked_and_queued_not_read(world):
    report = world.poll(0)
    assert report.onboarded == 2 and world.windows == []
    marks = {e: world.settings.get_user(e).state.sf_onboard for e in (ANN, BOB)}  # type: ignore[union-attr]
    assert all(marks.values())
    assert sorted(world.queue.queued) == [(ANN, "salesforce"), (BOB, "salesforce")]
    world.settings.set_state_fields(ANN, {"sf_onboard": ""})  # Ann's session did it
    again = world.poll(1)
    assert again.onboarded == 0 and len(world.queue.queued) == 2
    assert world.settings.get_user(ANN).state.sf_onboard == ""  # type: ignore[union-attr]


def test_R21_a_full_recheck_marks_every_owner_again(world):
    world.poll(0)
    for email in (ANN, BOB):
        world.settings.set_state_fields(email, {"sf_onboard": ""})
    report = world.poll(60 * 24 * 16)  # more than 15 days since the last poll
    assert report.full_check and report.onboarded == 2
    assert all(world.settings.get_user(e).state.sf_onboard for e in (ANN, BOB))  # type: ignore[union-attr]


def test_R21_an_owner_whose_mark_failed_is_marked_next_poll(world):
    world.settings.remove_user(BOB)
    world.settings.enable_user(BOB, BOB_SF)
    real = world.settings.set_state_fields
    failing = {"left": 1}

    def flaky(email: str, values: Any, **kw: Any) -> bool:
        if email == BOB and failing["left"]:
            failing["left"] -= 1
            raise KeyError(email)
        return real(email, values, **kw)

    world.settings.set_state_fields = flaky  # type: ignore[method-assign]
    assert world.poll(0).onboarded == 1
    assert world.poll(1).onboarded == 1  # Bob, this time
    assert world.settings.get_user(BOB).state.sf_onboard  # type: ignore[union-attr]
