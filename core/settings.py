"""Org and user settings: the catalogue of every setting, its default (docs/rules.md, Settings) and its validation.

Settings are read from two Firestore documents (the org's, and a user's overrides) on every
session. A value with an unknown name or the wrong type is reported as a `SettingProblem` and
ignored, so the last valid value (the org's, else the default) stays in force and nothing crashes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, time, timedelta
from enum import Enum
from typing import Any, ClassVar


class Scope(Enum):
    ORG = "org"  # only the org document may set it
    USER = "user"  # the org document sets the default, a user document may override it


class SettingError(ValueError):
    """A setting name or value was refused; the message names the setting."""


Check = Callable[[Any], Any]  # returns the normalised value or raises SettingError


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise SettingError("must be true or false")


def _int_range(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # Firestore's console stores 30 as the double 30.0 (audit M6)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingError(f"must be a whole number from {low} to {high}")
        if not low <= value <= high:
            raise SettingError(f"must be a whole number from {low} to {high}")
        return value

    return check


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise SettingError("must be a number above 0 and at most 1 (a share, e.g. 0.5)")
    return float(value)


def _choice(*allowed: str) -> Check:
    def check(value: Any) -> str:
        if value not in allowed:
            raise SettingError("must be one of " + ", ".join(repr(a) for a in allowed))
        return str(value)

    return check


def _color(value: Any) -> str:
    # Google's event palette has ids "1".."11"; accept 9 as well as "9".
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and text.isdigit() and 1 <= int(text) <= 11:
        return str(int(text))
    raise SettingError('must be a Google event colour id, "1" to "11"')


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")


def _string_list(item_check: Callable[[str], str] | None = None) -> Check:
    def check(value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise SettingError("must be a list of strings")
        out: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise SettingError("must be a list of strings")
            out.append(item_check(item) if item_check else item)
        return tuple(out)

    return check


def _domain(text: str) -> str:
    domain = text.strip().lower().lstrip("@")
    if not _DOMAIN.match(domain):
        raise SettingError(f"{text!r} is not a mail domain")
    return domain


def _address_or_domain(text: str) -> str:
    value = text.strip().lower()
    if "@" in value.lstrip("@"):
        local, _, domain = value.rpartition("@")
        if not local:
            raise SettingError(f"{text!r} is not an address")
        return f"{local}@{_domain(domain)}"
    return _domain(value)


def _address(text: str) -> str:
    value = text.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or " " in local:
        raise SettingError(f"{text!r} is not an email address")
    return f"{local}@{_domain(domain)}"


def _calendar_ids(value: Any) -> tuple[str, ...]:
    ids: tuple[str, ...] = _string_list(lambda s: s.strip())(value)
    if any(i.lower() == "primary" for i in ids):
        # The primary calendar is always read; listing it again read it twice (audit H1a).
        raise SettingError('lists "primary": the user\'s own calendar is always synced; list '
                           "group calendars only")  # fmt: skip
    return ids


@dataclass(frozen=True)
class PublicCalendar:
    """R-25: one Salesforce public calendar copied one way into a Google calendar.

    `writer` is the Workspace user as whom calsync writes the copies (domain-wide delegation): a
    user who can make changes to events in `google_calendar`. It defaults to the calendar itself
    when that is a user's own calendar (their address); a group calendar needs one named.
    """

    sf_calendar_id: str
    google_calendar: str
    color: str
    writer: str

    KEYS: ClassVar[tuple[str, ...]] = ("sf_calendar_id", "google_calendar", "color", "writer")

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.KEYS}


_CALENDAR_ID = re.compile(r"^023[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")
_SHARED_CALENDAR = ("calendar.google.com",)  # group.calendar..., resource.calendar...


def _public_calendars(value: Any) -> tuple[PublicCalendar, ...]:
    """R-25: a list of {"sf_calendar_id", "google_calendar", "color", "writer"} objects."""
    shape = 'must be a list of {"sf_calendar_id", "google_calendar", "color", "writer"}'
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise SettingError(shape)
    out: list[PublicCalendar] = []
    for entry in value:
        if not isinstance(entry, Mapping):
            raise SettingError(shape)
        keys = set(entry)
        if not {"sf_calendar_id", "google_calendar", "color"} <= keys <= set(PublicCalendar.KEYS):
            raise SettingError(
                'each entry needs "sf_calendar_id", "google_calendar", "color" '
                '(and "writer" for a group calendar)'
            )
        sf_id, calendar = entry["sf_calendar_id"], entry["google_calendar"]
        if not isinstance(sf_id, str) or not _CALENDAR_ID.match(sf_id.strip()):
            raise SettingError(f"{sf_id!r} is not a Salesforce calendar id (023...)")
        if not isinstance(calendar, str) or not calendar.strip():
            raise SettingError("google_calendar must be a Google calendar id")
        calendar = calendar.strip()
        writer = entry.get("writer")
        if writer is None:
            if calendar.lower().endswith(_SHARED_CALENDAR) or "@" not in calendar:
                raise SettingError(
                    f'{calendar!r} is a shared calendar: name the user who writes it ("writer")'
                )
            writer = calendar
        if not isinstance(writer, str):
            raise SettingError("writer must be an email address")
        found = PublicCalendar(sf_id.strip(), calendar, _color(entry["color"]), _address(writer))
        if any(o.sf_calendar_id == found.sf_calendar_id and o.google_calendar == calendar
               for o in out):  # fmt: skip
            raise SettingError(f"{found.sf_calendar_id} is listed twice for {calendar}")
        out.append(found)
    return tuple(out)


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: Any
    check: Check
    scope: Scope
    help: str


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("internal_domains", (), _string_list(_domain), Scope.ORG,
                "The org's own mail domains; everyone else is external."),
    SettingSpec("window_past_days", 14, _int_range(0, 3650), Scope.ORG,
                "Autosave looks this many days back (R-05)."),
    SettingSpec("window_future_days", 60, _int_range(0, 3650), Scope.ORG,
                "Autosave looks this many days ahead, to the end of that day in UTC (R-05)."),
    SettingSpec("autosave_meetings", False, _bool, Scope.USER,
                "Save every meeting the user organises or accepted (R-05)."),
    SettingSpec("autosave_appointments", False, _bool, Scope.USER,
                "Save every appointment (no attendees) (R-05)."),
    SettingSpec("save_internal_meetings", False, _bool, Scope.ORG,
                "Autosave also meetings with internal people only (R-06)."),
    SettingSpec("blocklist_addresses", (), _string_list(_address_or_domain), Scope.USER,
                "Autosave skips items with these addresses (R-06); user lists add to the org's."),
    SettingSpec("blocklist_domains", (), _string_list(_domain), Scope.USER,
                "Autosave skips items with people on these domains (R-06)."),
    SettingSpec("blocklist_keywords", (), _string_list(lambda s: s.strip()), Scope.USER,
                "Autosave skips items whose title contains one of these words (R-06)."),
    SettingSpec("auto_create_unresolved", "off", _choice("off", "contact", "lead"), Scope.ORG,
                "Create a Contact or Lead for unresolved people of a saved item (R-07)."),
    SettingSpec("sync_unanswered_and_declined", False, _bool, Scope.ORG,
                "Allow saving meetings the user declined or did not answer (R-08)."),
    SettingSpec("recurring_enabled", False, _bool, Scope.ORG,
                "Save recurring series (R-09, R-17)."),
    SettingSpec("private_items", "linked", _choice("linked", "private_unlinked"), Scope.ORG,
                "How a saved private item is written: linked and not private, or private without links (R-13a)."),
    SettingSpec("multiple_related_records", False, _bool, Scope.ORG,
                "Link further business records besides WhatId (R-13)."),
    SettingSpec("safe_description", True, _bool, Scope.USER,
                "Write the description once, with a participants header (R-14)."),
    SettingSpec("smart_auto_sharing", False, _bool, Scope.USER,
                "Re-read attendees on every session and link newcomers (R-16)."),
    SettingSpec("group_calendars", (), _calendar_ids, Scope.USER,
                "Group calendars whose events are saved like the user's own (R-19)."),
    SettingSpec("save_attachments", False, _bool, Scope.ORG,
                "Store an item's attachments with its SF Event (R-20)."),
    SettingSpec("attachment_max_bytes", 10_000_000, _int_range(0, 2_000_000_000), Scope.ORG,
                "Largest attachment stored (R-20)."),
    SettingSpec("delete_from_calendar", False, _bool, Scope.ORG,
                "Delete the Google item when its SF Event is deleted (R-23)."),
    SettingSpec("sf_public_calendars", (), _public_calendars, Scope.ORG,
                "Salesforce public calendars copied one way into Google calendars, each with its colour and the user who writes it (R-25)."),
    SettingSpec("max_deletes_per_session", 20, _int_range(0, 100_000), Scope.ORG,
                "A session that would delete more SF Events waits for an admin (R-37)."),
    SettingSpec("max_deletes_per_day", 50, _int_range(0, 1_000_000), Scope.ORG,
                "Deletes of one user's SF Events in 24 hours beyond which the guard holds them (R-37)."),
    SettingSpec("deletion_guard_min_deletes", 3, _int_range(1, 100_000), Scope.ORG,
                "R-37's half-of-mapped-items rule applies from this many deletes on (1: always)."),
    SettingSpec("save_color", "9", _color, Scope.ORG,
                "Colour that saves an item and marks it saved (R-01, R-02)."),
    SettingSpec("unsync_color", "8", _color, Scope.ORG,
                "Colour that removes an item from Salesforce (R-18)."),
    SettingSpec("error_color", "11", _color, Scope.ORG,
                "Colour of an item that failed (R-02)."),
    SettingSpec("admins", (), _string_list(_address), Scope.ORG,
                "Google accounts that may open the sync-issues dashboard and act on it, and the admin view of `status` (R-32)."),
    SettingSpec("api_budget_share", 0.5, _share, Scope.ORG,
                "Bulk work (initial syncs, backfills) pauses before it takes more than this share of the org's remaining daily Salesforce calls; saves always go."),
)  # fmt: skip

BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    """The settings in force for one user (or for the org when no user is given)."""

    internal_domains: tuple[str, ...] = ()
    window_past_days: int = 14
    window_future_days: int = 60
    autosave_meetings: bool = False
    autosave_appointments: bool = False
    save_internal_meetings: bool = False
    blocklist_addresses: tuple[str, ...] = ()
    blocklist_domains: tuple[str, ...] = ()
    blocklist_keywords: tuple[str, ...] = ()
    auto_create_unresolved: str = "off"
    sync_unanswered_and_declined: bool = False
    recurring_enabled: bool = False
    private_items: str = "linked"
    multiple_related_records: bool = False
    safe_description: bool = True
    smart_auto_sharing: bool = False
    group_calendars: tuple[str, ...] = ()
    save_attachments: bool = False
    attachment_max_bytes: int = 10_000_000
    delete_from_calendar: bool = False
    sf_public_calendars: tuple[PublicCalendar, ...] = ()
    max_deletes_per_session: int = 20
    max_deletes_per_day: int = 50
    deletion_guard_min_deletes: int = 3
    save_color: str = "9"
    unsync_color: str = "8"
    error_color: str = "11"
    admins: tuple[str, ...] = ()
    api_budget_share: float = 0.5

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """R-05: the sliding window at `now`: from window_past_days before it to the end of the
        UTC day window_future_days after it. The far edge moves by whole days, so that an item
        entering the window is found once a day (issue 14: an idle sweep lists nothing), never
        later than the rule says and at most a day earlier (docs/decisions.md)."""
        last = (now + timedelta(days=self.window_future_days)).date()
        return (now - timedelta(days=self.window_past_days),
                datetime.combine(last, time.max, UTC))  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# Lists on these keys add up (org blocklist plus the user's own) instead of replacing.
_ADDITIVE = {"blocklist_addresses", "blocklist_domains", "blocklist_keywords", "group_calendars"}


@dataclass(frozen=True)
class SettingProblem:
    """A stored setting that was ignored, and why."""

    source: str  # "org" or the user's email
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: setting {self.name!r} ignored: {self.message}"


def unknown_setting(name: str) -> str:
    """The message for a setting name that is not in the catalogue, with the closest names."""
    close = difflib.get_close_matches(name, BY_NAME, n=2, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return f"unknown setting {name!r}; {hint}(`settings show` lists every setting)"


# Colours that must differ: each one means something else on the same copy.
_DISTINCT_COLOURS = ("save_color", "unsync_color", "error_color")
_COLOUR_MEANING = {"save_color": "save", "unsync_color": "unsync", "error_color": "mark errors"}


def conflicts(settings: Settings) -> list[str]:
    """Settings that contradict each other: today the three label colours must all differ."""
    found = []
    for i, first in enumerate(_DISTINCT_COLOURS):
        for second in _DISTINCT_COLOURS[i + 1 :]:
            colour = getattr(settings, first)
            if colour == getattr(settings, second):
                found.append(
                    f"{first} and {second} would both be colour {colour!r}: one colour cannot "
                    f"both {_COLOUR_MEANING[first]} and {_COLOUR_MEANING[second]}"
                )
    return found


def validate(name: str, value: Any, *, for_user: bool = False) -> Any:
    """Check one setting; return its normalised value or raise SettingError naming it."""
    spec = BY_NAME.get(name)
    if spec is None:
        raise SettingError(unknown_setting(name))
    if for_user and spec.scope is Scope.ORG:
        raise SettingError(f"setting {name!r} is org-wide and cannot be set per user")
    try:
        return spec.check(value)
    except SettingError as exc:
        raise SettingError(f"setting {name!r} {exc}") from None


def _valid_values(
    doc: Mapping[str, Any], source: str, for_user: bool, problems: list[SettingProblem]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in doc.items():
        try:
            values[name] = validate(name, raw, for_user=for_user)
        except SettingError as exc:
            problems.append(SettingProblem(source, name, str(exc)))
    return values


def resolve(
    org_doc: Mapping[str, Any] | None,
    user_doc: Mapping[str, Any] | None = None,
    user: str = "user",
    *,
    last_valid_org: Mapping[str, Any] | None = None,
    last_valid_user: Mapping[str, Any] | None = None,
) -> tuple[Settings, list[SettingProblem]]:
    """Combine defaults, the org document and a user's overrides into the settings in force.

    A refused value keeps the last valid one (SPEC §7): the value that document held when it
    last validated cleanly, else the org's (for a user's), else the default. A typo must never
    loosen the deletion guard or turn someone's own colour into a save tag (audit M6).
    """
    problems: list[SettingProblem] = []
    values = {spec.name: spec.default for spec in SPECS}
    values.update(_with_fallback(org_doc, last_valid_org, "org", False, problems))
    for name, value in _with_fallback(user_doc, last_valid_user, user, True, problems).items():
        values[name] = tuple(dict.fromkeys(values[name] + value)) if name in _ADDITIVE else value
    return Settings(**values), problems


def _with_fallback(doc: Mapping[str, Any] | None, last_valid: Mapping[str, Any] | None,
                   source: str, for_user: bool, problems: list[SettingProblem]) -> dict[str, Any]:  # fmt: skip
    found: list[SettingProblem] = []
    values = _valid_values(doc or {}, source, for_user, found)
    problems += found
    refused = {p.name for p in found}
    kept = {k: v for k, v in (last_valid or {}).items() if k in refused}
    return {**_valid_values(kept, source, for_user, []), **values}


def parse_cli_value(text: str) -> Any:
    """A value typed on the command line: JSON when it parses, else the plain string."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def to_storable(value: Any, name: str = "") -> Any:
    """A normalised value as Firestore and JSON store it: lists, and R-25 entries as objects."""
    if name == "sf_public_calendars":
        return [entry.as_dict() for entry in value]
    if isinstance(value, tuple):
        return [to_storable(v) for v in value]
    return value


def describe(names: Iterable[str] | None = None) -> list[tuple[str, str, str, str]]:
    """(name, scope, default, help) rows for the README table and `settings show`."""
    import json

    chosen = [BY_NAME[n] for n in names] if names is not None else list(SPECS)
    return [
        (s.name, s.scope.value, json.dumps(to_storable(s.default, s.name)), s.help) for s in chosen
    ]


def markdown_table() -> str:
    """The README's settings table (a test keeps the README equal to it)."""
    rows = ["| setting | scope | default | what it does |", "| --- | --- | --- | --- |"]
    rows += [f"| `{n}` | {scope} | `{d}` | {h} |" for n, scope, d, h in describe()]
    return "\n".join(rows)
