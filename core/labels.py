"""Labels (R-01, R-02, R-03, R-18): the colour and private properties each user's copy carries.

Google has no categories, so calsync reads a user's wish from the copy's colour (`colorId`) and
writes its status into the copy's private extended properties, both private to that copy
(API-FACTS A2). calsync remembers the colour it replaced (`calsync_prev_color`) and the colour it
set (`calsync_color`): a colour that differs from the one calsync set is the user's own doing.
Label writes are patches of the user's copy only, with `sendUpdates=none` (R-03).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.model import Item
from core.settings import Settings

# Private property keys: at most 44 characters, or Google silently drops them (API-FACTS A2).
P_STATUS = "calsync_status"  # readable status text ("Tracked successfully", the issue message)
P_ISSUE = "calsync_issue"  # the open issue's code
P_KEY = "calsync_key"  # the sync key of the SF Event this copy is saved as
P_COLOR = "calsync_color"  # the colour calsync last set on this copy
P_PREV_COLOR = "calsync_prev_color"  # the user's colour before calsync recoloured it ("" = default)
P_MANUAL = "calsync_manual"  # "1": the user asked to save this item (tag or Save action, R-04)
P_UNSYNCED = "calsync_unsynced"  # "1": the user unsynced it; autosave leaves it alone
P_WHO = "calsync_who"  # Save action: the primary person's SF id chosen in the sidebar
P_WHAT = "calsync_what"  # Save action: the Related To record's SF id
KEYS = (P_STATUS, P_ISSUE, P_KEY, P_COLOR, P_PREV_COLOR, P_MANUAL, P_UNSYNCED, P_WHO, P_WHAT)
MAX_KEY = 44
MAX_VALUE = 1024  # longer values are silently truncated by Google: cut them ourselves

# Properties that only the sidebar writes; labels keep them as they are.
_SIDEBAR = (P_WHO, P_WHAT)

STATUS_SAVED = "Tracked successfully"


class LabelState(Enum):
    """What a copy's label says (R-02)."""

    SAVED = "saved"  # save colour + status "Tracked successfully" (+ a note)
    ERROR = "error"  # error colour + issue code + message
    PENDING = "pending"  # no error colour; status text + issue code
    NONE = "none"  # nothing of calsync's: the user's own colour back
    UNSYNCED = "unsynced"  # nothing but the unsynced marker; the user's own colour back
    KEEP = "keep"  # leave the copy as it is (held deletes, R-37)


@dataclass(frozen=True)
class Label:
    """The label a copy must carry."""

    state: LabelState
    status: str = ""
    issue_code: str = ""
    sync_key: str = ""


@dataclass(frozen=True)
class LabelPatch:
    """A patch of one user's copy: `events.patch(..., sendUpdates="none")` (R-03).

    `color_id` None with `set_color` True clears the colour (back to the calendar's default);
    a property in `remove_props` is patched to null, which deletes it (API-FACTS A2).
    """

    calendar_id: str
    event_id: str
    set_color: bool
    color_id: str | None
    set_props: tuple[tuple[str, str], ...]
    remove_props: tuple[str, ...]
    send_updates: str = "none"
    if_match: str = ""  # only if the copy still has this etag (a copy planned unread)

    @property
    def empty(self) -> bool:
        return not self.set_color and not self.set_props and not self.remove_props


def fresh_tag(item: Item, settings: Settings) -> str:
    """The tag the user just gave (R-01, R-18): "save", "unsync" or "".

    A colour counts only when calsync did not set it itself (P_COLOR); a colour the user happens
    to have chosen that equals the save colour is a save, by definition of the label.
    """
    props = item.props
    if item.color_id is None or item.color_id == props.get(P_COLOR):
        return ""
    if item.color_id == settings.save_color:
        return "save"
    if item.color_id == settings.unsync_color:
        return "unsync"
    return ""


def wants_save(item: Item, settings: Settings) -> bool:
    """R-04: the user asked to save the item, by the save colour now or earlier (remembered in
    P_MANUAL, since calsync may have recoloured it since: error label), or by the Save action."""
    if fresh_tag(item, settings) == "unsync":
        return False
    return fresh_tag(item, settings) == "save" or item.props.get(P_MANUAL) == "1"


def wants_unsync(item: Item, settings: Settings) -> bool:
    """R-18: the user gave the unsync colour."""
    return fresh_tag(item, settings) == "unsync"


def was_unsynced(item: Item) -> bool:
    """R-18: the user unsynced this item earlier and has not saved it again."""
    return item.props.get(P_UNSYNCED) == "1"


def own_color(item: Item, settings: Settings) -> str | None:
    """The user's own colour for this copy (R-02): what to put back when calsync's label goes.

    If the colour is the one calsync set, the user's is the one calsync remembered; a tag the
    user gave (save or unsync colour) is a wish, not a colour to keep, so it also yields the
    remembered colour (or the default).
    """
    props = item.props
    current = item.color_id
    ours = props.get(P_COLOR)
    if (ours is not None and current == ours) or current in (
        settings.save_color,
        settings.unsync_color,
    ):
        return props.get(P_PREV_COLOR) or None
    return current


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def desired(item: Item, label: Label, settings: Settings, manual: bool) -> dict[str, str | None]:
    """The colour ("color") and calsync properties that `item` must carry for `label`.

    Returned as one dict: "color" → colour id or None (default); property keys → values.
    Only calsync's own keys appear; the sidebar's choices (P_WHO, P_WHAT) are left as they are.
    """
    mine = own_color(item, settings)
    props: dict[str, str] = {}
    state = label.state
    if state is LabelState.SAVED:
        color: str | None = settings.save_color
        props[P_STATUS] = _cut(label.status or STATUS_SAVED)
        if label.sync_key:
            props[P_KEY] = label.sync_key
    elif state is LabelState.ERROR:
        color = settings.error_color
        props[P_STATUS] = _cut(label.status)
        props[P_ISSUE] = label.issue_code
    elif state is LabelState.PENDING:
        # a pending status, not the error label; a manual wish keeps its save colour.
        color = settings.save_color if manual else mine
        props[P_STATUS] = _cut(label.status)
        props[P_ISSUE] = label.issue_code
    else:
        color = mine
    if state is LabelState.UNSYNCED:
        props[P_UNSYNCED] = "1"
    elif manual:
        props[P_MANUAL] = "1"  # remembered: calsync may recolour the tag away (error label)
    if color != mine:
        props[P_COLOR] = color or ""
        props[P_PREV_COLOR] = mine or ""
    out: dict[str, str | None] = {"color": color}
    out.update(props)
    return out


def patch_for(item: Item, label: Label, settings: Settings, manual: bool) -> LabelPatch | None:
    """The patch that gives `item` its label, or None when it carries it already (idempotent)."""
    if label.state is LabelState.KEEP:
        return None
    want = desired(item, label, settings, manual)
    color = want.pop("color")
    current = item.props
    set_props = tuple(
        sorted((k, v) for k, v in want.items() if v is not None and current.get(k) != v)
    )
    managed = set(KEYS) - set(_SIDEBAR)
    remove = tuple(sorted(k for k in current if k in managed and k not in want))
    patch = LabelPatch(
        calendar_id=item.calendar_id,
        event_id=item.id,
        set_color=color != item.color_id,
        color_id=color,
        set_props=set_props,
        remove_props=remove,
    )
    return None if patch.empty else patch


def unsynced_unread(calendar_id: str, event_id: str, own: str | None, etag: str) -> LabelPatch:
    """R-23 for a copy not read (core/downsync.py, unread): the unsynced label written over
    whatever calsync label it carries, the user's own colour `own` given back, conditional on
    the copy's etag. Removing a property the copy does not have changes nothing."""
    managed = set(KEYS) - set(_SIDEBAR) - {P_UNSYNCED}
    return LabelPatch(calendar_id, event_id, True, own, ((P_UNSYNCED, "1"),),
                      tuple(sorted(managed)), if_match=etag)  # fmt: skip


def apply_patch(item: Item, patch: LabelPatch) -> Item:
    """The copy after Google applied `patch` (for tests and the dry run's preview)."""
    from dataclasses import replace

    props = item.props
    for key in patch.remove_props:
        props.pop(key, None)
    props.update(dict(patch.set_props))
    color = patch.color_id if patch.set_color else item.color_id
    return replace(item, color_id=color, private_props=tuple(sorted(props.items())))


# -- echoes (R-26) --------------------------------------------------------------------------

P_SEEN = "calsync_seen"  # a digest of the copy as calsync left it after its last label write


def seen_digest(item: Item) -> str:
    """The parts of a copy that a user can change and calsync reads (not reminders, not the
    description, which R-14 writes once), as a short digest."""
    import hashlib

    span = item.span
    try:
        when: tuple[object, ...] = (
            (span.start_utc.isoformat(), span.end_utc.isoformat(), span.is_all_day, span.time_zone)
            if span is not None
            else ()
        )
    except (OverflowError, ValueError):
        when = (repr(span),)
    people = sorted((a.email.lower(), a.response.value) for a in item.attendees)
    organiser = item.organizer.email.lower() if item.organizer is not None else ""
    props = sorted((k, v) for k, v in item.private_props if k != P_SEEN)
    text = repr((item.status.value, when, item.recurrence, item.title, item.location, people,
                 organiser, item.visibility.value, item.transparency.value, item.color_id, props))  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def is_echo(item: Item) -> bool:
    """True when the copy is exactly as calsync's last label write left it (R-26)."""
    mark = item.props.get(P_SEEN)
    return mark is not None and mark == seen_digest(item)


def marked(patch: LabelPatch, item: Item | None) -> LabelPatch:
    """The patch, also recording the digest of the copy it leaves behind (for is_echo)."""
    if item is None:
        return patch
    from dataclasses import replace

    after = apply_patch(item, patch)
    props = tuple(sorted({**dict(patch.set_props), P_SEEN: seen_digest(after)}.items()))
    return replace(patch, set_props=props)
