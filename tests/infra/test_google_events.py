"""infra/google_events.py: Google's event JSON → Item, and the patch bodies calsync sends.

Pure tables, no I/O: each case is the JSON Google (or a broken client) could send and the
value the core must see.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from core.fields import EventTime, GooglePatch
from core.labels import LabelPatch
from core.model import (
    Attachment,
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
from infra.google_events import (
    EventParseError,
    event_time_body,
    label_body,
    parse_event,
    patch_body,
    unusable,
)

CAL = "alice@example.com"
PARIS = ZoneInfo("Europe/Paris")


def ev(**fields) -> dict:
    """A minimal timed event with these fields on top."""
    base = {
        "id": "evt00001",
        "iCalUID": "evt00001@google.com",
        "start": {"dateTime": "2030-01-02T10:00:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2030-01-02T11:00:00+01:00", "timeZone": "Europe/Paris"},
    }
    base.update(fields)
    return base


# --- times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "span"),
    [
        pytest.param(
            {"dateTime": "2030-01-02T10:00:00+01:00", "timeZone": "Europe/Paris"},
            {"dateTime": "2030-01-02T11:00:00+01:00", "timeZone": "Europe/Paris"},
            Span.timed(
                datetime(2030, 1, 2, 9, tzinfo=UTC),
                datetime(2030, 1, 2, 10, tzinfo=UTC),
                "Europe/Paris",
            ),
            id="timed with offset and zone name",
        ),
        pytest.param(
            {"dateTime": "2030-01-02T10:00:00Z"},
            {"dateTime": "2030-01-02T10:30:00.000Z"},
            Span.timed(
                datetime(2030, 1, 2, 10, tzinfo=UTC), datetime(2030, 1, 2, 10, 30, tzinfo=UTC)
            ),
            id="timed in UTC, no zone name",
        ),
        pytest.param(
            {"dateTime": "2030-07-02T10:00:00", "timeZone": "Europe/Paris"},
            {"dateTime": "2030-07-02T11:00:00", "timeZone": "Europe/Paris"},
            Span.timed(
                datetime(2030, 7, 2, 10, tzinfo=PARIS),
                datetime(2030, 7, 2, 11, tzinfo=PARIS),
                "Europe/Paris",
            ),
            id="no offset: read in the zone (summer time)",
        ),
        pytest.param(
            {"dateTime": "2030-01-02T10:00:00", "timeZone": "Mars/Olympus"},
            {"dateTime": "2030-01-02T11:00:00", "timeZone": "Mars/Olympus"},
            Span.timed(
                datetime(2030, 1, 2, 10, tzinfo=UTC),
                datetime(2030, 1, 2, 11, tzinfo=UTC),
                "Mars/Olympus",
            ),
            id="R-09 unknown zone kept as text for the core; times read in UTC",
        ),
        pytest.param(
            {"date": "2030-01-02"},
            {"date": "2030-01-05"},
            Span.all_day(date(2030, 1, 2), date(2030, 1, 5)),
            id="all-day, end exclusive",
        ),
        pytest.param(
            {"date": "2030-01-02", "timeZone": "Europe/Paris"},
            {"date": "2030-01-03"},
            Span.all_day(date(2030, 1, 2), date(2030, 1, 3), "Europe/Paris"),
            id="all-day with the series zone",
        ),
        pytest.param(
            {"date": "2030-01-02", "dateTime": "2030-01-02T10:00:00Z"},
            {"date": "2030-01-02", "dateTime": "2030-01-02T11:00:00Z"},
            Span.timed(datetime(2030, 1, 2, 10, tzinfo=UTC), datetime(2030, 1, 2, 11, tzinfo=UTC)),
            id="both kinds: dateTime wins",
        ),
    ],
)
def test_times(start, end, span):
    item = parse_event(ev(start=start, end=end), CAL)
    assert item.span == span
    if span.start is not None:
        assert item.span.start.utcoffset() is not None


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(None, None, id="missing"),
        pytest.param({"date": "2030-01-02"}, {"dateTime": "2030-01-02T11:00:00Z"}, id="mixed"),
        pytest.param({"dateTime": "tomorrow"}, {"dateTime": "2030-01-02T11:00:00Z"}, id="garbage"),
        pytest.param({"date": "2030-02-30"}, {"date": "2030-03-01"}, id="no such day"),
        pytest.param("2030-01-02", "2030-01-03", id="strings, not objects"),
        pytest.param({"dateTime": 1893456000}, {"dateTime": 1893459600}, id="numbers"),
    ],
)
def test_unreadable_times_give_no_span_and_the_item_is_not_usable(start, end):
    item = parse_event(ev(start=start, end=end), CAL)
    assert item.span is None
    assert unusable(item) == "its start or end cannot be read"


def test_cancelled_tombstone_has_only_its_id():
    item = parse_event({"id": "gone00001", "status": "cancelled"}, CAL)
    assert item == Item(id="gone00001", calendar_id=CAL, status=ItemStatus.CANCELLED)
    assert item.span is None and unusable(item) == ""
    assert item.key.ical_uid == "gone00001"


@pytest.mark.parametrize(
    "start, end",
    [
        pytest.param(
            "9999-12-31T23:00:00-05:00", "9999-12-31T23:30:00-05:00", id="year 9999, west"
        ),
        pytest.param("0001-01-01T00:30:00+05:00", "0001-01-01T01:00:00+05:00", id="year 1, east"),
    ],
)
def test_H3_times_that_cannot_become_utc_make_the_item_unusable(start, end):
    """Audit H3: a start that overflows when converted to UTC marks the item, it does not
    raise later in the session (the planner fails that item alone with CS-015)."""
    item = parse_event(ev(start={"dateTime": start}, end={"dateTime": end}), CAL)
    assert unusable(item) == "its times are out of range"


# --- recurrence -----------------------------------------------------------------------------


def test_series_master():
    rules = ["RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE;TZID=Europe/Paris:20300114T100000"]
    item = parse_event(ev(recurrence=rules), CAL)
    assert item.recurrence == tuple(rules)
    assert item.is_series and not item.is_instance


@pytest.mark.parametrize(
    ("original", "expected", "text"),
    [
        pytest.param(
            {"dateTime": "2030-01-09T10:00:00+01:00", "timeZone": "Europe/Paris"},
            datetime(2030, 1, 9, 9, tzinfo=UTC),
            "20300109T090000Z",
            id="timed instance",
        ),
        pytest.param(
            {"dateTime": "2030-01-09T10:00:00", "timeZone": "Europe/Paris"},
            datetime(2030, 1, 9, 10, tzinfo=PARIS),
            "20300109T090000Z",
            id="timed instance without offset",
        ),
        pytest.param({"date": "2030-01-09"}, date(2030, 1, 9), "20300109", id="all-day instance"),
        pytest.param({"dateTime": "garbage"}, None, "", id="garbage"),
    ],
)
def test_instance_of_a_series(original, expected, text):
    item = parse_event(
        ev(id="series01_20300109T090000Z", recurringEventId="series01", originalStartTime=original),
        CAL,
    )
    assert item.recurring_event_id == "series01" and item.is_instance
    assert item.original_start == expected
    assert item.key.instance == text


def test_cancelled_exception_keeps_its_series_and_original_start():
    data = {
        "id": "series01_20300109T090000Z",
        "status": "cancelled",
        "recurringEventId": "series01",
        "originalStartTime": {"dateTime": "2030-01-09T10:00:00+01:00"},
    }
    item = parse_event(data, CAL)
    assert item.status is ItemStatus.CANCELLED and item.span is None
    assert item.original_start == datetime(2030, 1, 9, 9, tzinfo=UTC)
    assert item.series_key.ical_uid == "series01"


# --- people ---------------------------------------------------------------------------------


def test_attendees_organizer_and_creator():
    data = ev(
        organizer={"email": "alice@example.com", "displayName": "Alice", "self": True},
        creator={"email": "assistant@example.com"},
        attendees=[
            {"email": "alice@example.com", "organizer": True, "self": True,
             "responseStatus": "accepted"},
            {"email": "bob@ext.test", "displayName": "Bob", "responseStatus": "tentative",
             "optional": True},
            {"email": "room-1@resource.calendar.google.com", "resource": True,
             "responseStatus": "accepted"},
            {"email": "carol@ext.test", "responseStatus": "declined"},
            {"email": "dan@ext.test"},
        ],
    )  # fmt: skip
    item = parse_event(data, CAL)
    assert item.organizer == Person("alice@example.com", "Alice", True)
    assert item.creator == Person("assistant@example.com")
    assert item.attendees == (
        Attendee("alice@example.com", "", Response.ACCEPTED, is_self=True, is_organizer=True),
        Attendee("bob@ext.test", "Bob", Response.TENTATIVE, optional=True),
        Attendee("room-1@resource.calendar.google.com", "", Response.ACCEPTED, is_resource=True),
        Attendee("carol@ext.test", "", Response.DECLINED),
        Attendee("dan@ext.test", "", Response.NEEDS_ACTION),
    )
    assert item.self_attendee() == item.attendees[0]


@pytest.mark.parametrize(
    ("attendees", "expected"),
    [
        pytest.param("everyone", (), id="not a list"),
        pytest.param([None, 3, "x@y.z", {}], (), id="entries of the wrong type"),
        pytest.param([{"displayName": "No mail"}], (), id="no email: nobody to link"),
        pytest.param(
            [{"email": "a@b.c", "responseStatus": "maybe", "self": "yes", "organizer": 1}],
            (Attendee("a@b.c", "", Response.NEEDS_ACTION),),
            id="unknown answer counts as none; non-boolean flags are false",
        ),
        pytest.param(
            [{"email": "a@b.c", "self": "true"}],
            (Attendee("a@b.c", is_self=True),),
            id="flag as the string true",
        ),
    ],
)
def test_bad_attendees(attendees, expected):
    assert parse_event(ev(attendees=attendees), CAL).attendees == expected


@pytest.mark.parametrize(
    "organizer", [None, "alice@example.com", {"displayName": "x"}, {"email": 5}, []]
)
def test_bad_organizer_is_none(organizer):
    assert parse_event(ev(organizer=organizer), CAL).organizer is None


# --- enums ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "attr", "expected"),
    [
        pytest.param({}, "visibility", Visibility.DEFAULT, id="visibility default"),
        pytest.param({"visibility": "public"}, "visibility", Visibility.PUBLIC, id="public"),
        pytest.param({"visibility": "private"}, "visibility", Visibility.PRIVATE, id="private"),
        pytest.param(
            {"visibility": "confidential"}, "visibility", Visibility.CONFIDENTIAL, id="confidential"
        ),
        pytest.param(
            {"visibility": "secret"}, "visibility", Visibility.PRIVATE,
            id="R-06 unknown visibility counts as private",
        ),
        pytest.param({"visibility": 3}, "visibility", Visibility.PRIVATE, id="visibility number"),
        pytest.param({}, "transparency", Transparency.OPAQUE, id="transparency default"),
        pytest.param(
            {"transparency": "transparent"}, "transparency", Transparency.TRANSPARENT, id="free"
        ),
        pytest.param({"transparency": "fuzzy"}, "transparency", Transparency.OPAQUE, id="unknown"),
        pytest.param({}, "event_type", EventType.DEFAULT, id="eventType default"),
        pytest.param(
            {"eventType": "outOfOffice"}, "event_type", EventType.OUT_OF_OFFICE, id="outOfOffice"
        ),
        pytest.param(
            {"eventType": "focusTime"}, "event_type", EventType.FOCUS_TIME, id="focusTime"
        ),
        pytest.param(
            {"eventType": "workingLocation"}, "event_type", EventType.WORKING_LOCATION, id="wl"
        ),
        pytest.param({"eventType": "birthday"}, "event_type", EventType.BIRTHDAY, id="birthday"),
        pytest.param({"eventType": "fromGmail"}, "event_type", EventType.FROM_GMAIL, id="gmail"),
        pytest.param(
            {"eventType": "appointmentSchedule"}, "event_type", EventType.DEFAULT, id="new type"
        ),
        pytest.param({}, "status", ItemStatus.CONFIRMED, id="status default"),
        pytest.param({"status": "tentative"}, "status", ItemStatus.TENTATIVE, id="tentative"),
        pytest.param({"status": "cancelled"}, "status", ItemStatus.CANCELLED, id="cancelled"),
        pytest.param({"status": "zombie"}, "status", ItemStatus.CONFIRMED, id="unknown status"),
        pytest.param({"status": None}, "status", ItemStatus.CONFIRMED, id="null status"),
    ],
)  # fmt: skip
def test_enums_and_their_defaults(fields, attr, expected):
    assert getattr(parse_event(ev(**fields), CAL), attr) is expected


# --- labels and other per-copy fields -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("9", "9", id="string"),
        pytest.param(11, "11", id="number"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="null"),
        pytest.param(True, None, id="boolean"),
        pytest.param(["9"], None, id="list"),
    ],
)
def test_color(value, expected):
    assert parse_event(ev(colorId=value), CAL).color_id == expected


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        pytest.param(
            {"private": {"calsync_status": "ok", "a": "1"}, "shared": {"x": "y"}},
            (("a", "1"), ("calsync_status", "ok")),
            id="private only, sorted",
        ),
        pytest.param({"shared": {"x": "y"}}, (), id="shared only"),
        pytest.param({"private": {"n": 5, "z": None}}, (("n", "5"),), id="values made text"),
        pytest.param({"private": "calsync"}, (), id="private not an object"),
        pytest.param("garbage", (), id="not an object"),
    ],
)
def test_private_properties(props, expected):
    assert parse_event(ev(extendedProperties=props), CAL).private_props == expected


def test_text_fields_updated_sequence_attachments():
    data = ev(
        summary="Quarterly review",
        location="Room 1",
        description="<b>Agenda</b>",
        updated="2030-01-01T08:00:00.123Z",
        sequence=3,
        attachments=[
            {"fileUrl": "https://drive.google.com/open?id=F1", "fileId": "F1", "title": "Deck",
             "mimeType": "application/pdf", "iconLink": "https://x"},
            {"title": "no file"},
            "junk",
        ],
    )  # fmt: skip
    item = parse_event(data, CAL)
    assert (item.title, item.location, item.description) == (
        "Quarterly review",
        "Room 1",
        "<b>Agenda</b>",
    )
    assert item.updated == datetime(2030, 1, 1, 8, 0, 0, 123000, tzinfo=UTC)
    assert item.sequence == 3
    assert item.attachments == (
        Attachment("F1", "https://drive.google.com/open?id=F1", "Deck", "application/pdf"),
    )
    assert item.calendar_id == CAL and item.ical_uid == "evt00001@google.com"


@pytest.mark.parametrize(
    ("fields", "attr", "expected"),
    [
        pytest.param({"summary": 42}, "title", "", id="title not text"),
        pytest.param({"summary": None}, "title", "", id="title null"),
        pytest.param({"iCalUID": ["x"]}, "ical_uid", "", id="iCalUID not text"),
        pytest.param({"sequence": "7"}, "sequence", 7, id="sequence as text"),
        pytest.param({"sequence": "seven"}, "sequence", 0, id="sequence garbage"),
        pytest.param({"sequence": True}, "sequence", 0, id="sequence boolean"),
        pytest.param({"updated": "yesterday"}, "updated", None, id="updated garbage"),
        pytest.param({"updated": 1893456000}, "updated", None, id="updated number"),
        pytest.param({"recurrence": "RRULE:FREQ=DAILY"}, "recurrence", (), id="rules not a list"),
        pytest.param(
            {"recurrence": ["RRULE:FREQ=DAILY", 5, None]},
            "recurrence",
            ("RRULE:FREQ=DAILY",),
            id="non-text rules dropped",
        ),
        pytest.param({"attachments": {"fileUrl": "x"}}, "attachments", (), id="attachments obj"),
        pytest.param({"recurringEventId": 12}, "recurring_event_id", "", id="series id number"),
    ],
)
def test_wrong_types_fall_back(fields, attr, expected):
    assert getattr(parse_event(ev(**fields), CAL), attr) == expected


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(None, id="null"),
        pytest.param("evt00001", id="a string"),
        pytest.param(["id", "evt00001"], id="a list"),
        pytest.param({}, id="empty object"),
        pytest.param({"id": ""}, id="empty id"),
        pytest.param({"id": 12345}, id="numeric id"),
        pytest.param({"summary": "no id"}, id="no id"),
    ],
)
def test_not_an_event_at_all_is_a_parse_error(data):
    with pytest.raises(EventParseError):
        parse_event(data, CAL)


def test_unknown_fields_are_ignored():
    data = ev(eventLabelId="lbl1", conferenceData={"entryPoints": []}, hangoutLink="https://x")
    assert parse_event(data, CAL) == parse_event(ev(), CAL)


# --- request bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "body"),
    [
        pytest.param(
            LabelPatch(CAL, "e1", True, "9", (("calsync_status", "ok"),), ("calsync_issue",)),
            {
                "colorId": "9",
                "extendedProperties": {"private": {"calsync_status": "ok", "calsync_issue": None}},
            },
            id="R-03 colour, set and removed properties",
        ),
        pytest.param(
            LabelPatch(CAL, "e1", True, None, (), ()),
            {"colorId": None},
            id="R-02 colour back to the default",
        ),
        pytest.param(
            LabelPatch(CAL, "e1", False, "9", (("k", "v"),), ()),
            {"extendedProperties": {"private": {"k": "v"}}},
            id="properties only: the colour is left alone",
        ),
        pytest.param(LabelPatch(CAL, "e1", False, None, (), ()), {}, id="empty"),
    ],
)
def test_label_body(patch, body):
    assert label_body(patch) == body


def test_patch_body_sends_only_what_is_set():
    start = datetime(2030, 1, 2, 9, tzinfo=UTC)
    patch = GooglePatch(
        CAL,
        "e1",
        summary="",
        visibility=Visibility.PRIVATE,
        transparency=Transparency.TRANSPARENT,
        start=EventTime(date_time=start, time_zone="Europe/Paris"),
        end=EventTime(date_time=start + timedelta(hours=1), time_zone="Europe/Paris"),
    )
    assert patch_body(patch) == {
        "summary": "",
        "visibility": "private",
        "transparency": "transparent",
        "start": {"dateTime": "2030-01-02T09:00:00+00:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2030-01-02T10:00:00+00:00", "timeZone": "Europe/Paris"},
    }
    assert patch_body(GooglePatch(CAL, "e1")) == {}


@pytest.mark.parametrize(
    ("when", "body"),
    [
        pytest.param(EventTime(date=date(2030, 1, 2)), {"date": "2030-01-02"}, id="all-day"),
        pytest.param(
            EventTime(date_time=datetime(2030, 1, 2, 9)),
            {"dateTime": "2030-01-02T09:00:00+00:00"},
            id="naive time read as UTC",
        ),
        pytest.param(
            EventTime(date_time=datetime(2030, 1, 2, 9, tzinfo=timezone(timedelta(hours=2)))),
            {"dateTime": "2030-01-02T09:00:00+02:00"},
            id="offset kept",
        ),
    ],
)
def test_event_time_body(when, body):
    assert event_time_body(when) == body


def test_event_time_body_needs_a_value():
    with pytest.raises(ValueError):
        event_time_body(EventTime())
