"""The decision for one item and one user (R-01..R-12, R-18, R-19): save, update, delete, wait,
skip (with the reason) or fail (with the issue code).

The rules are a table of named checks evaluated in order; the first that answers decides. Each
answer carries its rule id, so the dry run, the labels, the issues and the logs all print the
same reason (STYLE).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from core import labels, recurrence
from core.model import (
    NOT_MEETING_TYPES,
    Item,
    ItemStatus,
    Mapping,
    People,
    PersonKind,
    Response,
    Role,
    SessionUser,
)
from core.settings import Settings

MAX_DAYS = timedelta(days=14)  # Salesforce's multiday limit (API-FACTS B1)
GROUP_MAX = timedelta(hours=24)


class Verdict(Enum):
    SAVE = "save"  # create the SF Event (owner in the decision)
    UPDATE = "update"  # the item is saved: carry its changes
    DELETE = "delete"  # delete the SF Event calsync made of it (R-18 organiser cancel)
    UNSYNC = "unsync"  # delete this user's SF Event(s) and take the labels off
    JOIN = "join"  # the organiser saved it; the user is an invitee on their SF Event
    WAIT = "wait"  # pending issue, no error label
    SKIP = "skip"  # quietly left alone
    FAIL = "fail"  # issue + error label


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    rule: str
    reason: str
    issue_code: str = ""
    owner_sf_id: str = ""
    manual: bool = False

    def __str__(self) -> str:
        code = f" {self.issue_code}" if self.issue_code else ""
        return f"{self.verdict.value} [{self.rule}{code}] {self.reason}"


@dataclass(frozen=True)
class Context:
    """Everything besides the item that the decision depends on."""

    user: SessionUser
    settings: Settings
    now: datetime
    people: People
    mapping: Mapping | None = None  # this user's mapping of the item
    organizer_mapping: Mapping | None = None  # the organiser's own mapping, if any
    backfill: bool = False  # the autosave rules without the sliding window


# ---------------------------------------------------------------------------------------------
# Facts about an item, named so that the rules below read like the spec.


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def is_internal(email: str, ctx: Context) -> bool:
    """docs/rules.md, terms: on one of the org's domains, or the address of a Salesforce User."""
    person = ctx.people.get(email)
    return _domain(email) in ctx.settings.internal_domains or (
        person is not None and person.kind is PersonKind.USER
    )


def organizer_email(item: Item) -> str:
    if item.organizer is not None:
        return item.organizer.email.lower()
    flagged = next((a for a in item.attendees if a.is_organizer), None)
    return flagged.email.lower() if flagged else ""


def user_organises(item: Item, ctx: Context) -> bool:
    """The user (or, for a group calendar, the calendar itself) organises the item; an item
    without an organiser or without other people is the user's own appointment."""
    if item.calendar_id in ctx.settings.group_calendars:
        return True
    if item.organizer is not None and item.organizer.is_self:
        return True
    email = organizer_email(item)
    return not email or email == ctx.user.email.lower() or not item.is_meeting


def participants(item: Item) -> list[str]:
    """Everyone on the item but rooms: organiser and attendees, lower-case, in order."""
    emails = [organizer_email(item)] + [
        a.email.lower() for a in item.attendees if not a.is_resource
    ]
    return [e for e in dict.fromkeys(emails) if e]


def others(item: Item, ctx: Context) -> list[str]:
    me = ctx.user.email.lower()
    self_emails = {a.email.lower() for a in item.attendees if a.is_self}
    return [e for e in participants(item) if e != me and e not in self_emails]


def self_response(item: Item, ctx: Context) -> Response:
    if user_organises(item, ctx):
        return Response.ACCEPTED
    me = item.self_attendee()
    return me.response if me is not None else Response.NEEDS_ACTION


def in_window(item: Item, ctx: Context) -> bool:
    """R-05: the item starts within the sliding window (Settings.window), both ends included;
    a series is in the window when one of its instances starts in it."""
    assert item.span is not None
    lo, hi = ctx.settings.window(ctx.now)
    if item.is_series:
        return recurrence.starts_between(item.recurrence, item.span, lo, hi)
    if item.span.start_date is not None:
        return lo.date() <= item.span.start_date <= hi.date()
    return lo <= item.span.start_utc <= hi


def blocklisted(item: Item, ctx: Context) -> str:
    """R-06: which blocklist entry the item matches ("" for none)."""
    s = ctx.settings
    for email in others(item, ctx):
        if email in s.blocklist_addresses or _domain(email) in s.blocklist_addresses:
            return f"address {email}"
        if _domain(email) in s.blocklist_domains:
            return f"domain {_domain(email)}"
    title = item.title.casefold()
    for word in s.blocklist_keywords:
        if word and word.casefold() in title:
            return f"keyword {word!r}"
    return ""


def resolved_others(item: Item, ctx: Context) -> list[str]:
    return [e for e in others(item, ctx) if ctx.people.get(e) is not None]


def enabled_organizer(item: Item, ctx: Context) -> str:
    """R-11: the organiser's email when another enabled calsync user organises it, else ""."""
    email = organizer_email(item)
    if email and email != ctx.user.email.lower() and email in ctx.people.enabled_users:
        return email
    return ""


# ---------------------------------------------------------------------------------------------
# The rules, in order. Each returns a Decision, or None to let the next rule decide.

RuleCheck = Callable[[Item, Context, bool], Decision | None]


@dataclass(frozen=True)
class Rule:
    rule: str
    name: str
    check: RuleCheck


def _owned(ctx: Context) -> bool:
    return ctx.mapping is not None and ctx.mapping.role is Role.OWNER


def _cancelled(item: Item, ctx: Context, manual: bool) -> Decision | None:
    if item.status is not ItemStatus.CANCELLED:
        return None
    if _owned(ctx):
        return Decision(Verdict.DELETE, "R-18", "the organiser cancelled the item", manual=manual)
    return Decision(Verdict.SKIP, "R-18", "cancelled, nothing saved")


def _unsync_tag(item: Item, ctx: Context, manual: bool) -> Decision | None:
    if labels.wants_unsync(item, ctx.settings):
        return Decision(Verdict.UNSYNC, "R-18", "the user gave the unsync colour")
    if _owned(ctx) and ctx.mapping is not None and ctx.mapping.pending_delete and not manual \
            and labels.was_unsynced(item):  # fmt: skip
        # Salesforce refused the delete earlier; the error label kept the wish (core/outcome).
        return Decision(Verdict.UNSYNC, "R-18", "the user unsynced it; the delete is tried again")
    return None


def _unsynced_before(item: Item, ctx: Context, manual: bool) -> Decision | None:
    if labels.was_unsynced(item) and not manual and not _owned(ctx):
        return Decision(Verdict.SKIP, "R-18", "unsynced by the user; autosave leaves it alone")
    return None


def _wanted(item: Item, ctx: Context, manual: bool) -> Decision | None:
    """R-04/R-05: a manual save or a saved item goes on; otherwise autosave must cover it."""
    if manual or ctx.mapping is not None:
        return None
    s = ctx.settings
    if item.is_meeting and not s.autosave_meetings:
        return Decision(Verdict.SKIP, "R-05", "not tagged, and meeting autosave is off")
    if not item.is_meeting and not s.autosave_appointments:
        return Decision(Verdict.SKIP, "R-05", "not tagged, and appointment autosave is off")
    return None


def _autosave_only(
    rule: str, test: Callable[[Item, Context], str]
) -> RuleCheck:  # R-06 filters skip quietly, and never apply to manual saves
    def check(item: Item, ctx: Context, manual: bool) -> Decision | None:
        if manual or ctx.mapping is not None:
            return None
        reason = test(item, ctx)
        return Decision(Verdict.SKIP, rule, reason) if reason else None

    return check


def _not_answered(item: Item, ctx: Context) -> str:
    response = self_response(item, ctx)
    if response in (Response.ACCEPTED, Response.TENTATIVE):
        return ""
    return f"invitation {'declined' if response is Response.DECLINED else 'not answered'}"


def _outside_window(item: Item, ctx: Context) -> str:
    if ctx.backfill:
        return ""  # a backfill saves older items by the other autosave rules
    return "" if in_window(item, ctx) else "outside the sliding window"


def _not_meeting_type(item: Item, ctx: Context) -> str:
    return f"event type {item.event_type.value}" if item.event_type in NOT_MEETING_TYPES else ""


def _private(item: Item, ctx: Context) -> str:
    return f"private item ({item.visibility.value})" if item.is_private else ""


def _internal(item: Item, ctx: Context) -> str:
    if not item.is_meeting or ctx.settings.save_internal_meetings:
        return ""
    everyone = others(item, ctx)
    return "internal meeting" if all(is_internal(e, ctx) for e in everyone) else ""


def _blocklist(item: Item, ctx: Context) -> str:
    hit = blocklisted(item, ctx)
    return f"blocklisted ({hit})" if hit else ""


def _non_linked(item: Item, ctx: Context) -> str:
    # Appointments have nobody to resolve; autosave_appointments would mean nothing if this
    # applied to them, so "non-linked" is a meeting whose people all stay unresolved.
    if item.is_meeting and not resolved_others(item, ctx):
        return "non-linked: nobody on the item is known in Salesforce"
    return ""


def _declined_manual(item: Item, ctx: Context, manual: bool) -> Decision | None:
    if ctx.mapping is not None or ctx.settings.sync_unanswered_and_declined:
        return None
    if self_response(item, ctx) in (Response.DECLINED, Response.NEEDS_ACTION):
        return Decision(
            Verdict.FAIL,
            "R-08",
            "Meeting for attendees cannot be synchronized until the organizer synchronizes it",
            "ISE-013",
            manual=manual,
        )
    return None


def _fail(rule: str, code: str, reason: str, manual: bool) -> Decision:
    return Decision(Verdict.FAIL, rule, reason, code, manual=manual)


def _unknown_zone(item: Item, ctx: Context, manual: bool) -> Decision | None:
    assert item.span is not None
    if recurrence.zone_of(item.span.time_zone) is None:
        return _fail("R-09", "CS-006", f"unknown time zone {item.span.time_zone!r}", manual)
    return None


def _recurring_off(item: Item, ctx: Context, manual: bool) -> Decision | None:
    if not item.is_series or ctx.settings.recurring_enabled:
        return None
    if not manual and ctx.mapping is None:
        # Autosave: the admin chose not to sync series; an error label on every series would be noise.
        return Decision(Verdict.SKIP, "R-09", "recurring items are off in this org")
    return _fail("R-09", "CS-007", "recurring items are not synchronised in this org", manual)


def _too_long(item: Item, ctx: Context, manual: bool) -> Decision | None:
    span = item.span
    assert span is not None
    if item.is_series and recurrence.instance_too_long(span):
        return _fail(
            "R-09", "CS-005", "the instances of this series last more than 24 hours", manual
        )
    if span.duration > MAX_DAYS:
        if span.is_all_day:
            return _fail("R-09", "CS-003", "all-day item longer than 14 days", manual)
        return _fail("R-09", "CS-004", "item longer than 14 days", manual)
    return None


def _group_too_long(item: Item, ctx: Context, manual: bool) -> Decision | None:
    assert item.span is not None
    if item.calendar_id in ctx.settings.group_calendars and item.span.duration > GROUP_MAX:
        return _fail("R-19", "CS-008", "group calendar event longer than 24 hours", manual)
    return None


def _unresolved(item: Item, ctx: Context, manual: bool) -> Decision | None:
    if ctx.mapping is not None or not item.is_meeting or resolved_others(item, ctx):
        return None
    if item.props.get(labels.P_WHO):
        return None  # the rep chose the Name in the sidebar; the item links to them
    if ctx.settings.auto_create_unresolved != "off":
        return None  # the plan creates the missing records with the SF Event
    return _fail("R-07", "CS-002", "no attendee is known in Salesforce yet", manual)


def _saved(item: Item, ctx: Context, manual: bool) -> Decision | None:
    if _owned(ctx):
        assert ctx.mapping is not None
        return Decision(Verdict.UPDATE, "R-15", "saved: carry changes",
                        owner_sf_id=ctx.mapping.owner_sf_id, manual=manual)  # fmt: skip
    return None


def _organised_by_user(item: Item, ctx: Context, manual: bool) -> Decision | None:
    if user_organises(item, ctx):
        return Decision(Verdict.SAVE, "R-10", "the user organises it",
                        owner_sf_id=ctx.user.sf_user_id, manual=manual)  # fmt: skip
    return None


def _organised_by_enabled_user(item: Item, ctx: Context, manual: bool) -> Decision | None:
    organiser = enabled_organizer(item, ctx)
    if not organiser:
        return None
    if ctx.organizer_mapping is not None and ctx.organizer_mapping.role is Role.OWNER:
        return Decision(Verdict.JOIN, "R-11", "the organiser saved it; the user is an invitee",
                        owner_sf_id=ctx.organizer_mapping.owner_sf_id, manual=manual)  # fmt: skip
    return Decision(Verdict.WAIT, "R-11", "Waiting for the organizer to synchronize the event",
                    "CS-001", manual=manual)  # fmt: skip


def _organised_by_external(item: Item, ctx: Context, manual: bool) -> Decision | None:
    # an external organiser (or an internal one who does not use calsync, who can never
    # save it) – every internal attendee who saves it owns an SF Event of their own.
    return Decision(Verdict.SAVE, "R-12", "the organiser is not a calsync user; the user owns it",
                    owner_sf_id=ctx.user.sf_user_id, manual=manual)  # fmt: skip


RULES: tuple[Rule, ...] = (
    Rule("R-18", "organiser cancelled", _cancelled),
    Rule("R-18", "unsync colour", _unsync_tag),
    Rule("R-18", "unsynced earlier", _unsynced_before),
    Rule("R-05", "manual, saved or autosave on", _wanted),
    Rule("R-06", "declined or unanswered", _autosave_only("R-06", _not_answered)),
    Rule("R-05", "sliding window", _autosave_only("R-05", _outside_window)),
    Rule("R-06", "not a meeting type", _autosave_only("R-06", _not_meeting_type)),
    Rule("R-06", "private", _autosave_only("R-06", _private)),
    Rule("R-06", "internal meeting", _autosave_only("R-06", _internal)),
    Rule("R-06", "blocklisted", _autosave_only("R-06", _blocklist)),
    Rule("R-06", "non-linked", _autosave_only("R-06", _non_linked)),
    Rule("R-08", "declined or unanswered, saved by hand", _declined_manual),
    Rule("R-09", "unknown time zone", _unknown_zone),
    Rule("R-09", "recurring off", _recurring_off),
    Rule("R-09", "too long", _too_long),
    Rule("R-19", "group calendar over 24 hours", _group_too_long),
    Rule("R-07", "all attendees unresolved", _unresolved),
    Rule("R-15", "already saved", _saved),
    Rule("R-10", "user organises", _organised_by_user),
    Rule("R-11", "internal enabled organiser", _organised_by_enabled_user),
    Rule("R-12", "external organiser", _organised_by_external),
)


def decide(item: Item, ctx: Context) -> Decision:
    """The decision for one item of one user: the first rule of RULES that answers."""
    manual = labels.wants_save(item, ctx.settings)
    if item.span is None and item.status is not ItemStatus.CANCELLED:
        return Decision(Verdict.SKIP, "R-09", "the item has no time")
    for rule in RULES:
        if item.span is None and rule.rule != "R-18":
            break  # a cancelled tombstone only answers to R-18
        decision = rule.check(item, ctx, manual)
        if decision is not None:
            return decision
    return Decision(Verdict.SKIP, "R-18", "cancelled, nothing saved")
