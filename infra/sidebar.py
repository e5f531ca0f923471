"""The sidebar (R-33): the cards the Calendar add-on shows and what its buttons do.

Opened on an event, the card reads the event through the Calendar API as the user (the event
object carries ids only), then its mapping and open issue, and says in words where the item
stands (core/status.py). The actions write only to the user's own copy, as the user, with
`sendUpdates=none` (R-03), and queue the user's session, which does the Salesforce work:

- Save: the manual-save mark (R-04) and the chosen Name and Related To, each signed after
  Salesforce confirmed the user may read the record (infra/choices.py, audit L3);
- Unsync: the unsync colour (R-18), exactly what the user could do by hand;
- Retry: clears the copy's "seen by calsync" digest, so the session plans the item again.

Nothing here logs a title, a description or an attendee (STYLE).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core import labels
from core.fields import ID_PREFIXES, WHAT_PREFIXES
from core.issues import Issue
from core.labels import P_SEEN, LabelPatch
from core.model import Item, ItemKey, Mapping, People, PersonKind, SessionUser
from core.policy import Context, decide, participants
from core.ports import SessionQueue, SettingsStore
from core.settings import Settings, resolve
from core.status import ItemState, StateKind, item_state
from core.users import User
from infra import cards
from infra.addon_request import AddonRequest
from infra.cards import Action, Button, Buttons, Card, Choice, Dropdown, Labelled, Section, Text
from infra.choices import ChoiceSigner
from infra.salesforce_records import (
    WHAT_OBJECTS,
    WHO_OBJECTS,
    Record,
    SearchRefused,
    readable,
    records,
    search,
)

log = logging.getLogger("calsync.sidebar")
AUTO = ""  # the dropdowns' "automatic" value: calsync picks as R-13 says


class Mappings(Protocol):
    def get(self, email: str, key: ItemKey) -> Mapping | None: ...


class Issues(Protocol):
    def open_for_user(self, email: str) -> list[Issue]: ...


@dataclass
class SidebarServices:
    store: SettingsStore
    mappings: Mappings
    issues: Issues
    calendar_for: Callable[[str], Any]  # infra.google_calendar.GoogleCalendar, as the user
    salesforce: Callable[[], Any]  # infra.salesforce.SalesforceAdapter
    queue: Callable[[], SessionQueue]
    signer: ChoiceSigner | None
    functions_url: str
    sf_instance_url: str


@dataclass
class _Event:
    """Everything one card needs about the event the user opened."""

    user: User
    settings: Settings
    item: Item  # the copy that was opened
    target: Item  # the copy the actions write: the series' for an instance (R-17)
    mapping: Mapping | None
    issue: Issue | None
    people: People
    sf_user_id: str


class Sidebar:
    def __init__(self, services: SidebarServices, now: datetime):
        self.s = services
        self.now = now

    # -- entry ------------------------------------------------------------------------------

    def answer(self, req: AddonRequest, user: User) -> cards.JSON:
        """The answer to one verified request of an enabled user."""
        if req.event is None:
            return cards.show(self._homepage(user))
        event = self._load(user, req.event.event_id)
        if event is None:
            return cards.show(_message("calsync", "This event cannot be read yet. If it is new, "
                                       "save it in Calendar first, then open it again."))  # fmt: skip
        log.info("sidebar", extra={"user": user.email, "action": req.action or "open",
                                   "item": event.item.id})  # fmt: skip
        handler = {
            "save": self._save,
            "unsync": self._unsync,
            "retry": self._retry,
            "search_who": self._search,
            "search_what": self._search,
            "refresh": lambda e, r: (e, ""),
        }.get(req.action)
        if handler is None:
            return cards.show(self._event_card(event, req))
        event, notice = handler(event, req)
        return cards.update(self._event_card(event, req), notice)

    # -- reading ------------------------------------------------------------------------------

    def _load(self, user: User, event_id: str) -> _Event | None:
        settings, _ = resolve(self.s.store.org_settings(), user.settings, user.email)
        calendar = self.s.calendar_for(user.email)
        found = calendar.get_items(user.email, [event_id])
        if not found:
            return None
        item = found[0]
        target = item
        if item.is_instance:  # tagging an instance saves the series
            parents = calendar.get_items(user.email, [item.recurring_event_id])
            target = parents[0] if parents else item
        mapping = self.s.mappings.get(user.email, item.key) or self.s.mappings.get(
            user.email, item.series_key)  # fmt: skip
        keys = {str(item.key), str(item.series_key)}
        issue = next((i for i in self.s.issues.open_for_user(user.email) if i.key in keys), None)
        sf = self.s.salesforce()
        emails = [e for e in participants(item) if e != user.email]
        people = People(resolved=sf.search_people(emails) if emails else {})
        sf_user_id = user.sf_user_id or sf.user_ids([user.email]).get(user.email, "")
        return _Event(user, settings, item, target, mapping, issue, people, sf_user_id)

    def _state(self, e: _Event) -> ItemState:
        decision = None
        if e.mapping is None and e.issue is None and not labels.wants_save(e.target, e.settings):
            enabled = {u.email: u.sf_user_id for u in self.s.store.get_users(participants(e.item))
                       if u.enabled and u.sf_user_id}  # fmt: skip
            people = replace(e.people, enabled_users=enabled)
            ctx = Context(SessionUser(e.user.email, e.sf_user_id), e.settings, self.now, people)
            decision = decide(e.target, ctx)
        return item_state(e.target, e.settings, e.mapping, e.issue, decision)

    # -- actions ------------------------------------------------------------------------------

    def _save(self, e: _Event, req: AddonRequest) -> tuple[_Event, str]:
        """R-04, R-13, R-33: the manual-save mark and the checked, signed choices."""
        who, what = req.form.get("who", AUTO).strip(), req.form.get("what", AUTO).strip()
        problem = self._refusal(e, who, what)
        if problem:
            return e, problem
        if self.s.signer is None:
            return e, "Saving is not available: calsync has no signing key configured."
        key = str(e.target.key)
        signed: dict[str, str] = {labels.P_MANUAL: "1"}
        plain: dict[str, str] = {labels.P_MANUAL: "1"}
        for prop, record_id in ((labels.P_WHO, who), (labels.P_WHAT, what)):
            if record_id:
                signed[prop] = self.s.signer.sign(e.user.email, key, prop, record_id)
                plain[prop] = record_id
        removed = tuple(p for p in (labels.P_WHO, labels.P_WHAT) if p not in signed)
        color = labels.own_color(e.target, e.settings) if labels.wants_unsync(
            e.target, e.settings) else e.target.color_id  # fmt: skip
        notice = ("Saving to Salesforce… Refresh in a few seconds to see it saved."
                  if e.mapping is None else
                  "Saving your choice… Its Salesforce Event is updated in a few seconds.")  # fmt: skip
        return self._write(e, plain, signed, removed, color, notice)

    def _refusal(self, e: _Event, who: str, what: str) -> str:
        if who and who[:3] not in ID_PREFIXES:
            return "Pick a Contact or a Lead as Name."
        if what and what[:3] not in WHAT_PREFIXES:
            return "Pick an Account or an Opportunity as Related To."
        if what and (who[:3] == "00Q" or (not who and self._auto_lead(e))):
            return "A Lead cannot be related to an Account or Opportunity in Salesforce."
        wanted = [i for i in (who, what) if i]
        if not wanted:
            return ""
        if not e.sf_user_id:
            return "You have no Salesforce user that calsync knows of (CS-012): ask your admin."
        allowed = readable(self.s.salesforce().query, e.sf_user_id, wanted)
        if set(wanted) - allowed:
            return "You cannot link that record: your Salesforce user has no access to it."
        return ""

    def _auto_lead(self, e: _Event) -> bool:
        first = next(iter(self._people(e)), None)
        return first is not None and first.kind == PersonKind.LEAD.value

    def _unsync(self, e: _Event, req: AddonRequest) -> tuple[_Event, str]:
        """R-18: the unsync colour on the user's copy; the session removes the SF Event(s)."""
        return self._write(e, {}, {}, (), e.settings.unsync_color,
                           "Removing from Salesforce… Refresh in a few seconds.")  # fmt: skip

    def _retry(self, e: _Event, req: AddonRequest) -> tuple[_Event, str]:
        mark = dict(retry_patch(e.target, self.now).set_props)
        return self._write(e, mark, mark, (), e.target.color_id,
                           "Trying again… Refresh in a few seconds.")  # fmt: skip

    def _write(self, e: _Event, plain: dict[str, str], signed: dict[str, str],
               removed: tuple[str, ...], color: str | None, notice: str) -> tuple[_Event, str]:  # fmt: skip
        """Patch the user's own copy (sendUpdates=none, R-03) and queue their session."""
        patch = LabelPatch(e.target.calendar_id, e.target.id, color != e.target.color_id, color,
                           tuple(sorted(signed.items())), removed)  # fmt: skip
        (result,) = self.s.calendar_for(e.user.email).apply_labels([patch])
        if not result.ok:
            log.warning("sidebar write refused", extra={"user": e.user.email,
                                                        "code": result.error_code})  # fmt: skip
            return e, "Google Calendar refused the change; try again in a moment."
        self.s.queue().enqueue(e.user.email, self.now, reason="sidebar")
        shown = replace(patch, set_props=tuple(sorted(plain.items())))
        target = labels.apply_patch(e.target, shown)
        item = target if e.target is e.item else e.item
        return replace(e, item=item, target=target), notice

    def _search(self, e: _Event, req: AddonRequest) -> tuple[_Event, str]:
        return e, ""  # the card runs the search (its results are part of the card)

    # -- cards --------------------------------------------------------------------------------

    def _event_card(self, e: _Event, req: AddonRequest) -> Card:
        state = self._state(e)
        status: list[Any] = [Labelled(state.headline, top="Salesforce", bottom=state.detail,
                                      icon=_ICONS.get(state.kind, "DESCRIPTION"))]  # fmt: skip
        if state.code:
            status.append(Labelled(state.todo, top=f"Issue {state.code}: what to do",
                                   icon="TICKET"))  # fmt: skip
        if state.sf_event_id:
            link = f"{self.s.sf_instance_url}/lightning/r/Event/{state.sf_event_id}/view"
            status.append(Labelled(state.sf_event_id, top="Salesforce Event", icon="BOOKMARK",
                                   button=Button("Open", link=link)))  # fmt: skip
        sections = [Section(tuple(status), header="Sync status")]
        notice = ""
        if state.can_save:
            save, notice = self._save_section(e, req, state)
            sections.append(save)
        buttons = []
        if state.can_unsync:
            buttons.append(Button("Unsync", self._action("unsync", e)))
        if state.can_retry:
            buttons.append(Button("Retry", self._action("retry", e), filled=True))
        buttons.append(Button("Refresh", self._action("refresh", e)))
        widgets: list[Any] = [Buttons(tuple(buttons))]
        if notice:
            widgets.insert(0, Text(notice))
        sections.append(Section(tuple(widgets)))
        return Card(e.item.title or "(no title)", when_text(e.item), tuple(sections), "event")

    def _save_section(self, e: _Event, req: AddonRequest,
                      state: ItemState) -> tuple[Section, str]:  # fmt: skip
        notice = ""
        found: list[Record] = []
        if req.action in ("search_who", "search_what"):
            box = "who_search" if req.action == "search_who" else "what_search"
            objects = WHO_OBJECTS if req.action == "search_who" else WHAT_OBJECTS
            try:
                found = search(self.s.salesforce().query, objects, req.form.get(box, ""))
                notice = f"{len(found)} found." if found else "Nothing found."
            except SearchRefused as exc:
                notice = str(exc)
        props = e.target.props
        chosen_who = req.form.get("who", props.get(labels.P_WHO, AUTO))
        chosen_what = req.form.get("what", props.get(labels.P_WHAT, AUTO))
        people = self._people(e)
        accounts = [p.detail for p in people if p.detail.startswith("001")]
        named = records(self.s.salesforce().query,
                        [chosen_who, chosen_what, *accounts])  # fmt: skip
        who = _choices("Automatic: the first known person", [
            *(replace(p, detail="") for p in people), *(r for r in found if r.kind in WHO_OBJECTS),
            *([named[chosen_who]] if chosen_who in named else [])], chosen_who)  # fmt: skip
        what = _choices("Automatic: the person's Account", [
            *(named[a] for a in accounts if a in named), *(r for r in found
                                                             if r.kind in WHAT_OBJECTS),
            *([named[chosen_what]] if chosen_what in named else [])], chosen_what)  # fmt: skip
        saved = state.kind in (StateKind.SAVED, StateKind.INVITEE)
        widgets = (
            Dropdown("who", "Name", who),
            cards.TextBox("who_search", "Search Contacts and Leads",
                          req.form.get("who_search", ""), "name or email"),
            Buttons((Button("Search", self._action("search_who", e)),)),
            Dropdown("what", "Related To", what),
            cards.TextBox("what_search", "Search Accounts and Opportunities",
                          req.form.get("what_search", ""), "name"),
            Buttons((Button("Search", self._action("search_what", e)),)),
            Buttons((Button("Save the new choice" if saved else "Save to Salesforce",
                            self._action("save", e), filled=True),)),
        )  # fmt: skip
        return Section(widgets, header="Save to Salesforce"), notice

    def _people(self, e: _Event) -> list[Record]:
        """The meeting's resolved Contacts and Leads (R-13's candidates for Name), in order;
        `detail` carries a Contact's Account id."""
        out: dict[str, Record] = {}
        for email in participants(e.item):
            person = e.people.get(email)
            if person is not None and person.kind is not PersonKind.USER:
                out.setdefault(person.sf_id, Record(person.sf_id, person.kind.value,
                                                    person.name or email, person.account_id))  # fmt: skip
        return list(out.values())

    def _action(self, name: str, e: _Event) -> Action:
        return Action(f"{self.s.functions_url}/addon?action={name}",
                      (("calendarId", e.item.calendar_id), ("eventId", e.item.id)))  # fmt: skip

    def _homepage(self, user: User) -> Card:
        issues = sorted(self.s.issues.open_for_user(user.email), key=lambda i: (i.code, i.key))
        state = user.state
        last = (f"Last sync {state.last_session_at[:16].replace('T', ' ')} UTC: "
                f"{state.last_session_result or 'ok'}") if state.last_session_at else (
            "No sync has run for you yet.")  # fmt: skip
        widgets: list[Any] = [Labelled(last, top="Your calendar", icon="CLOCK")]
        if issues:
            widgets.append(Text(f"<b>{len(issues)} item(s) need attention:</b>", html=True))
            for issue in issues[:5]:
                widgets.append(Labelled(issue.title or "(no title)", top=issue.code,
                                        bottom=issue.message))  # fmt: skip
        else:
            widgets.append(Text("Every saved item is in step with Salesforce."))
        widgets.append(Text("Open an event to see its status, or to save it to Salesforce."))
        return Card("calsync", user.email, (Section(tuple(widgets)),), "home")


def retry_patch(item: Item, now: datetime) -> LabelPatch:
    """The patch that makes the next session plan `item` again (Retry): its "seen by calsync"
    digest no longer matches, so the copy is a change, not calsync's own echo."""
    return LabelPatch(item.calendar_id, item.id, False, item.color_id,
                      ((P_SEEN, f"retry {now.isoformat()}"),), ())  # fmt: skip


_ICONS = {
    StateKind.SAVED: "BOOKMARK",
    StateKind.INVITEE: "PERSON",
    StateKind.FAILED: "TICKET",
    StateKind.WAITING: "CLOCK",
    StateKind.SAVING: "CLOCK",
    StateKind.REMOVING: "CLOCK",
}


def _choices(auto: str, found: Iterable[Record], selected: str) -> tuple[Choice, ...]:
    out = {AUTO: Choice(auto, AUTO, selected == AUTO)}
    for rec in found:
        out.setdefault(rec.id, Choice(rec.label, rec.id, rec.id == selected))
    return tuple(out.values())


def _message(title: str, text: str) -> Card:
    return Card(title, "", (Section((Text(text),)),))


def when_text(item: Item) -> str:
    """The event's time in its own time zone, e.g. "Mon 4 May 2026, 09:00–10:00 (Europe/Berlin)"."""
    span = item.span
    if span is None:
        return ""
    if span.start_date is not None:
        return span.start_date.strftime("%a %-d %b %Y") + " (all day)"
    zone_name = span.time_zone or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ValueError, KeyError):
        zone, zone_name = ZoneInfo("UTC"), "UTC"
    assert span.start is not None and span.end is not None
    start, end = span.start.astimezone(zone), span.end.astimezone(zone)
    return f"{start:%a %-d %b %Y, %H:%M}–{end:%H:%M} ({zone_name})"
