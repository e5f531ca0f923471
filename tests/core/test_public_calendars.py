"""R-25: Salesforce public calendars copied one way into Google (core/public_calendars.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest

from core.model import SfEventState
from core.public_calendars import (
    PRIVATE_TITLE,
    StoredCopy,
    copy_body,
    copy_id,
    entries_changed,
    entry_fingerprint,
    entry_key,
    plan,
)
from core.settings import PublicCalendar
from tests.core.builders import NOW, SETTINGS, at

TEAM = "023TEAMCAL0000001A"
OTHER = "023OTHERCAL000001"
SALES = "sales@group.calendar.google.com"
ENTRY = PublicCalendar(TEAM, SALES, "5", "lead@corp.example")
SET = replace(SETTINGS, sf_public_calendars=(ENTRY,))


def event(event_id: str = "00UTEAM00000001", owner: str = TEAM, **kw: object) -> SfEventState:
    start = at(3)
    values: dict[str, object] = dict(subject="Trade fair", start_utc=start,
                                     end_utc=start + timedelta(hours=2), location="Hall 4")  # fmt: skip
    values.update(kw)
    return SfEventState(event_id, owner, **values)  # type: ignore[arg-type]


def stored(e: SfEventState, entry: PublicCalendar = ENTRY, fp: str | None = None) -> StoredCopy:
    body = copy_body(e, entry)
    return StoredCopy(entry.sf_calendar_id, entry.google_calendar, e.sf_event_id,
                      copy_id(entry.google_calendar, e.sf_event_id),
                      body.fingerprint if fp is None else fp, entry.writer)  # fmt: skip


def test_R25_a_new_event_of_a_listed_calendar_is_created_with_the_admins_colour():
    (write,) = plan([event()], [], SET, NOW)
    assert write.action == "create"
    assert write.body is not None and write.body.color_id == "5"
    assert write.body.summary == "Trade fair" and write.body.location == "Hall 4"
    assert write.calendar.writer == "lead@corp.example"


def test_R25_the_copy_id_is_base32hex_and_the_same_on_every_retry():
    first = copy_id(SALES, "00UTEAM00000001")
    assert first == copy_id(SALES.upper(), "00UTEAM00000001")
    assert re.fullmatch(r"[0-9a-v]{5,1024}", first)
    assert first != copy_id("other@group.calendar.google.com", "00UTEAM00000001")
    assert first != copy_id(SALES, "00UTEAM00000002")


def test_R25_an_event_calsync_copied_already_and_unchanged_is_left_alone():
    e = event()
    assert plan([e], [stored(e)], SET, NOW) == []


def test_R25_a_changed_event_rewrites_its_copy_in_place():
    e = event()
    moved = replace(e, start_utc=at(4), end_utc=at(4) + timedelta(hours=1), subject="Fair, day 2")
    (write,) = plan([moved], [stored(e)], SET, NOW)
    assert write.action == "update"
    assert write.event_id == copy_id(SALES, e.sf_event_id)
    assert write.body is not None and write.body.summary == "Fair, day 2"


def test_R25_a_deleted_event_deletes_its_copy():
    e = event()
    (write,) = plan([replace(e, deleted=True)], [stored(e)], SET, NOW)
    assert (write.action, write.event_id) == ("delete", copy_id(SALES, e.sf_event_id))


def test_R25_an_event_moved_to_a_calendar_not_listed_takes_its_copy_away():
    e = event()
    (write,) = plan([replace(e, owner_sf_id=OTHER)], [stored(e)], SET, NOW)
    assert write.action == "delete"


def test_R25_copies_of_a_calendar_taken_off_the_list_stay_untouched():
    e = event()
    off = replace(SETTINGS, sf_public_calendars=())
    assert plan([replace(e, subject="New"), replace(e, deleted=True)], [stored(e)], off, NOW) == []


@pytest.mark.parametrize(
    ("days", "made"),
    [pytest.param(3, True, id="inside the window"), pytest.param(90, False, id="after the window"),
     pytest.param(-30, False, id="before the window")],
)  # fmt: skip
def test_R25_new_copies_only_inside_the_sliding_window(days, made):
    e = event(start_utc=at(days), end_utc=at(days) + timedelta(hours=1))
    assert bool(plan([e], [], SET, NOW)) is made


def test_R25_an_existing_copy_follows_its_event_out_of_the_window():
    e = event()
    later = replace(e, start_utc=at(120), end_utc=at(120) + timedelta(hours=1))
    assert [w.action for w in plan([later], [stored(e)], SET, NOW)] == ["update"]


def test_R25_a_private_event_shows_only_that_the_calendar_is_busy():
    body = copy_body(event(is_private=True, description="board only"), ENTRY)
    assert (body.summary, body.location, body.description, body.private) == (
        PRIVATE_TITLE, "", "", True)  # fmt: skip


def test_R25_an_all_day_event_is_copied_as_whole_days():
    e = event(is_all_day=True, activity_date=date(2025, 3, 25), duration_minutes=2 * 1440,
              start_utc=None, end_utc=None)  # fmt: skip
    body = copy_body(e, ENTRY)
    assert (body.start.date, body.end.date) == (date(2025, 3, 25), date(2025, 3, 27))


def test_R25_one_calendar_copied_into_two_targets_gets_a_copy_in_each():
    second = PublicCalendar(TEAM, "ann@corp.example", "9", "ann@corp.example")
    both = replace(SETTINGS, sf_public_calendars=(ENTRY, second))
    writes = plan([event()], [], both, NOW)
    assert sorted((w.calendar.google_calendar, w.body.color_id) for w in writes if w.body) == [
        ("ann@corp.example", "9"), (SALES, "5")]  # fmt: skip


def test_R25_a_new_colour_or_writer_asks_for_every_copy_to_be_written_again():
    known = {entry_key(ENTRY): entry_fingerprint(ENTRY)}
    assert entries_changed([ENTRY], known) == []
    recoloured = replace(ENTRY, color="6")
    assert entries_changed([recoloured], known) == [recoloured]
    assert entries_changed([ENTRY], {}) == [ENTRY]
