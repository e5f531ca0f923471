"""Property tests of the planner (R-26, R-29, R-39): for random items and settings it never plans
two creates for the same owner and item, it is repeatable, and applying its actions to an
in-memory model of both sides converges in one step, also after random edits on either side."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.actions import SfCreate
from core.model import (
    Attendee,
    EventType,
    Item,
    ItemStatus,
    Person,
    Response,
    Span,
    Transparency,
    Visibility,
)
from core.planner import plan
from core.settings import Settings
from tests.core.builders import ANN, BOB, CAROL, CORP, EXT, LEAD, NOW, PEOPLE, UNKNOWN
from tests.core.world import World

EMAILS = [EXT, LEAD, BOB.email, CAROL, UNKNOWN, "maría@kunde.example"]
RULES = [(), ("RRULE:FREQ=WEEKLY;COUNT=6",), ("RRULE:FREQ=DAILY;COUNT=4", "EXDATE:20250101T000000Z"),
         ("RRULE:FREQ=MONTHLY;BYDAY=5MO",)]  # fmt: skip
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=300)


@st.composite
def items(draw, index: int, rules: list[tuple[str, ...]] = RULES) -> Item:
    organizer = draw(st.sampled_from([ANN.email, ANN.email, EXT, BOB.email, CAROL, UNKNOWN]))
    others = draw(st.lists(st.sampled_from(EMAILS), max_size=4, unique=True))
    mine = organizer == ANN.email
    me = Attendee(
        ANN.email, response=draw(st.sampled_from(list(Response))), is_self=True, is_organizer=mine
    )
    people = [me] + [Attendee(e, is_organizer=e == organizer) for e in others]
    if not mine and organizer not in others:
        people.append(Attendee(organizer, is_organizer=True))
    if not others and mine and draw(st.booleans()):
        people = []  # an appointment
    start = NOW + timedelta(
        days=draw(st.integers(-30, 90)), minutes=draw(st.sampled_from([0, 30, 90]))
    )
    if draw(st.booleans()):
        span = Span.timed(start, start + timedelta(minutes=draw(st.sampled_from([30, 60, 60, 90, 1440, 1441, 20161]))),
                          draw(st.sampled_from(["Europe/Berlin", "America/New_York", "", "Europe/Berlin", "Asia/Kolkata", "Mars/Base"])))  # fmt: skip
    else:
        span = Span.all_day(
            start.date(), start.date() + timedelta(days=draw(st.sampled_from([1, 1, 2, 14, 15])))
        )
    return Item(
        id=f"ev{index}",
        calendar_id=ANN.email,
        ical_uid=f"uid{index}@google.com",
        span=span,
        recurrence=draw(st.sampled_from(rules)),
        title=draw(text),
        location=draw(text),
        description=draw(st.sampled_from(["", "<p>Hallo <b>Welt</b></p>", "plain ünïcode"])),
        attendees=tuple(people),
        organizer=Person(organizer, is_self=mine),
        visibility=draw(st.sampled_from(list(Visibility))),
        transparency=draw(st.sampled_from(list(Transparency))),
        event_type=draw(
            st.sampled_from([EventType.DEFAULT, EventType.DEFAULT, EventType.FOCUS_TIME])
        ),
        color_id=draw(st.sampled_from([None, "5", "9", "9", "8"])),
        updated=NOW - timedelta(hours=1),
    )


@st.composite
def worlds(draw, rules: list[tuple[str, ...]] = RULES) -> World:
    s = Settings(
        internal_domains=(CORP,),
        autosave_meetings=draw(st.booleans()),
        autosave_appointments=draw(st.booleans()),
        save_internal_meetings=draw(st.booleans()),
        recurring_enabled=draw(st.booleans()),
        private_items=draw(st.sampled_from(["linked", "private_unlinked"])),
        safe_description=draw(st.booleans()),
        smart_auto_sharing=draw(st.booleans()),
        sync_unanswered_and_declined=draw(st.booleans()),
        auto_create_unresolved=draw(st.sampled_from(["off", "contact", "lead"])),
        save_attachments=draw(st.booleans()),
        # The deletion guard holds work for an admin, so it is kept out of the way here;
        # test_plan.py::test_deletion_guard covers it.
        max_deletes_per_session=100_000,
        deletion_guard_min_deletes=100_000,
    )
    n = draw(st.integers(1, 6))
    w = World(ANN, s, NOW, PEOPLE)
    return w.add(*(draw(items(i, rules)) for i in range(n)))


def converge(w: World) -> None:
    p = plan(w.input())
    owners_keys = Counter((a.fields.owner_id, a.key) for a in p.actions if isinstance(a, SfCreate))
    assert all(c == 1 for c in owners_keys.values()), "two creates for one owner and item"
    assert plan(w.input()) == p, "planning twice gives different plans"
    event(
        "writes: "
        + ",".join(
            sorted(
                {
                    type(a).__name__
                    for a in p.actions
                    if type(a).__name__.startswith(("Sf", "Google"))
                }
            )
        )
    )
    w.apply(p)
    again = plan(w.input())
    assert not again, again.render()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_converges_in_one_step(w):
    converge(w)
    assert len(set(w.creates)) == len(w.creates), "an owner and item were created twice"
    assert len(set(w.live.values())) == len(w.live)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(RULES), st.data())
def test_converges_after_edits_on_either_side(w, data):
    converge(w)
    for key, item in sorted(w.items.items()):
        edit = data.draw(st.sampled_from(["none", "title", "move", "unsync", "tag", "cancel"]))
        if edit == "title":
            item = replace(item, title=data.draw(text), updated=NOW)
        elif edit == "move":
            item = replace(
                item,
                span=Span.timed(
                    NOW + timedelta(days=2), NOW + timedelta(days=2, hours=1), "Europe/Berlin"
                ),
            )
        elif edit == "unsync":
            item = replace(item, color_id="8")
        elif edit == "tag":
            item = replace(item, color_id="9")
        elif edit == "cancel":
            item = replace(item, status=ItemStatus.CANCELLED)
        w.items[key] = item
    for sf_id, sf_event in sorted(w.sf.items()):
        edit = data.draw(st.sampled_from(["none", "subject", "delete"]))
        if edit == "subject":
            w.sf[sf_id] = replace(
                sf_event,
                subject=data.draw(text)[:255] or "x",
                last_modified=NOW + timedelta(minutes=5),
            )
        elif edit == "delete":
            w.sf_delete_outside(sf_id)
    converge(w)
    # A changed rule replaces a series, so an item may be created again, but never while
    # its earlier SF Event is still live (World.apply asserts that on every create).
    assert len(set(w.live.values())) == len(w.live), "two live SF Events for one owner and item"
