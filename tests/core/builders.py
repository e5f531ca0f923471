"""Small builders of core value objects for the table-driven tests (unicode on purpose)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from core.model import (
    Attendee,
    Item,
    People,
    Person,
    PersonKind,
    ResolvedPerson,
    Response,
    SessionUser,
    Span,
)
from core.settings import Settings

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
CORP = "corp.example"
ANN = SessionUser("ann@corp.example", "005ANN000000001")
BOB = SessionUser("bob@corp.example", "005BOB000000002")  # another enabled user
CAROL = "carol@corp.example"  # an SF user who does not use calsync
EXT = "jürgen@kunde.example"  # a Contact
LEAD = "zoë@prospect.example"  # a Lead
UNKNOWN = "nobody@elsewhere.example"  # unresolved
GROUP_CAL = "sales-team@group.calendar.google.com"

PEOPLE = People(
    resolved={
        EXT: ResolvedPerson(
            EXT, PersonKind.CONTACT, "003JUERGEN00001", "001KUNDE0000001", "Jürgen Groß"
        ),
        "maría@kunde.example": ResolvedPerson(
            "maría@kunde.example", PersonKind.CONTACT, "003MARIA0000002", "001KUNDE0000001", "María"
        ),
        LEAD: ResolvedPerson(LEAD, PersonKind.LEAD, "00QZOE000000001", "", "Zoë"),
        ANN.email: ResolvedPerson(ANN.email, PersonKind.USER, ANN.sf_user_id),
        BOB.email: ResolvedPerson(BOB.email, PersonKind.USER, BOB.sf_user_id),
        CAROL: ResolvedPerson(CAROL, PersonKind.USER, "005CAROL0000003"),
    },
    enabled_users={ANN.email: ANN.sf_user_id, BOB.email: BOB.sf_user_id},
    accounts_by_domain={"kunde.example": "001KUNDE0000001"},
)

SETTINGS = Settings(internal_domains=(CORP,))
AUTOSAVE = replace(SETTINGS, autosave_meetings=True, autosave_appointments=True)


def at(days: float = 1, hours: float = 10) -> datetime:
    return (NOW.replace(hour=0) + timedelta(days=days, hours=hours)).astimezone(UTC)


def timed(start: datetime, minutes: float = 60, zone: str = "Europe/Berlin") -> Span:
    return Span.timed(start, start + timedelta(minutes=minutes), zone)


def all_day(first: date, days: int) -> Span:
    return Span.all_day(first, first + timedelta(days=days))


def attendee(email: str, response: Response = Response.ACCEPTED, **kw: object) -> Attendee:
    return Attendee(email=email, response=response, **kw)  # type: ignore[arg-type]


def meeting(
    organizer: str = ANN.email,
    others: tuple[str, ...] = (EXT,),
    me: Response = Response.ACCEPTED,
    user: SessionUser = ANN,
    **kw: object,
) -> Item:
    """A meeting in `user`'s calendar organised by `organizer` with `others` invited."""
    mine = organizer == user.email
    people = [Attendee(user.email, response=me, is_self=True, is_organizer=mine)]
    for email in others:
        people.append(Attendee(email, response=Response.ACCEPTED, is_organizer=email == organizer))
    if not mine and organizer not in others:
        people.append(Attendee(organizer, response=Response.ACCEPTED, is_organizer=True))
    base = dict(
        id="ev1",
        calendar_id=user.email,
        ical_uid="uid-1@google.com",
        span=timed(at(1)),
        title="Quartalsgespräch 📈",
        organizer=Person(organizer, is_self=mine),
        attendees=tuple(people),
        updated=NOW - timedelta(hours=1),
    )
    base.update(kw)
    return Item(**base)  # type: ignore[arg-type]


def appointment(user: SessionUser = ANN, **kw: object) -> Item:
    base = dict(
        id="ap1",
        calendar_id=user.email,
        ical_uid="uid-ap@google.com",
        span=timed(at(1)),
        title="Angebot schreiben ✍",
        organizer=Person(user.email, is_self=True),
        updated=NOW - timedelta(hours=1),
    )
    base.update(kw)
    return Item(**base)  # type: ignore[arg-type]


def tagged(item: Item, color: str = "9") -> Item:
    return replace(item, color_id=color)
