"""Where a Salesforce change goes (core/sf_routing.py): the owner's inbox, a public calendar's
copy, or nowhere (R-21, R-23, R-25, R-26)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import fields
from core.model import ItemKey, Mapping, Role, SfEventState
from core.sf_routing import Seen, SfChange, Why, echo, ledger_echo, needs_mappings, route
from tests.core.builders import ANN, BOB, NOW, at

CALSYNC = "005CALSYNC00001"  # the integration user
REP = "005REP000000001"  # a person editing in Salesforce
OWNERS = {ANN.sf_user_id: ANN.email, BOB.sf_user_id: BOB.email}
PUBLIC = "023TEAMCAL00001"
NAMES = fields.synced_fields(fields.Settings())


def event(
    event_id: str = "00UEVENT0000001", owner: str = ANN.sf_user_id, **kw: object
) -> SfEventState:
    start = at(2)
    values: dict[str, object] = dict(subject="Acme call", start_utc=start,
                                     end_utc=start + timedelta(hours=1), last_modified=NOW)  # fmt: skip
    values.update(kw)
    return SfEventState(event_id, owner, **values)  # type: ignore[arg-type]


def mapping(e: SfEventState, user: str = ANN.email, role: Role = Role.OWNER,
            fp: SfEventState | None = None) -> Mapping:  # fmt: skip
    """A mapping whose sf_fp is what calsync last wrote: `fp`'s values (the event's by default)."""
    written = fields.fingerprint(fields.sf_values(fp or e), NAMES)
    return Mapping(user, ItemKey("uid-1"), user, "g1", e.owner_sf_id, e.sf_event_id, "cs1-x",
                   role, sf_fp=written)  # fmt: skip


def change(e: SfEventState, by: str = REP, **kw: object) -> SfChange:
    return SfChange(e, stamp=NOW, last_modified_by=by, **kw)  # type: ignore[arg-type]


def decide_one(c: SfChange, mappings: list[Mapping] = ()) -> tuple[Why, tuple[str, ...]]:  # type: ignore[assignment]
    routes = route([c], OWNERS, {c.id: mappings}, CALSYNC, [PUBLIC])
    (d,) = routes.decisions
    return d.why, d.users


def test_R21_a_new_event_of_an_enabled_owner_goes_to_the_owners_inbox():
    assert decide_one(change(event())) == (Why.ROUTED, (ANN.email,))


def test_R21_an_invitees_child_event_is_never_a_source():
    assert decide_one(change(event(owner=BOB.sf_user_id), is_child=True)) == (Why.CHILD, ())


def test_R21_an_event_of_a_user_calsync_does_not_sync_goes_nowhere():
    assert decide_one(change(event(owner="005SOMEONE00001"))) == (Why.NO_OWNER, ())


def test_R25_an_event_of_a_listed_public_calendar_goes_to_its_copy():
    routes = route([change(event(owner=PUBLIC))], OWNERS, {}, CALSYNC, [PUBLIC])
    assert routes.decisions[0].why is Why.PUBLIC
    assert routes.public[0].event.owner_sf_id == PUBLIC
    assert routes.inboxes == {}


@pytest.mark.parametrize(
    ("by", "now", "want"),
    [
        pytest.param(CALSYNC, {}, Why.ECHO, id="R-26 calsync wrote it and it still holds that"),
        pytest.param(REP, {}, Why.MERGED,
                     id="R-26 a person's values the mapping holds already: nothing to route"),
        pytest.param(CALSYNC, {"subject": "Renamed"}, Why.ROUTED,
                     id="R-26 calsync's user but the values moved on (a later write)"),
    ],
)  # fmt: skip
def test_R26_echoes_are_dropped_only_when_calsync_wrote_the_values_it_recorded(by, now, want):
    e = event(**now)
    m = mapping(e, fp=event())
    assert decide_one(change(e, by=by), [m])[0] is want


def test_R26_a_mapping_whose_create_is_not_settled_matches_nothing():
    e = event()
    pending = Mapping(ANN.email, ItemKey("uid-1"), ANN.email, "g1", e.owner_sf_id, e.sf_event_id,
                      "cs1-x", pending_create=True)  # fmt: skip
    assert not echo(e, [pending])
    assert decide_one(change(e, by=CALSYNC), [pending]) == (Why.ROUTED, (ANN.email,))


def test_R26_a_callout_of_calsyncs_own_write_is_left_to_the_pollers_full_check():
    bare = SfChange(SfEventState("00UEVENT0000001", ANN.sf_user_id), last_modified_by=CALSYNC,
                    read=False)  # fmt: skip
    assert decide_one(bare) == (Why.OURS_UNREAD, ())


def test_R23_a_delete_goes_to_the_users_who_map_the_event():
    e = event(owner=ANN.sf_user_id, deleted=True)
    assert decide_one(change(e), [mapping(event())]) == (Why.ROUTED, (ANN.email,))


def test_R23_a_delete_of_an_event_nobody_maps_goes_nowhere():
    """Calsync's own delete forgot its mapping before the poll reads it."""
    assert decide_one(change(event(deleted=True), by=CALSYNC)) == (Why.NOT_MAPPED, ())


def test_R23_a_delete_whose_row_is_gone_is_routed_by_the_mapping():
    gone = SfChange(SfEventState("00UEVENT0000001", "", deleted=True), read=False)
    assert decide_one(gone, [mapping(event())]) == (Why.ROUTED, (ANN.email,))


def test_R22_an_event_given_to_another_owner_reaches_both_sessions():
    moved = event(owner=BOB.sf_user_id)
    assert decide_one(change(moved), [mapping(event())]) == (Why.ROUTED, (ANN.email, BOB.email))


def test_an_invitees_mapping_does_not_route_the_organisers_event_to_the_invitee():
    e = event()
    invitee = mapping(e, user=BOB.email, role=Role.INVITEE)
    assert decide_one(change(e), [invitee]) == (Why.ROUTED, (ANN.email,))


def test_R11_R23_a_delete_reaches_the_invitees_whose_copies_link_to_the_event():
    """The organiser's Event deleted (in Salesforce, or by calsync for the organiser's unsync,
    which forgot the organiser's mapping first): each invitee's session takes its link away."""
    e = event(owner=ANN.sf_user_id, deleted=True)
    invitee = mapping(event(), user=BOB.email, role=Role.INVITEE)
    assert decide_one(change(e, by=CALSYNC), [invitee]) == (Why.ROUTED, (BOB.email,))
    assert decide_one(change(e), [mapping(event()), invitee]) == (
        Why.ROUTED, (ANN.email, BOB.email))  # fmt: skip


def test_R22_R26_a_reps_change_a_session_merged_already_is_not_routed_again():
    """The Flow's callout brought the change first and its session recorded the values; the
    poll's row of the same change queues nothing. A different value, or another owner, goes."""
    e = event(subject="Renamed by the rep")
    merged = mapping(e)
    assert decide_one(change(e), [merged]) == (Why.MERGED, ())
    assert decide_one(change(event(subject="Renamed again")), [merged]) == (
        Why.ROUTED, (ANN.email,))  # fmt: skip
    given = event(subject="Renamed by the rep", owner=BOB.sf_user_id)
    assert decide_one(change(given), [merged]) == (Why.ROUTED, (ANN.email, BOB.email))


def test_one_event_seen_twice_is_decided_once_on_its_latest_row():
    first = SfChange(event(), stamp=NOW, last_modified_by=REP)
    later = SfChange(event(deleted=True), stamp=NOW + timedelta(seconds=5), last_modified_by=REP)
    routes = route([later, first], OWNERS, {}, CALSYNC)
    assert [d.why for d in routes.decisions] == [Why.NOT_MAPPED]


def test_inboxes_gather_each_users_ids_once_and_sorted():
    changes = [change(event("00UB")), change(event("00UA")),
               change(event("00UC", owner=BOB.sf_user_id))]  # fmt: skip
    routes = route(changes, OWNERS, {}, CALSYNC)
    assert routes.inboxes == {ANN.email: ("00UA", "00UB"), BOB.email: ("00UC",)}
    assert routes.count(Why.ROUTED) == 3


def test_rows_read_again_in_the_overlap_are_not_routed_twice():
    seen = Seen()
    c = change(event())
    seen.marks.add(Seen.mark(c))
    later = SfChange(c.event, stamp=NOW + timedelta(seconds=1), last_modified_by=REP)
    assert seen.new([c, later]) == [later]


# -- the echo ledger (what sessions recorded writing), without the mappings -------------


def written_fp(e: SfEventState) -> tuple[tuple[str, str], ...]:
    return fields.fingerprint(fields.sf_values(e), NAMES)


@pytest.mark.parametrize(
    ("c", "ledger", "want"),
    [
        pytest.param(change(event(), by=CALSYNC), written_fp(event()), True,
                     id="R-26 calsync wrote it last and it holds what the ledger recorded"),
        pytest.param(change(event(), by=REP), written_fp(event()), False,
                     id="R-26 a person saved the values calsync wrote: not calsync's"),
        pytest.param(change(event(subject="Renamed"), by=CALSYNC), written_fp(event()), False,
                     id="R-26 the values differ from the ledger's: looked up"),
        pytest.param(change(event(), by=CALSYNC), None, False, id="R-26 not in the ledger"),
        pytest.param(change(event(deleted=True), by=CALSYNC), written_fp(event()), False,
                     id="R-23 a delete is never an echo"),
        pytest.param(change(event(), by=CALSYNC, read=False), written_fp(event()), False,
                     id="R-26 a bare id: its values are unread"),
    ],
)  # fmt: skip
def test_R26_the_ledger_proves_an_echo_only_as_the_mapping_would(c, ledger, want):
    written = {c.id: ledger} if ledger else {}
    assert ledger_echo(c, written, CALSYNC) is want
    assert needs_mappings(c, written, CALSYNC, frozenset([PUBLIC])) is not want
    routes = route([c], OWNERS, {}, CALSYNC, [PUBLIC], written)
    if want:
        assert routes.decisions[0].why is Why.ECHO


def test_R26_a_ledger_echo_needs_no_mappings_and_a_mismatch_falls_back_to_them():
    moved = event(subject="Renamed")
    c = change(moved, by=CALSYNC)
    written = {c.id: written_fp(event())}  # the ledger has an older write
    assert needs_mappings(c, written, CALSYNC, frozenset())
    # the mapping says calsync wrote "Renamed" later (its ledger entry was lost): still an echo
    routes = route([c], OWNERS, {c.id: [mapping(moved)]}, CALSYNC, [PUBLIC], written)
    assert routes.decisions[0].why is Why.ECHO


def test_R21_R25_children_and_public_calendars_need_no_mappings():
    assert not needs_mappings(change(event(), is_child=True), {}, CALSYNC, frozenset())
    assert not needs_mappings(change(event(owner=PUBLIC)), {}, CALSYNC, frozenset([PUBLIC]))
    assert needs_mappings(change(event()), {}, CALSYNC, frozenset([PUBLIC]))
