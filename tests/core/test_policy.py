"""core/policy.py: the decision for one item and one user, one table per rule (R-01..R-12, R-18, R-19)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from core.labels import P_COLOR, P_MANUAL, P_UNSYNCED
from core.model import (
    EventType,
    ItemStatus,
    Mapping,
    Response,
    Transparency,
    Visibility,
    with_props,
)
from core.policy import Context, Verdict, decide
from tests.core.builders import (
    ANN,
    AUTOSAVE,
    BOB,
    CAROL,
    EXT,
    GROUP_CAL,
    LEAD,
    NOW,
    PEOPLE,
    SETTINGS,
    UNKNOWN,
    all_day,
    appointment,
    at,
    meeting,
    tagged,
    timed,
)

MAPPED = Mapping(
    ANN.email, meeting().key, ANN.email, "ev1", ANN.sf_user_id, "00UEVENT0000001", "cs1-x"
)
BOB_SAVED = Mapping(
    BOB.email, meeting().key, BOB.email, "evB", BOB.sf_user_id, "00UEVENTBOB0001", "cs1-b"
)


def run(item, settings=SETTINGS, mapping=None, organizer_mapping=None, user=ANN):
    ctx = Context(user, settings, NOW, PEOPLE, mapping, organizer_mapping)
    return decide(item, ctx)


def check(decision, verdict, rule, code=""):
    assert (decision.verdict, decision.rule, decision.issue_code) == (verdict, rule, code), str(
        decision
    )


# a manual save (save colour or the Save action) saves whatever the switches and window.
@pytest.mark.parametrize(
    ("item", "verdict", "rule"),
    [
        pytest.param(tagged(meeting()), Verdict.SAVE, "R-10", id="R-01 save colour saves a meeting, autosave off"),
        pytest.param(with_props(meeting(), {P_MANUAL: "1"}), Verdict.SAVE, "R-10", id="R-01 Save action saves"),
        pytest.param(tagged(meeting(span=timed(at(-200)))), Verdict.SAVE, "R-10", id="R-04 manual save outside the window"),
        pytest.param(tagged(meeting(visibility=Visibility.PRIVATE)), Verdict.SAVE, "R-10", id="R-04 manual save of a private item"),
        pytest.param(tagged(meeting(others=(CAROL,))), Verdict.SAVE, "R-10", id="R-04 manual save of an internal meeting"),
        pytest.param(tagged(meeting(event_type=EventType.FOCUS_TIME)), Verdict.SAVE, "R-10", id="R-04 manual save of focus time"),
        pytest.param(tagged(appointment(title="")), Verdict.SAVE, "R-10", id="R-04 manual save of an untitled appointment"),
        pytest.param(meeting(), Verdict.SKIP, "R-05", id="R-01 untagged meeting, autosave off: skipped"),
        pytest.param(tagged(meeting(), "5"), Verdict.SKIP, "R-05", id="R-01 another colour is no tag"),
        pytest.param(with_props(tagged(meeting()), {P_COLOR: "9"}), Verdict.SKIP, "R-05",
                     id="R-01 a save colour calsync set itself is no fresh tag"),
    ],
)  # fmt: skip
def test_manual_save(item, verdict, rule):
    check(run(item), verdict, rule)


def test_manual_save_is_flagged_manual():
    """R-04: the decision remembers the wish (labels keep it across an error colour)."""
    assert run(tagged(meeting())).manual is True
    assert run(meeting(), AUTOSAVE).manual is False


# autosave, its switches and the sliding window (14 days back, 60 ahead, both ends included).
@pytest.mark.parametrize(
    ("item", "settings", "verdict"),
    [
        pytest.param(meeting(), AUTOSAVE, Verdict.SAVE, id="R-05 accepted meeting autosaved"),
        pytest.param(meeting(organizer=EXT, me=Response.TENTATIVE), AUTOSAVE, Verdict.SAVE, id="R-05 tentative meeting autosaved"),
        pytest.param(meeting(), replace(AUTOSAVE, autosave_meetings=False), Verdict.SKIP, id="R-05 meeting autosave off"),
        pytest.param(appointment(), AUTOSAVE, Verdict.SAVE, id="R-05 appointment autosaved"),
        pytest.param(appointment(), replace(AUTOSAVE, autosave_appointments=False), Verdict.SKIP, id="R-05 appointment autosave off"),
        pytest.param(meeting(span=timed(NOW + timedelta(days=60))), AUTOSAVE, Verdict.SAVE, id="R-05 60 days ahead"),
        pytest.param(meeting(span=timed(NOW + timedelta(days=60, hours=11, minutes=59))), AUTOSAVE, Verdict.SAVE, id="R-05 the far edge is the end of that day (issue 14)"),
        pytest.param(meeting(span=timed(NOW + timedelta(days=60, hours=12))), AUTOSAVE, Verdict.SKIP, id="R-05 midnight after the far edge"),
        pytest.param(meeting(span=timed(NOW - timedelta(days=14))), AUTOSAVE, Verdict.SAVE, id="R-05 exactly at the past edge"),
        pytest.param(meeting(span=timed(NOW - timedelta(days=14, seconds=1))), AUTOSAVE, Verdict.SKIP, id="R-05 one second before the past edge"),
        pytest.param(meeting(span=all_day(date(2025, 5, 19), 1)), AUTOSAVE, Verdict.SAVE, id="R-05 all-day on the last day of the window"),
        pytest.param(meeting(span=all_day(date(2025, 5, 20), 1)), AUTOSAVE, Verdict.SKIP, id="R-05 all-day the day after the window"),
        pytest.param(meeting(span=timed(NOW - timedelta(days=20)), recurrence=("RRULE:FREQ=WEEKLY",)),
                     replace(AUTOSAVE, recurring_enabled=True), Verdict.SAVE, id="R-05 old series with instances in the window"),
        pytest.param(meeting(span=timed(NOW - timedelta(days=100)), recurrence=("RRULE:FREQ=WEEKLY;COUNT=3",)),
                     replace(AUTOSAVE, recurring_enabled=True), Verdict.SKIP, id="R-05 finished series outside the window"),
        pytest.param(meeting(span=timed(NOW + timedelta(days=61))), replace(AUTOSAVE, window_future_days=90), Verdict.SAVE,
                     id="R-05 window from the org settings"),
    ],
)  # fmt: skip
def test_autosave_and_window(item, settings, verdict):
    decision = run(item, settings)
    assert decision.verdict is verdict, str(decision)
    assert decision.rule in ("R-05", "R-10", "R-12")


# what autosave never saves, quietly (SKIP, no issue code).
@pytest.mark.parametrize(
    ("item", "settings", "reason"),
    [
        pytest.param(meeting(visibility=Visibility.PRIVATE), AUTOSAVE, "private", id="R-06 private meeting skipped"),
        pytest.param(meeting(visibility=Visibility.CONFIDENTIAL), AUTOSAVE, "private", id="R-06 confidential meeting skipped"),
        pytest.param(meeting(others=(BOB.email, CAROL)), AUTOSAVE, "internal", id="R-06 internal meeting skipped"),
        pytest.param(meeting(others=(EXT,)), replace(AUTOSAVE, blocklist_addresses=(EXT,)), "blocklisted", id="R-06 blocklisted address"),
        pytest.param(meeting(others=(EXT,)), replace(AUTOSAVE, blocklist_domains=("kunde.example",)), "blocklisted", id="R-06 blocklisted domain"),
        pytest.param(meeting(title="Zahnarzt (privat)"), replace(AUTOSAVE, blocklist_keywords=("ZAHNARZT",)), "blocklisted", id="R-06 blocklisted keyword, any case"),
        pytest.param(meeting(others=(UNKNOWN,)), AUTOSAVE, "non-linked", id="R-06 non-linked meeting skipped"),
        pytest.param(meeting(organizer=EXT, me=Response.DECLINED), AUTOSAVE, "declined", id="R-06 declined invitation skipped"),
        pytest.param(meeting(organizer=EXT, me=Response.NEEDS_ACTION), AUTOSAVE, "not answered", id="R-06 unanswered invitation skipped"),
        pytest.param(appointment(event_type=EventType.OUT_OF_OFFICE), AUTOSAVE, "outOfOffice", id="R-06 out of office skipped"),
        pytest.param(appointment(event_type=EventType.FOCUS_TIME), AUTOSAVE, "focusTime", id="R-06 focus time skipped"),
        pytest.param(appointment(event_type=EventType.WORKING_LOCATION), AUTOSAVE, "workingLocation", id="R-06 working location skipped"),
        pytest.param(appointment(event_type=EventType.BIRTHDAY), AUTOSAVE, "birthday", id="R-06 birthday skipped"),
    ],
)  # fmt: skip
def test_autosave_never_saves(item, settings, reason):
    decision = run(item, settings)
    check(decision, Verdict.SKIP, "R-06")
    assert reason in decision.reason


def test_internal_meetings_autosaved_when_the_org_says_so():
    """R-06: `save_internal_meetings` lets autosave take internal meetings."""
    item = meeting(others=(CAROL,))
    check(run(item, AUTOSAVE), Verdict.SKIP, "R-06")
    assert run(item, replace(AUTOSAVE, save_internal_meetings=True)).verdict is Verdict.SAVE


# a manual save whose attendees are all unresolved fails until one resolves (or is created).
@pytest.mark.parametrize(
    ("item", "settings", "verdict", "code"),
    [
        pytest.param(tagged(meeting(others=(UNKNOWN,))), SETTINGS, Verdict.FAIL, "CS-002", id="R-07 all unresolved: issue and error label"),
        pytest.param(tagged(meeting(others=(UNKNOWN, EXT))), SETTINGS, Verdict.SAVE, "", id="R-07 one resolved attendee is enough"),
        pytest.param(tagged(meeting(others=(UNKNOWN,))), replace(SETTINGS, auto_create_unresolved="contact"), Verdict.SAVE, "", id="R-07 auto-create contact saves at once"),
        pytest.param(tagged(meeting(others=(UNKNOWN,))), replace(SETTINGS, auto_create_unresolved="lead"), Verdict.SAVE, "", id="R-07 auto-create lead saves at once"),
    ],
)  # fmt: skip
def test_unresolved_attendees(item, settings, verdict, code):
    decision = run(item, settings)
    assert (decision.verdict, decision.issue_code) == (verdict, code), str(decision)
    if code:
        assert decision.rule == "R-07"


def test_unresolved_meeting_saves_itself_once_an_address_resolves():
    """R-07: the same item, a later session, the address now known: saved (manual wish remembered)."""
    failed = with_props(tagged(meeting(others=(UNKNOWN,)), "11"), {P_MANUAL: "1", P_COLOR: "11"})
    check(run(failed), Verdict.FAIL, "R-07", "CS-002")
    later = PEOPLE.resolved | {
        UNKNOWN: replace(PEOPLE.resolved[EXT], email=UNKNOWN, sf_id="003NEW")
    }
    ctx = Context(ANN, SETTINGS, NOW, replace(PEOPLE, resolved=later))
    assert decide(failed, ctx).verdict is Verdict.SAVE


# ISE-013 for declined or unanswered meetings saved by hand.
@pytest.mark.parametrize(
    ("me", "settings", "verdict", "code"),
    [
        pytest.param(Response.DECLINED, SETTINGS, Verdict.FAIL, "ISE-013", id="R-08 declined meeting saved by hand: ISE-013"),
        pytest.param(Response.NEEDS_ACTION, SETTINGS, Verdict.FAIL, "ISE-013", id="R-08 unanswered meeting saved by hand: ISE-013"),
        pytest.param(Response.DECLINED, replace(SETTINGS, sync_unanswered_and_declined=True), Verdict.SAVE, "", id="R-08 setting on: declined meeting saved"),
        pytest.param(Response.TENTATIVE, SETTINGS, Verdict.SAVE, "", id="R-08 tentative meeting saved"),
    ],
)  # fmt: skip
def test_declined_or_unanswered(me, settings, verdict, code):
    decision = run(tagged(meeting(organizer=EXT, me=me)), settings)
    assert (decision.verdict, decision.issue_code) == (verdict, code), str(decision)
    if code:
        assert (
            decision.reason
            == "Meeting for attendees cannot be synchronized until the organizer synchronizes it"
        )


RECUR = replace(SETTINGS, recurring_enabled=True)
WEEKLY = ("RRULE:FREQ=WEEKLY;COUNT=10",)


# what cannot be saved gets an issue and the error label.
@pytest.mark.parametrize(
    ("item", "settings", "verdict", "code"),
    [
        pytest.param(tagged(meeting(span=all_day(date(2025, 3, 21), 14))), SETTINGS, Verdict.SAVE, "", id="R-09 all-day of exactly 14 days saved"),
        pytest.param(tagged(meeting(span=all_day(date(2025, 3, 21), 15))), SETTINGS, Verdict.FAIL, "CS-003", id="R-09 all-day of 15 days refused"),
        pytest.param(tagged(meeting(span=timed(at(1), 14 * 24 * 60))), SETTINGS, Verdict.SAVE, "", id="R-09 timed item of exactly 14 days saved"),
        pytest.param(tagged(meeting(span=timed(at(1), 14 * 24 * 60 + 1))), SETTINGS, Verdict.FAIL, "CS-004", id="R-09 timed item of 14 days and a minute refused"),
        pytest.param(tagged(meeting(span=timed(at(1), 24 * 60), recurrence=WEEKLY)), RECUR, Verdict.SAVE, "", id="R-09 series of 24-hour instances saved"),
        pytest.param(tagged(meeting(span=timed(at(1), 24 * 60 + 1), recurrence=WEEKLY)), RECUR, Verdict.FAIL, "CS-005", id="R-09 series of 24h+1min instances refused"),
        pytest.param(tagged(meeting(span=all_day(date(2025, 3, 21), 2), recurrence=WEEKLY)), RECUR, Verdict.FAIL, "CS-005", id="R-09 recurring all-day of 2 days refused"),
        pytest.param(tagged(meeting(span=timed(at(1), zone="Mars/Olympus_Mons"))), SETTINGS, Verdict.FAIL, "CS-006", id="R-09 unknown time zone refused"),
        pytest.param(tagged(meeting(span=timed(at(1), zone="../../etc/passwd"))), SETTINGS, Verdict.FAIL, "CS-006", id="R-09 a path is no time zone"),
        pytest.param(tagged(meeting(span=timed(at(1), zone="America/Argentina/ComodRivadavia"))), SETTINGS, Verdict.SAVE, "", id="R-09 old IANA alias accepted"),
        pytest.param(tagged(meeting(recurrence=WEEKLY)), SETTINGS, Verdict.FAIL, "CS-007", id="R-09 series while recurring is off refused"),
        pytest.param(meeting(recurrence=WEEKLY), AUTOSAVE, Verdict.SKIP, "", id="R-09 autosave skips series quietly while recurring is off"),
        pytest.param(meeting(span=all_day(date(2025, 3, 21), 15)), AUTOSAVE, Verdict.FAIL, "CS-003", id="R-09 autosaved item too long fails too"),
    ],
)  # fmt: skip
def test_cannot_be_saved(item, settings, verdict, code):
    decision = run(item, settings)
    assert (decision.verdict, decision.issue_code) == (verdict, code), str(decision)
    if code:
        assert decision.rule == "R-09"


def test_dst_change_does_not_change_the_length():
    """R-09: a 24-hour series across the spring DST change in Berlin lasts 24 elapsed hours."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2025, 3, 29, 12, 0, tzinfo=berlin)
    end = datetime(2025, 3, 30, 12, 0, tzinfo=berlin)  # 23 elapsed hours: the clocks jumped
    from core.model import Span

    item = tagged(meeting(span=Span.timed(start, end, "Europe/Berlin"), recurrence=WEEKLY))
    assert run(item, RECUR).verdict is Verdict.SAVE
    longer = Span.timed(start, datetime(2025, 3, 30, 13, 1, tzinfo=berlin), "Europe/Berlin")
    check(run(replace(item, span=longer), RECUR), Verdict.FAIL, "R-09", "CS-005")


# who owns the SF Event (the seed's three scenarios).
@pytest.mark.parametrize(
    ("item", "organizer_mapping", "verdict", "rule", "owner"),
    [
        pytest.param(meeting(), None, Verdict.SAVE, "R-10", ANN.sf_user_id, id="R-10 the user organises: the user owns it"),
        pytest.param(appointment(), None, Verdict.SAVE, "R-10", ANN.sf_user_id, id="R-10 appointment owned by the user"),
        pytest.param(meeting(organizer=BOB.email), None, Verdict.WAIT, "R-11", "", id="R-11 enabled internal organiser has not saved: wait"),
        pytest.param(meeting(organizer=BOB.email), BOB_SAVED, Verdict.JOIN, "R-11", BOB.sf_user_id, id="R-11 organiser saved: invitee on their event"),
        pytest.param(meeting(organizer=EXT), None, Verdict.SAVE, "R-12", ANN.sf_user_id, id="R-12 external organiser: the user owns it"),
        pytest.param(meeting(organizer=CAROL, others=(CAROL, EXT)), None, Verdict.SAVE, "R-12", ANN.sf_user_id,
                     id="R-12 internal organiser without calsync: the user owns it"),
    ],
)  # fmt: skip
def test_ownership(item, organizer_mapping, verdict, rule, owner):
    decision = run(item, AUTOSAVE, organizer_mapping=organizer_mapping)
    check(decision, verdict, rule, "CS-001" if verdict is Verdict.WAIT else "")
    assert decision.owner_sf_id == owner


def test_seed_example_iu1_iu2_eu1_eu2():
    """R-12, the seed's scenario 3 played through: EU1 (contact) organises, EU2 (unregistered),
    IU1 (autosave on) and IU2 (autosave off, saves by tag) attend. Each internal user who saves it
    owns an SF Event of their own; never two for the same owner."""
    iu1, iu2, eu1, eu2 = ANN, BOB, EXT, UNKNOWN
    item_iu1 = meeting(organizer=eu1, others=(eu2, iu2.email), user=iu1)
    item_iu2 = meeting(
        organizer=eu1, others=(eu2, iu1.email), user=iu2, id="evB", calendar_id=iu2.email
    )
    d1 = run(item_iu1, AUTOSAVE, user=iu1)
    check(d1, Verdict.SAVE, "R-12")
    assert d1.owner_sf_id == iu1.sf_user_id
    check(run(item_iu2, SETTINGS, user=iu2), Verdict.SKIP, "R-05")  # IU2: autosave off, untagged
    d2 = run(tagged(item_iu2), SETTINGS, user=iu2)
    check(d2, Verdict.SAVE, "R-12")
    assert d2.owner_sf_id == iu2.sf_user_id != d1.owner_sf_id
    assert item_iu1.key == item_iu2.key  # the same iCalUID, one SF Event per owner


def test_seed_scenario_1_waits_then_joins():
    """R-11, the seed's scenario 1: a colleague organises; the attendee's save waits for them."""
    item = meeting(organizer=BOB.email, others=(BOB.email, EXT))
    wait = run(item, AUTOSAVE)
    check(wait, Verdict.WAIT, "R-11", "CS-001")
    assert wait.reason == "Waiting for the organizer to synchronize the event"
    check(run(item, AUTOSAVE, organizer_mapping=BOB_SAVED), Verdict.JOIN, "R-11")


def test_seed_scenario_2_organiser_saves_for_everyone():
    """R-10, the seed's scenario 2: the user organises; one SF Event owned by the user."""
    decision = run(meeting(others=(BOB.email, EXT, LEAD)), AUTOSAVE)
    check(decision, Verdict.SAVE, "R-10")
    assert decision.owner_sf_id == ANN.sf_user_id


# organiser cancels, user unsyncs.
@pytest.mark.parametrize(
    ("item", "mapping", "verdict"),
    [
        pytest.param(replace(meeting(), status=ItemStatus.CANCELLED), MAPPED, Verdict.DELETE, id="R-18 organiser cancelled a saved item: delete"),
        pytest.param(replace(meeting(), status=ItemStatus.CANCELLED), None, Verdict.SKIP, id="R-18 cancelled unsaved item: nothing"),
        pytest.param(type(meeting())(id="ev1", calendar_id=ANN.email, status=ItemStatus.CANCELLED), MAPPED, Verdict.DELETE,
                     id="R-18 cancelled tombstone with only an id: delete"),
        pytest.param(tagged(meeting(), "8"), MAPPED, Verdict.UNSYNC, id="R-18 unsync colour on a saved item: unsync"),
        pytest.param(tagged(meeting(), "8"), None, Verdict.UNSYNC, id="R-18 unsync colour on an unsaved item: marked"),
        pytest.param(with_props(meeting(), {P_UNSYNCED: "1"}), None, Verdict.SKIP, id="R-18 autosave leaves an unsynced item alone"),
        pytest.param(with_props(tagged(meeting()), {P_UNSYNCED: "1"}), None, Verdict.SAVE, id="R-18 saving again after unsync saves"),
    ],
)  # fmt: skip
def test_cancel_and_unsync(item, mapping, verdict):
    decision = run(item, AUTOSAVE, mapping=mapping)
    assert decision.verdict is verdict, str(decision)
    if verdict is not Verdict.SAVE:
        assert decision.rule == "R-18"


# group calendars, 24 hours at most.
@pytest.mark.parametrize(
    ("minutes", "verdict", "code"),
    [
        pytest.param(24 * 60, Verdict.SAVE, "", id="R-19 group calendar event of 24 hours saved"),
        pytest.param(24 * 60 + 1, Verdict.FAIL, "CS-008", id="R-19 group calendar event of 24h+1min refused"),
    ],
)  # fmt: skip
def test_group_calendars(minutes, verdict, code):
    settings = replace(AUTOSAVE, group_calendars=(GROUP_CAL,))
    item = meeting(calendar_id=GROUP_CAL, organizer=GROUP_CAL, span=timed(at(1), minutes))
    decision = run(item, settings)
    assert (decision.verdict, decision.issue_code) == (verdict, code), str(decision)
    if code:
        assert decision.rule == "R-19"
    else:
        assert decision.owner_sf_id == ANN.sf_user_id


def test_saved_item_updates_whatever_autosave_says():
    """R-15: once saved, changes carry on, even outside the window or when made private."""
    item = meeting(
        span=timed(at(-100)), visibility=Visibility.PRIVATE, transparency=Transparency.TRANSPARENT
    )
    check(run(item, SETTINGS, mapping=MAPPED), Verdict.UPDATE, "R-15")


def test_rules_table_names_every_rule_in_order():
    """The decision is a table of named rules, evaluated in order (STYLE)."""
    from core.policy import RULES

    ids = [r.rule for r in RULES]
    assert ids[:3] == ["R-18"] * 3 and ids[-3:] == ["R-10", "R-11", "R-12"]
    assert {"R-05", "R-06", "R-07", "R-08", "R-09", "R-19"} <= set(ids)
