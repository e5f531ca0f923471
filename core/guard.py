"""The deletion guard (R-37): a session that would delete too many SF Events deletes none of them
until an admin confirms, and a confirmation releases exactly the deletes the admin was shown.

"Too many" is judged on this session's deletes and, so that a wipe spread over many small
sessions is caught too, on the deletes of the last 24 hours: more than `max_deletes_per_session`
in one session, more than `max_deletes_per_day` in 24 hours, or more than half of the user's
saved items (from `deletion_guard_min_deletes` deletes on). Deletes the admin released, and
refused deletes tried again, were judged already and do not count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.actions import IssueClose, IssueOpen, SfDelete, Unit
from core.issues import Issue
from core.model import Mapping, saved_count
from core.settings import Settings
from core.users import HeldDelete

GUARD_CODE = "CS-009"


@dataclass(frozen=True)
class Verdict:
    go: tuple[Unit, ...]
    held: tuple[Unit, ...]
    issues: tuple[IssueOpen | IssueClose, ...]


def judged(unit: Unit, released: frozenset[str]) -> int:
    """The deletes of `unit` that the guard must still judge."""
    return sum(1 for d in unit.deletes if not d.retry and d.sync_key not in released)


def weighs_saved(units: Sequence[Unit], settings: Settings, released: frozenset[str],
                 recent_deletes: int) -> bool:  # fmt: skip
    """Whether the verdict on these units depends on how many SF Events the user has saved
    (the "more than half" test): only then must the session count them (issue 14)."""
    new = sum(judged(u, released) for u in units)
    return new > 0 and recent_deletes + new >= settings.deletion_guard_min_deletes


def guard(units: Sequence[Unit], mine: Iterable[Mapping], settings: Settings, user_email: str,
          released: frozenset[str], recent_deletes: int,
          open_issues: Iterable[Issue], saved: int | None = None) -> Verdict:  # fmt: skip
    """Hold every unit with a delete to judge when there are too many (see the module docstring).
    `saved`: the user's saved SF Events as the store counted them; None: those of `mine`."""
    new = sum(judged(u, released) for u in units)
    mapped = saved if saved is not None else saved_count(mine)
    day = recent_deletes + new
    s = settings
    too_many = new > 0 and (
        new > s.max_deletes_per_session
        or day > s.max_deletes_per_day
        or (day >= s.deletion_guard_min_deletes and day * 2 > mapped + recent_deletes)
    )
    go = tuple(u for u in units if not (too_many and judged(u, released)))
    held = tuple(u for u in units if too_many and judged(u, released))
    count = sum(len(u.deletes) for u in held)
    want = (
        Issue(GUARD_CODE, user_email, "", f"{count} deletes held for the admin's confirmation")
        if held
        else None
    )
    have = [i for i in open_issues if i.code == GUARD_CODE and not i.key]
    issues: list[IssueOpen | IssueClose] = []
    if want is None:
        issues += [IssueClose(i, "R-37") for i in have]
    elif not any(i.message == want.message for i in have):
        issues.append(IssueOpen(want, "R-37"))
    return Verdict(go, held, tuple(issues))


def held_deletes(held: Sequence[Unit]) -> tuple[HeldDelete, ...]:
    """What an admin is shown before confirming (`deletes show`), one line per SF Event."""
    out: list[HeldDelete] = []
    for unit in held:
        item = unit.item
        start = ""
        if item is not None and item.span is not None:
            try:
                start = item.span.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
            except (OverflowError, ValueError):
                start = ""
        title = item.shown_title if item is not None and item.span is not None else ""
        for d in unit.deletes:
            out.append(HeldDelete(d.sync_key, unit.key, _target(d), title, start))
    return tuple(sorted(out, key=lambda h: (h.start, h.item_key, h.sync_key)))


def _target(d: SfDelete) -> str:
    return d.sf_event_id or d.occurrence_of


def held_id(held: Sequence[HeldDelete]) -> str:
    """A digest of the held set: a confirmation names it, so it releases that set only."""
    text = "\n".join(sorted(h.sync_key for h in held))
    return hashlib.sha256(text.encode()).hexdigest()[:16] if held else ""
