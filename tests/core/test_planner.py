"""core/plan.py: the session planner (R-11, R-15..R-18, R-20, R-22, R-23, R-36, R-37, R-39)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.actions import (
    AttachmentUpload,
    GoogleDelete,
    GoogleWrite,
    HistoryNote,
    IssueClose,
    IssueOpen,
    LabelWrite,
    MappingDelete,
    MappingPut,
    SfCreate,
    SfDelete,
    SfUpdate,
)
from core.guard import held_deletes
from core.issues import Issue
from core.labels import P_KEY, P_MANUAL, P_STATUS, P_UNSYNCED
from core.model import (
    Attachment,
    Attendee,
    ItemKey,
    ItemStatus,
    Mapping,
    PersonKind,
    ResolvedPerson,
    Role,
    StoredFile,
    Visibility,
    sync_key,
)
from core.planner import plan
from infra.salesforce_wire import event_values
from tests.core.builders import (
    ANN,
    AUTOSAVE,
    BOB,
    EXT,
    NOW,
    PEOPLE,
    SETTINGS,
    UNKNOWN,
    at,
    meeting,
    tagged,
    timed,
)
from tests.core.world import World


def world(*items, settings=AUTOSAVE, user=ANN, people=PEOPLE):
    return World(user, settings, NOW, people).add(*items)


def settle(w):
    """Plan and apply once; then the next plan must be empty (converges in one step)."""
    p = plan(w.input())
    w.apply(p)
    again = plan(w.input())
    assert not again, again.render()
    return p


def kinds(p):
    return [type(a).__name__ for a in p.actions]


def sent(update):
    """The API fields an SfUpdate writes, as the Salesforce adapter sends them."""
    return tuple(event_values(update.fields, update.send))


def test_first_save_creates_maps_and_labels():
    """R-10, R-39: one create, the mapping with the sync key, the copy labelled with that key."""
    w = world(meeting())
    p = settle(w)
    assert kinds(p) == ["SfCreate", "MappingPut", "LabelWrite"]
    create = p.of(SfCreate)[0]
    assert create.sync_key == sync_key(ANN.sf_user_id, meeting().key)
    assert event_values(create.fields)["Calsync_Key__c"] == create.sync_key
    item = w.items[(ANN.email, "ev1")]
    assert item.props[P_KEY] == create.sync_key and item.color_id == "9"


def test_sync_key_is_deterministic_and_per_owner():
    """R-39: the same owner and item always give the same key; another owner another key."""
    key = ItemKey("uid-1@google.com")
    assert sync_key("005A", key) == sync_key("005A", key)
    assert sync_key("005A", key) != sync_key("005B", key)
    assert sync_key("005A", key) != sync_key(
        "005A", ItemKey("uid-1@google.com", "20250324T080000Z")
    )
    assert len(sync_key("005A", ItemKey("x" * 2000))) <= 44


def test_plan_is_pure_and_repeatable():
    """R-36: planning twice on the same input gives the same plan; nothing was written."""
    w = world(meeting(), tagged(meeting(id="ev2", ical_uid="u2", others=(UNKNOWN,))))
    inp = w.input()
    assert plan(inp) == plan(inp)
    assert w.input() == inp


def test_dry_run_prints_decisions_with_rules():
    """R-36: the dry run prints what would happen, and why (rule ids, issue codes)."""
    w = world(
        meeting(), tagged(meeting(id="ev2", ical_uid="u2", others=(UNKNOWN,))), settings=AUTOSAVE
    )
    text = plan(w.input()).render()
    assert '"Quartalsgespräch 📈" 2025-03-21 10:00 UTC [ev1]: save [R-10]' in text
    assert "[ev2]: fail [R-07 CS-002]" in text
    assert "[R-10] create SF Event" in text and "open issue CS-002" in text


def test_update_carries_only_the_changed_field():
    """R-15: after the first save, a change of the title reaches the SF Event, nothing else."""
    w = world(meeting())
    settle(w)
    w.add(replace(w.items[(ANN.email, "ev1")], title="Neuer Titel 🎯", updated=NOW))
    p = settle(w)
    update = p.of(SfUpdate)[0]
    assert sent(update) == ("Subject",) and update.fields.subject == "Neuer Titel 🎯"


@pytest.mark.parametrize(
    ("change", "names"),
    [
        pytest.param({"span": timed(at(2))}, ("StartDateTime", "EndDateTime", "ActivityDateTime", "IsAllDayEvent"), id="R-15 time change"),
        pytest.param({"location": "Zürich HB"}, ("Location",), id="R-15 location change"),
        pytest.param({"visibility": Visibility.PRIVATE}, (), id="R-15 visibility change, linked mode: nothing to write"),
    ],
)  # fmt: skip
def test_updates(change, names):
    w = world(meeting())
    settle(w)
    w.add(replace(w.items[(ANN.email, "ev1")], **change))
    p = settle(w)
    assert tuple(sorted(n for a in p.of(SfUpdate) for n in sent(a))) == tuple(sorted(names))


def test_sf_change_goes_down_and_is_not_echoed():
    """R-22, R-26: a subject changed in Salesforce patches the Google copy; the patched copy is
    not read back as a change."""
    w = world(meeting())
    settle(w)
    sf_id = next(iter(w.sf))
    w.sf[sf_id] = replace(
        w.sf[sf_id], subject="Geändert in Salesforce", last_modified=NOW + timedelta(minutes=5)
    )
    p = settle(w)
    assert kinds(p) == ["GoogleWrite", "MappingPut"]
    assert p.of(GoogleWrite)[0].patch.summary == "Geändert in Salesforce"
    assert w.items[(ANN.email, "ev1")].title == "Geändert in Salesforce"


def test_conflict_most_recent_wins_and_loser_recorded():
    """R-26: the title changed on both sides; the later change wins, the loser is recorded."""
    w = world(meeting())
    settle(w)
    sf_id = next(iter(w.sf))
    w.sf[sf_id] = replace(w.sf[sf_id], subject="SF", last_modified=NOW + timedelta(minutes=1))
    w.add(replace(w.items[(ANN.email, "ev1")], title="Google", updated=NOW + timedelta(minutes=2)))
    p = settle(w)
    note = p.of(HistoryNote)[0]
    assert (note.conflict.winner, note.conflict.loser_value) == ("google", "SF")
    assert w.sf[sf_id].subject == "Google"


def test_wait_then_join():
    """R-11: the attendee waits (pending, no error colour); once the organiser saved it, the
    attendee's copy is labelled saved and mapped as an invitee on the organiser's event."""
    item = meeting(organizer=BOB.email, others=(BOB.email, EXT))
    w = world(item)
    p = settle(w)
    assert [a.issue.code for a in p.of(IssueOpen)] == ["CS-001"]
    assert w.items[(ANN.email, "ev1")].color_id is None
    bob = Mapping(
        BOB.email,
        item.key,
        BOB.email,
        "evB",
        BOB.sf_user_id,
        "00UBOB",
        sync_key(BOB.sf_user_id, item.key),
    )
    w.organizer_mappings = (bob,)
    p = settle(w)
    assert kinds(p) == ["MappingPut", "LabelWrite", "IssueClose"]
    assert p.of(MappingPut)[0].mapping.role is Role.INVITEE
    assert w.items[(ANN.email, "ev1")].props[P_KEY] == bob.sync_key
    assert not p.of(SfCreate)


def test_seed_example_iu1_iu2_through_the_planner():
    """R-12: EU1 organises; IU1 (autosave) and IU2 (tag) each get an SF Event of their own;
    replaying either session never creates a second one for the same owner."""
    iu1 = world(meeting(organizer=EXT, others=(UNKNOWN, BOB.email)), settings=AUTOSAVE, user=ANN)
    iu2 = world(tagged(meeting(organizer=EXT, others=(UNKNOWN, ANN.email), user=BOB, id="evB", calendar_id=BOB.email)),
                settings=SETTINGS, user=BOB)  # fmt: skip
    for w in (iu1, iu2):
        settle(w)
        settle(w)
    (o1, k1), (o2, k2) = iu1.creates + iu2.creates
    assert k1 == k2 and o1 == ANN.sf_user_id and o2 == BOB.sf_user_id
    assert len(iu1.creates) == len(iu2.creates) == 1
    description = next(iter(iu1.sf.values())).description
    assert description.startswith(f"From: {EXT}\nTo: ann@corp.example, {UNKNOWN}, bob@corp.example")


def test_unsync_deletes_and_unlabels():
    """R-18: the unsync colour deletes this user's SF Event, takes the labels off, and autosave
    leaves the item alone afterwards."""
    w = world(meeting(color_id="5"))
    settle(w)
    w.add(replace(w.items[(ANN.email, "ev1")], color_id="8"))
    p = settle(w)
    assert kinds(p) == ["SfDelete", "MappingDelete", "LabelWrite"]
    item = w.items[(ANN.email, "ev1")]
    assert item.color_id == "5" and item.props == {P_UNSYNCED: "1"}
    assert not w.sf and not w.mappings


def test_organiser_cancel_deletes():
    """R-18: the organiser cancels; the SF Event is deleted on the next session."""
    w = world(meeting())
    settle(w)
    w.add(replace(w.items[(ANN.email, "ev1")], status=ItemStatus.CANCELLED))
    p = settle(w)
    assert kinds(p) == ["SfDelete", "MappingDelete"] and not w.sf


@pytest.mark.parametrize(
    ("delete_from_calendar", "expected"),
    [
        pytest.param(False, ["MappingDelete", "LabelWrite"], id="R-23 SF delete: Google item stays, labels off"),
        pytest.param(True, ["GoogleDelete", "MappingDelete"], id="R-23 delete_from_calendar: Google item deleted"),
    ],
)  # fmt: skip
def test_sf_deleted(delete_from_calendar, expected):
    w = world(meeting(), settings=replace(AUTOSAVE, delete_from_calendar=delete_from_calendar))
    settle(w)
    w.sf_delete_outside(next(iter(w.sf)))
    p = settle(w)
    assert kinds(p) == expected
    if not delete_from_calendar:
        item = w.items[(ANN.email, "ev1")]
        assert item.color_id is None and item.props == {
            P_UNSYNCED: "1"
        }  # autosave won't re-save it
    else:
        assert not w.items


RECUR = replace(AUTOSAVE, recurring_enabled=True)


def test_series_saved_as_one_sf_series():
    """R-17: a series Salesforce can express is one recurring SF Event."""
    w = world(meeting(recurrence=("RRULE:FREQ=WEEKLY;COUNT=10",)), settings=RECUR)
    p = settle(w)
    creates = p.of(SfCreate)
    assert len(creates) == 1
    assert (
        event_values(creates[0].fields)["Recurrence2PatternText"]
        == "RRULE:FREQ=WEEKLY;INTERVAL=1;COUNT=10;BYDAY=FR"
    )


def test_series_instance_by_instance_when_refused():
    """R-17: a rule Salesforce cannot express is saved instance by instance in the window."""
    series = meeting(recurrence=("RRULE:FREQ=WEEKLY;COUNT=20", "EXDATE:20250328T100000Z"), settings=None) if False else \
        meeting(recurrence=("RRULE:FREQ=WEEKLY;COUNT=20", "EXDATE:20250328T100000Z"))  # fmt: skip
    w = world(series, settings=RECUR)
    p = settle(w)
    creates = p.of(SfCreate)
    # Fridays from 21 March to 16 May (window end 19 May), without the 28 March EXDATE: 8 instances.
    assert len(creates) == 8 and all(not c.fields.recurrence_pattern for c in creates)
    assert len({c.sync_key for c in creates}) == 8
    assert "instance by instance" in w.items[(ANN.email, "ev1")].props[P_STATUS]


def test_changed_rule_replaces_the_series():
    """R-17: Salesforce never updates a pattern: a changed rule deletes, then creates."""
    w = world(meeting(recurrence=("RRULE:FREQ=WEEKLY;COUNT=10",)), settings=RECUR)
    settle(w)
    w.add(replace(w.items[(ANN.email, "ev1")], recurrence=("RRULE:FREQ=WEEKLY;COUNT=5",)))
    p = settle(w)
    assert kinds(p)[:4] == ["SfDelete", "SfCreate", "MappingDelete", "MappingPut"]
    assert p.of(SfDelete)[0].series is True
    assert p.of(SfCreate)[0].sync_key != p.of(SfDelete)[0].sync_key


def test_instance_changes_reach_their_occurrence():
    """R-17: a cancelled instance deletes its occurrence, a renamed one updates it."""
    series = meeting(recurrence=("RRULE:FREQ=WEEKLY;COUNT=10",))
    w = world(series, settings=RECUR)
    settle(w)
    start = series.span.start_utc + timedelta(days=7)
    cancelled = replace(meeting(), id="ev1_1", recurring_event_id="ev1", original_start=start,
                        status=ItemStatus.CANCELLED, span=None)  # fmt: skip
    renamed = replace(meeting(), id="ev1_2", recurring_event_id="ev1", original_start=start + timedelta(days=7),
                      span=timed(start + timedelta(days=7)), title="Sondertermin")  # fmt: skip
    w.add(cancelled, renamed)
    p = settle(w)
    delete = p.of(SfDelete)[0]
    assert delete.occurrence_of and delete.occurrence_start == start and not delete.series
    update = p.of(SfUpdate)[0]
    assert update.occurrence_start == start + timedelta(days=7) and "Subject" in sent(update)


def test_tagging_an_instance_saves_the_series():
    """R-17: tagging any instance of a series saves the series."""
    series = meeting(recurrence=("RRULE:FREQ=WEEKLY;COUNT=10",))
    instance = tagged(
        replace(
            meeting(),
            id="ev1_3",
            recurring_event_id="ev1",
            original_start=at(15),
            span=timed(at(15)),
        )
    )
    w = world(series, instance, settings=replace(SETTINGS, recurring_enabled=True))
    p = settle(w)
    assert len(p.of(SfCreate)) == 1 and p.of(SfCreate)[0].key == series.key
    assert w.items[(ANN.email, "ev1")].props[P_MANUAL] == "1"


def test_smart_auto_sharing_links_newcomers():
    """R-16: with smart_auto_sharing, a person added later and now known is linked; off, not."""
    for smart, linked in ((True, True), (False, False)):
        w = world(meeting(), settings=replace(AUTOSAVE, smart_auto_sharing=smart))
        settle(w)
        item = w.items[(ANN.email, "ev1")]
        w.add(replace(item, attendees=item.attendees + (Attendee("maría@kunde.example"),)))
        p = settle(w)
        names = {n for a in p.of(SfUpdate) for n in sent(a)}
        assert ("EventWhoIds" in names) is linked, f"smart={smart}"


def test_attachments_within_the_limit():
    """R-20: with save_attachments, files up to the admin's limit are stored with the SF Event."""
    files = (Attachment("f1", "https://drive/f1", "Angebot.pdf", size_bytes=1000),
             Attachment("f2", "https://drive/f2", "Video.mp4", size_bytes=50_000_000))  # fmt: skip
    w = world(meeting(attachments=files), settings=replace(AUTOSAVE, save_attachments=True))
    p = settle(w)
    [store] = p.of(AttachmentUpload)
    assert [a.file_id for a in store.attachments] == ["f1", "f2"]  # judged when stored
    [m] = w.mappings.values()
    assert [f.file_id for f in m.files] == ["f1"] and m.attachments == ("f1", "f2")
    off = world(meeting(attachments=files))
    assert not plan(off.input()).of(AttachmentUpload)


def test_unresolved_issue_closes_once_resolved():
    """R-07, R-31: the issue closes by itself once the item syncs."""
    w = world(tagged(meeting(others=(UNKNOWN,))), settings=SETTINGS)
    settle(w)
    assert [i.code for i in w.issues.values()] == ["CS-002"]
    w.people = replace(PEOPLE, resolved=dict(PEOPLE.resolved) | {
        UNKNOWN: ResolvedPerson(UNKNOWN, PersonKind.CONTACT, "003NEU")})  # fmt: skip
    p = settle(w)
    assert p.of(SfCreate) and p.of(IssueClose) and not w.issues


def test_auto_create_people_with_the_event():
    """R-07: with auto_create_unresolved, the create carries the people to create first."""
    w = world(
        tagged(meeting(others=(UNKNOWN,))),
        settings=replace(SETTINGS, auto_create_unresolved="lead"),
    )
    p = settle(w)
    assert [(n.kind, n.email) for n in p.of(SfCreate)[0].new_people] == [(PersonKind.LEAD, UNKNOWN)]


def _saved_world(n, settings=AUTOSAVE):
    items = [meeting(id=f"ev{i}", ical_uid=f"u{i}", span=timed(at(1 + i % 50))) for i in range(n)]
    w = world(*items, settings=settings)
    settle(w)
    return w


@pytest.mark.parametrize(
    ("mapped", "deleted", "settings", "held"),
    [
        pytest.param(100, 21, AUTOSAVE, True, id="R-37 more than max_deletes_per_session: held"),
        pytest.param(100, 20, AUTOSAVE, False, id="R-37 exactly max_deletes_per_session: goes"),
        pytest.param(6, 4, AUTOSAVE, True, id="R-37 more than half of the mapped items: held"),
        pytest.param(6, 3, AUTOSAVE, False, id="R-37 exactly half: goes"),
        pytest.param(2, 2, AUTOSAVE, False, id="R-37 below deletion_guard_min_deletes: goes"),
        pytest.param(2, 2, replace(AUTOSAVE, deletion_guard_min_deletes=1), True, id="R-37 strict half rule: held"),
    ],
)  # fmt: skip
def test_deletion_guard(mapped, deleted, settings, held):
    w = _saved_world(mapped, settings)
    for i in range(deleted):
        k = (ANN.email, f"ev{i}")
        w.add(replace(w.items[k], status=ItemStatus.CANCELLED))
    p = plan(w.input())
    assert bool(p.of(SfDelete)) is not held
    assert (p.deletes_held == deleted) is held
    assert [a.issue.code for a in p.of(IssueOpen)] == (["CS-009"] if held else [])
    if held:
        w.apply(p)
        assert not plan(w.input()), "held deletes stay held without new actions"
        w.released = frozenset(h.sync_key for h in held_deletes(p.held))
        p = settle(w)
        assert len(p.of(SfDelete)) == deleted and p.of(IssueClose)


def test_group_calendar_item_owned_by_the_user():
    """R-19: a group calendar's event is saved like the user's own; its label goes on that copy."""
    from tests.core.builders import GROUP_CAL

    item = meeting(calendar_id=GROUP_CAL, organizer=GROUP_CAL)
    w = world(item, settings=replace(AUTOSAVE, group_calendars=(GROUP_CAL,)))
    p = settle(w)
    assert p.of(SfCreate)[0].fields.owner_id == ANN.sf_user_id
    assert p.of(LabelWrite)[0].patch.calendar_id == GROUP_CAL


def test_held_issue_not_reopened():
    """R-31: an issue already open is not opened again (idempotent)."""
    w = world(tagged(meeting(others=(UNKNOWN,))), settings=SETTINGS)
    w.issues[(ANN.email, str(meeting().key), "CS-002")] = Issue(
        "CS-002", ANN.email, str(meeting().key)
    )
    assert not plan(w.input()).of(IssueOpen)


def test_cancelled_unknown_tombstone_is_nothing():
    w = world(replace(meeting(), status=ItemStatus.CANCELLED, span=None, ical_uid=""))
    assert not plan(w.input())


def test_mapping_delete_only_for_mapped():
    assert not plan(world(tagged(meeting(), "8")).input()).of(MappingDelete)
    assert not plan(world(meeting()).input()).of(GoogleDelete)


def test_R17_R23_instance_deleted_in_salesforce_while_the_series_moved_converges_at_once():
    """A series saved instance by instance (a rule Salesforce cannot express) loses one
    instance's SF Event in Salesforce in the same session in which the organiser moves the series:
    the tombstone and the move are both planned now, and the next session has nothing to do."""
    from core.model import Span
    from core.settings import Settings
    from tests.core.builders import appointment

    s = Settings(internal_domains=("corp.example",), autosave_appointments=True,
                 recurring_enabled=True, max_deletes_per_session=1000,
                 deletion_guard_min_deletes=1000)  # fmt: skip
    series = appointment(
        span=Span.all_day(NOW.date(), NOW.date() + timedelta(days=1)),
        recurrence=("RRULE:FREQ=MONTHLY;BYDAY=5MO",),
    )
    w = World(ANN, s, NOW, PEOPLE).add(series)
    w.apply(plan(w.input()))
    [sf_id] = list(w.sf)
    key = next(iter(w.items))
    moved = Span.timed(NOW + timedelta(days=2), NOW + timedelta(days=2, hours=1), "Europe/Berlin")
    w.items[key] = replace(w.items[key], span=moved)
    w.sf_delete_outside(sf_id)
    first = plan(w.input())
    assert first.of(SfCreate), first.render()  # the moved instance is saved in this session
    w.apply(first)
    assert not plan(w.input()), plan(w.input()).render()


# -- the sidebar's choices (only signed, verified ones reach the core: infra/choices.py) --


def _with_choice(item, who="", what=""):
    from core.labels import P_WHAT, P_WHO
    from core.model import with_props

    props = item.props
    props.update({k: v for k, v in ((P_WHO, who), (P_WHAT, what)) if v})
    return with_props(item, props)


def test_R33_save_action_links_the_chosen_name_and_related_to():
    """R-33, R-13: the Name and Related To chosen in the sidebar become WhoId and WhatId."""
    item = _with_choice(meeting(), who="003MARIA0000002", what="006DEAL00000001")
    w = world(replace(item, private_props=item.private_props + ((P_MANUAL, "1"),)),
              settings=SETTINGS)  # fmt: skip
    create = settle(w).of(SfCreate)[0]
    assert create.fields.relations.who_id == "003MARIA0000002"
    assert create.fields.relations.what_id == "006DEAL00000001"


def test_R33_relink_of_a_saved_item_updates_who_and_what():
    """R-33: a new choice on a saved item (re-link) is carried to its SF Event on the next
    session, and only then: planning again is empty."""
    w = world(meeting())
    settle(w)
    saved = w.items[(ANN.email, "ev1")]
    w.add(_with_choice(saved, who="00QZOE000000001"))
    p = settle(w)
    (update,) = p.of(SfUpdate)
    assert {"WhoId"} <= set(sent(update))
    assert update.fields.relations.who_id == "00QZOE000000001"
    assert update.fields.relations.what_id == ""  # a lead is related to nothing


def test_R33_items_without_a_choice_send_no_relink():
    """R-33: the choice is a Google-only field; an item without one never differs from
    Salesforce, so saved items gain no update from it."""
    w = world(meeting())
    settle(w)
    item = w.items[(ANN.email, "ev1")]
    w.add(replace(item, location="Raum 4"))
    (update,) = settle(w).of(SfUpdate)
    assert "WhoId" not in sent(update)


def test_R33_chosen_name_makes_an_unresolved_meeting_saveable():
    """R-07, R-33: a meeting whose attendees are all unknown can be saved once the rep picks
    the Name in the sidebar; it is linked to that person."""
    item = _with_choice(tagged(meeting(others=(UNKNOWN,))), who="003MARIA0000002")
    w = world(item, settings=SETTINGS)
    create = settle(w).of(SfCreate)[0]
    assert create.fields.relations.who_id == "003MARIA0000002"
    assert not w.issues


# -- R-38 backfill and R-20 files: what the planner keeps for the sessions --------------------

BACKFILL = (at(-40, 0), at(-10, 0))  # a backfill's range, [since, until)


def test_R38_R37_a_backfill_plans_no_delete_and_leaves_the_guard_and_its_issue_alone():
    """A backfill saves and never deletes: a cancelled saved item is left to the sessions (they
    see the cancel through their sync token), and the sessions' CS-009 is neither opened nor
    closed by it."""
    w = world(tagged(meeting(span=timed(at(-20)))), settings=SETTINGS)
    settle(w)
    w.add(replace(w.items[(ANN.email, "ev1")], status=ItemStatus.CANCELLED))
    held = Issue("CS-009", ANN.email, "", "3 deletes held for the admin's confirmation")
    w.issues[held.ident] = held
    p = plan(replace(w.input(), backfill=BACKFILL))
    assert not p.of(SfDelete) and not p.held and not p.session_issues
    assert plan(w.input()).of(SfDelete)  # a session deletes it, and closes CS-009


def test_R38_R17_a_series_in_a_backfill_is_saved_within_since_and_before_until():
    """Instance by instance over the backfill's range: an instance starting exactly at `until`
    belongs to the next range, not this one."""
    start = at(-31, 0)  # weekly from 31 days ago, 00:00 UTC: the 5th instance starts at `until`
    series = meeting(span=timed(start, zone="UTC"), recurrence=("RRULE:FREQ=WEEKLY;COUNT=8",
                                                                "EXDATE:20000101T000000Z"))  # fmt: skip
    bounds = (start, start + timedelta(weeks=4))
    p = plan(replace(world(series, settings=RECUR).input(), backfill=bounds))
    starts = sorted(c.fields.start_utc for c in p.of(SfCreate))
    assert starts == [start + timedelta(weeks=n) for n in range(4)]


def test_R20_a_files_issue_stays_open_until_its_file_is_tried_again():
    """A file that could not be stored (CS-021) keeps its issue while the item is seen again
    unchanged; the item's next write tries the file again, and an item without files closes it."""
    files = (Attachment("f1", "https://drive/f1", "Big.pdf"),)
    w = world(meeting(attachments=files), settings=replace(AUTOSAVE, save_attachments=True))
    settle(w)
    [m] = w.mappings.values()
    big = Issue("CS-021", ANN.email, str(m.key), "attachment too large to store: Big.pdf")
    w.issues[big.ident] = big
    assert not plan(w.input()).of(IssueClose)  # seen again, nothing written: still open
    item = w.items[(ANN.email, "ev1")]
    w.add(replace(item, title="Renamed"))
    p = plan(w.input())
    assert p.of(AttachmentUpload)  # tried again: its outcome keeps the issue or closes it
    w.add(replace(item, attachments=()))
    assert [c.issue.code for c in plan(w.input()).of(IssueClose)] == ["CS-021"]


def test_R20_R17_a_replaced_series_links_its_stored_files_to_the_new_event():
    """A changed rule replaces the SF series (R-17); its files are handed to the new Event's
    upload as stored already, so they are linked to it, not stored again."""
    files = (Attachment("f1", "https://drive/f1", "Deck.pdf"),)
    settings = replace(RECUR, save_attachments=True)
    w = world(meeting(recurrence=("RRULE:FREQ=WEEKLY;COUNT=10",), attachments=files),
              settings=settings)  # fmt: skip
    settle(w)
    [m] = w.mappings.values()
    w.mappings[m.key] = replace(m, files=(StoredFile("f1", "069A", "rev1", m.sf_event_id),),
                                attachments=("f1",))  # fmt: skip
    w.add(replace(w.items[(ANN.email, "ev1")], recurrence=("RRULE:FREQ=WEEKLY;COUNT=5",)))
    [upload] = plan(w.input()).of(AttachmentUpload)
    assert [f.content_document_id for f in upload.files] == ["069A"] and not upload.sf_event_id
