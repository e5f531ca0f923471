"""core/fields.py: the SF Event an item becomes (R-13, R-13a, R-14, R-16, R-20) and the way
back (R-22, R-26)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from core.fields import (
    DESCRIPTION,
    LOCATION,
    SUBJECT,
    WHEN,
    apply_google_patch,
    digest,
    event_fields,
    fields_values,
    google_patch,
    google_values,
    merge,
    plain_text,
    relations,
    safe_description,
    sf_values,
    subject_of,
    synced_fields,
)
from core.labels import P_WHAT, P_WHO
from core.model import (
    Attendee,
    Person,
    PersonKind,
    ResolvedPerson,
    Response,
    SfEventState,
    Transparency,
    Visibility,
    with_props,
)
from infra.salesforce_wire import event_values
from tests.core.builders import (
    ANN,
    BOB,
    EXT,
    LEAD,
    PEOPLE,
    SETTINGS,
    UNKNOWN,
    all_day,
    at,
    meeting,
    timed,
)


def fields_of(item, settings=SETTINGS, creating=True, people=PEOPLE, pattern=""):
    return event_fields(item, item.span, ANN.sf_user_id, ANN, people, settings,
                        creating=creating, pattern=pattern)  # fmt: skip


@pytest.mark.parametrize(
    ("title", "subject"),
    [
        pytest.param("", "(no title)", id="R-13 empty title becomes (no title)"),
        pytest.param("   ", "(no title)", id="R-13 blank title becomes (no title)"),
        pytest.param("Kick-off 🚀 über Größen", "Kick-off 🚀 über Größen", id="R-13 unicode title kept"),
        pytest.param("x" * 255, "x" * 255, id="R-13 title of 255 kept"),
        pytest.param("ü" * 300, "ü" * 254 + "…", id="R-13 300-character title cut to 255"),
        pytest.param("a\nb", "a b", id="R-13 subject on one line"),
    ],
)  # fmt: skip
def test_subject(title, subject):
    assert subject_of(title) == subject
    assert len(fields_of(meeting(title=title)).subject) <= 255


def test_times_in_utc_and_show_as():
    """R-13: StartDateTime/EndDateTime in UTC; transparency → ShowAs."""
    item = meeting(
        span=timed(datetime(2025, 7, 1, 9, tzinfo=UTC) + timedelta(hours=0)),
        transparency=Transparency.TRANSPARENT,
    )
    f = fields_of(item)
    sf = event_values(f)
    assert sf["StartDateTime"] == "2025-07-01T09:00:00.000+0000"
    assert sf["EndDateTime"] == "2025-07-01T10:00:00.000+0000"
    assert sf["ShowAs"] == "Free" and sf["IsAllDayEvent"] is False
    assert event_values(fields_of(meeting()))["ShowAs"] == "Busy"


@pytest.mark.parametrize(
    ("days", "minutes"),
    [
        pytest.param(1, 1440, id="R-13 all-day of one day"),
        pytest.param(14, 14 * 1440, id="R-13 all-day of 14 days in whole days"),
    ],
)  # fmt: skip
def test_all_day(days, minutes):
    """R-13: all-day items as IsAllDayEvent + ActivityDate + a whole number of days."""
    f = fields_of(meeting(span=all_day(date(2025, 3, 30), days)))
    sf = event_values(f)
    assert sf["IsAllDayEvent"] is True and sf["ActivityDate"] == "2025-03-30"
    assert sf["DurationInMinutes"] == minutes and "EndDateTime" not in sf
    assert sf["StartDateTime"] == "2025-03-30T00:00:00.000+0000"


def test_dst_day_in_zone_becomes_the_right_utc():
    """R-13: 09:00 Berlin on the DST change day is 07:00 UTC."""
    from zoneinfo import ZoneInfo

    start = datetime(2025, 3, 30, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert event_values(fields_of(meeting(span=timed(start))))["StartDateTime"].startswith(
        "2025-03-30T07:00"
    )


def test_location_cut():
    """R-13: Location ← location (255)."""
    assert len(fields_of(meeting(location="Straße " * 60)).location) == 255
    assert fields_of(meeting(location="Büro Zürich")).location == "Büro Zürich"


@pytest.mark.parametrize(
    ("item", "who", "what", "who_ids"),
    [
        pytest.param(meeting(organizer=EXT, others=("maría@kunde.example",)), "003JUERGEN00001", "001KUNDE0000001",
                     ("003JUERGEN00001", "003MARIA0000002"), id="R-13 external organiser is the primary person"),
        pytest.param(meeting(others=(UNKNOWN, "maría@kunde.example", EXT)), "003MARIA0000002", "001KUNDE0000001",
                     ("003MARIA0000002", "003JUERGEN00001"), id="R-13 else the first resolved attendee"),
        pytest.param(with_props(meeting(others=(EXT, "maría@kunde.example")), {P_WHO: "003MARIA0000002", P_WHAT: "006OPP"}),
                     "003MARIA0000002", "006OPP", ("003MARIA0000002", "003JUERGEN00001"), id="R-13 Save action picks Name and Related To"),
        pytest.param(meeting(others=(LEAD, EXT)), "00QZOE000000001", "", ("00QZOE000000001",), id="R-13 a lead primary: one lead, no contacts"),
        pytest.param(meeting(others=(BOB.email,)), "", "", (), id="R-13 only users: no WhoId"),
    ],
)  # fmt: skip
def test_primary_person_and_related_to(item, who, what, who_ids):
    r = fields_of(item).relations
    assert (r.who_id, r.what_id, r.who_ids) == (who, what, who_ids)


def test_sixty_contacts_linked_up_to_fifty():
    """R-13: Shared Activities take at most 50 contacts; the rest is noted."""
    emails = tuple(f"kontakt{i}@kunde.example" for i in range(60))
    resolved = dict(PEOPLE.resolved) | {
        e: ResolvedPerson(e, PersonKind.CONTACT, f"003C{i:011d}", "001KUNDE0000001")
        for i, e in enumerate(emails)
    }
    f = fields_of(meeting(others=emails), people=replace(PEOPLE, resolved=resolved))
    assert len(f.relations.who_ids) == 50 and f.relations.who_ids[0] == "003C00000000000"
    assert any("50 of 60" in n for n in f.notes)


def test_invitees_by_response():
    """R-10: attendees who are SF users join as invitees, by their answer; the owner is not one."""
    item = replace(
        meeting(others=(EXT,)),
        attendees=meeting().attendees
        + (
            Attendee(BOB.email, response=Response.DECLINED),
            Attendee("carol@corp.example", response=Response.NEEDS_ACTION),
        ),
    )
    r = fields_of(item).relations
    assert (r.accepted, r.declined, r.undecided) == ((), ("005BOB000000002",), ("005CAROL0000003",))


@pytest.mark.parametrize(
    ("mode", "is_private", "linked"),
    [
        pytest.param("linked", False, True, id="R-13a private item saved linked and not private"),
        pytest.param("private_unlinked", True, False, id="R-13a private item saved private without links"),
    ],
)  # fmt: skip
def test_private_items(mode, is_private, linked):
    f = fields_of(meeting(visibility=Visibility.PRIVATE), replace(SETTINGS, private_items=mode))
    sf = event_values(f)
    assert sf["IsPrivate"] is is_private
    assert ("WhoId" in sf) is linked and ("WhatId" in sf) is linked
    assert any("private item" in n for n in f.notes)


def test_public_item_never_private():
    assert (
        fields_of(meeting(), replace(SETTINGS, private_items="private_unlinked")).is_private
        is False
    )


@pytest.mark.parametrize(
    ("html", "text"),
    [
        pytest.param("Agenda<br>1. Zahlen<br/>2. Ziele", "Agenda\n1. Zahlen\n2. Ziele", id="R-14 br to newlines"),
        pytest.param("<p>Hallo&nbsp;Welt &amp; Co</p><p>Tschüss</p>", "Hallo Welt & Co\n\nTschüss", id="R-14 entities unescaped"),
        pytest.param('<a href="https://meet.google.com/abc">Join</a>', "Join (https://meet.google.com/abc)", id="R-14 links kept"),
        pytest.param("<ul><li>eins</li><li>zwei</li></ul>", "- eins\n- zwei", id="R-14 lists"),
        pytest.param("a < b and c > d", "a < b and c > d", id="R-14 plain text left alone"),
        pytest.param("<script>alert(1)</script>ok", "ok", id="R-14 scripts dropped"),
    ],
)  # fmt: skip
def test_html_made_plain(html, text):
    assert plain_text(html) == text


def test_safe_description_header_and_limit():
    """R-14: From: organiser, To/CC: attendees, above the original text, within 32,000."""
    item = meeting(organizer=EXT, others=(UNKNOWN,), description="<b>Notizen</b> " + "x" * 40_000)
    item = replace(item, organizer=Person(EXT, "Jürgen Groß"),
                   attendees=item.attendees + (Attendee("opt@kunde.example", optional=True),))  # fmt: skip
    text = safe_description(item)
    assert text.startswith(
        "From: Jürgen Groß <jürgen@kunde.example>\nTo: ann@corp.example, nobody@elsewhere.example\nCC: opt@kunde.example\n\nNotizen "
    )
    assert len(text) == 32_000


@pytest.mark.parametrize(
    ("settings", "creating", "written"),
    [
        pytest.param(SETTINGS, True, True, id="R-14 description written at the first save"),
        pytest.param(SETTINGS, False, False, id="R-14 description never updated afterwards"),
        pytest.param(replace(SETTINGS, safe_description=False), False, True, id="R-14 safe_description off: description follows"),
    ],
)  # fmt: skip
def test_description_written_once(settings, creating, written):
    f = fields_of(meeting(description="Hallo"), settings, creating=creating)
    assert ("Description" in event_values(f)) is written
    assert (DESCRIPTION in synced_fields(settings)) is (not settings.safe_description)


def test_auto_create_unresolved():
    """R-07: with auto-create, missing people become a Contact under the matching Account, else a Lead."""
    item = meeting(others=("neu@kunde.example", "x@startup-gmbh.example"))
    contact = fields_of(
        item, replace(SETTINGS, auto_create_unresolved="contact")
    ).relations.new_people
    assert [(p.kind, p.account_id, p.company) for p in contact] == [
        (PersonKind.CONTACT, "001KUNDE0000001", ""),
        (PersonKind.LEAD, "", "Startup Gmbh"),
    ]
    lead = fields_of(item, replace(SETTINGS, auto_create_unresolved="lead")).relations.new_people
    assert [p.kind for p in lead] == [PersonKind.LEAD]  # one lead per event


def test_smart_sharing_linked_set():
    """R-16: the emails linked are recorded, so a later session can link newcomers."""
    r = relations(meeting(others=(EXT, BOB.email)), ANN.sf_user_id, ANN, PEOPLE, SETTINGS)
    assert r.linked == (BOB.email, EXT)


def test_multiple_related_records():
    """R-13: with `multiple_related_records`, further Accounts are linked too."""
    resolved = dict(PEOPLE.resolved) | {
        "p@other.example": ResolvedPerson("p@other.example", PersonKind.CONTACT, "003P", "001OTHER")
    }
    item = meeting(others=(EXT, "p@other.example"))
    on = event_fields(item, item.span, ANN.sf_user_id, ANN, replace(PEOPLE, resolved=resolved),
                      replace(SETTINGS, multiple_related_records=True), creating=True)  # fmt: skip
    assert on.relations.extra_what_ids == ("001OTHER",)
    assert fields_of(item, people=replace(PEOPLE, resolved=resolved)).relations.extra_what_ids == ()


# per field, which side changed since the last sync, and who wins when both did.
G = {SUBJECT: "Neu", LOCATION: "Bern"}
OLD = {SUBJECT: digest("Alt"), LOCATION: digest("Bern")}
T1, T2 = datetime(2025, 3, 20, 10, tzinfo=UTC), datetime(2025, 3, 20, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("google", "sf", "g_time", "s_time", "up", "down", "winner"),
    [
        pytest.param(G, None, T1, None, (SUBJECT,), (), None, id="R-26 Google change goes up"),
        pytest.param({SUBJECT: "Alt", LOCATION: "Bern"}, {SUBJECT: "Alt", LOCATION: "Genf"}, T1, T2, (), (LOCATION,), None, id="R-22 SF change goes down"),
        pytest.param({SUBJECT: "Alt", LOCATION: "Bern"}, {SUBJECT: "Alt", LOCATION: "Bern"}, T1, T2, (), (), None, id="R-26 own echo is no change"),
        pytest.param(G, {SUBJECT: "SF", LOCATION: "Bern"}, T2, T1, (SUBJECT,), (), "google", id="R-26 both changed: later Google wins"),
        pytest.param(G, {SUBJECT: "SF", LOCATION: "Bern"}, T1, T2, (), (SUBJECT,), "salesforce", id="R-26 both changed: later Salesforce wins"),
        pytest.param(G, {SUBJECT: "Neu", LOCATION: "Bern"}, T1, T2, (), (), None, id="R-26 same change on both sides"),
    ],
)  # fmt: skip
def test_merge(google, sf, g_time, s_time, up, down, winner):
    result = merge((SUBJECT, LOCATION), google, OLD, sf, OLD, g_time, s_time)
    assert (result.up, result.down) == (up, down)
    assert [c.winner for c in result.conflicts] == ([winner] if winner else [])


def test_google_patch_round_trip():
    """R-22: SF subject, time, location, privacy and show-as become a Google patch; applying it
    gives a copy whose values equal Salesforce's (so the next session sees no change, R-26)."""
    item = meeting()
    state = SfEventState("00UE", ANN.sf_user_id, subject="Neuer Termin ✓", start_utc=at(3), end_utc=at(3) + timedelta(hours=2),
                         location="Genf", is_private=True, show_as="Free", last_modified=at(0))  # fmt: skip
    names = (SUBJECT, WHEN, LOCATION, "private", "show_as")
    patch = google_patch(item, state, names)
    assert patch.send_updates == "none"
    after = apply_google_patch(item, patch)
    assert after.visibility is Visibility.PRIVATE and after.transparency is Transparency.TRANSPARENT
    mine = google_values(after, after.span, replace(SETTINGS, private_items="private_unlinked"))
    theirs = sf_values(state)
    assert {n: mine[n] for n in names} == {n: theirs[n] for n in names}


def test_all_day_round_trip():
    item = meeting(span=all_day(date(2025, 4, 1), 3))
    f = fields_of(item)
    state = SfEventState("00UE", ANN.sf_user_id, subject=f.subject, start_utc=f.start_utc, is_all_day=True,
                         activity_date=f.activity_date, duration_minutes=f.duration_minutes)  # fmt: skip
    assert (
        sf_values(state)[WHEN]
        == fields_values(f)[WHEN]
        == google_values(item, item.span, SETTINGS)[WHEN]
    )
    back = apply_google_patch(item, google_patch(item, state, (WHEN,)))
    assert back.span == item.span
