"""Recurring series (R-17): what SF Events a series becomes, and the instances saved one by one.

A series Salesforce can express becomes one recurring SF Event. One it cannot express is saved
instance by instance inside the sliding window, within limits (audit M9): a rule more frequent
than daily, or one with more than MAX_INSTANCES instances in the window, is refused with CS-019
instead of flooding Salesforce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core import recurrence
from core.model import Item, ItemKey, Mapping, Span, instance_text, sync_key
from core.settings import Settings

MAX_INSTANCES = 100  # instance-by-instance saves of one series inside the window
TOO_MANY = "CS-019"


@dataclass(frozen=True)
class Target:
    """One SF Event an item becomes: the item, a series, or one instance of a series."""

    key: ItemKey
    span: Span
    pattern: str = ""


@dataclass(frozen=True)
class Targets:
    """The SF Events of an item; `note` says why a series is saved instance by instance;
    `refusal` (with `code`) why it cannot be saved at all."""

    targets: tuple[Target, ...] = ()
    note: str = ""
    refusal: str = ""
    code: str = ""


def window(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """R-05: the sliding window (core.settings.Settings.window)."""
    return settings.window(now)


def targets(
    item: Item, settings: Settings, now: datetime,
    bounds: tuple[datetime, datetime] | None = None,
) -> Targets:  # fmt: skip
    """The SF Events `item` becomes (R-17); instance by instance, those inside the window, or
    inside `bounds` (a backfill's range, R-38, start included, end not)."""
    assert item.span is not None
    if not item.is_series:
        return Targets((Target(item.key, item.span),))
    translation = recurrence.translate(item.recurrence, item.span)
    if translation.ok:
        return Targets((Target(item.series_key, item.span, translation.pattern),))
    if recurrence.sub_daily(item.recurrence):
        return Targets(refusal="the series repeats more often than daily; save single "
                       "instances instead", code=TOO_MANY)  # fmt: skip
    lo, hi = bounds or window(settings, now)
    try:
        spans = recurrence.instances(item.recurrence, item.span, lo, hi, limit=MAX_INSTANCES + 1)
    except (ValueError, TypeError, OverflowError):
        spans = []
    if bounds is not None:  # a backfill's range is [since, until): `until` is the next range's
        spans = [s for s in spans if s.start_utc < hi]
    if len(spans) > MAX_INSTANCES:
        return Targets(refusal=f"the series has more than {MAX_INSTANCES} instances in the "
                       "window or range, too many to save one by one", code=TOO_MANY)  # fmt: skip
    uid = item.series_key.ical_uid
    out = tuple(
        Target(ItemKey(uid, instance_text(s.start_date if s.is_all_day else s.start_utc)), s)
        for s in spans
    )
    return Targets(out, note=f"saved instance by instance: {translation.refusal}")


def series_copy_key(owner: str, item: Item, result: Targets) -> str:
    """The sync key a series' copy carries (R-39): the one SF series' key, or, instance by
    instance, the series' own key (it must not change as the window slides)."""
    if len(result.targets) == 1 and result.targets[0].pattern:
        target = result.targets[0]
        return sync_key(owner, target.key, recurrence.normalise(target.pattern))
    return sync_key(owner, item.series_key)


def instance_start(m: Mapping) -> datetime | None:
    """When the instance a mapping keys starts (None for a whole item)."""
    text = m.key.instance
    for fmt in ("%Y%m%dT%H%M%SZ", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def original_start(item: Item) -> datetime:
    """An instance's `originalStartTime` as a UTC instant (an all-day one at midnight UTC)."""
    original = item.original_start
    assert original is not None
    if isinstance(original, datetime):
        return original.astimezone(UTC)
    return datetime.combine(original, datetime.min.time(), UTC)
