"""Recurring series: instance ids, virtual instances built from a master, exceptions.

An instance that was never changed is not stored: it is computed from its series master when
asked for. Changing or cancelling an instance stores an exception under the instance's id.
"""

from __future__ import annotations

import copy as copying
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from .recurrence import Expander
from .store import Copy
from .times import EventTime, event_time_value, instance_suffix, parse_event_time


@lru_cache(maxsize=1024)
def _expander(start_key: str, end_key: str, lines: tuple[str, ...]) -> Expander:
    return Expander(parse_event_time(json.loads(start_key), "start"), list(lines))


def expander(master: dict[str, Any]) -> Expander:
    return _expander(
        json.dumps(master["start"], sort_keys=True),
        json.dumps(master["end"], sort_keys=True),
        tuple(master["recurrence"]),
    )


def is_master(data: dict[str, Any]) -> bool:
    return bool(data.get("recurrence"))


def times(data: dict[str, Any]) -> tuple[EventTime, EventTime]:
    return parse_event_time(data["start"], "start"), parse_event_time(data["end"], "end")


def parse_instance_id(event_id: str) -> tuple[str, datetime, bool] | None:
    """`<series>_20240501T100000Z` → (series, start, all_day=False); `<series>_20240501` → all-day."""
    master_id, sep, suffix = event_id.rpartition("_")
    if not sep or not master_id:
        return None
    try:
        if len(suffix) == 16 and suffix.endswith("Z"):
            return master_id, datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), False
        if len(suffix) == 8:
            return master_id, datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC), True
    except ValueError:
        return None
    return None


def instance_data(master: dict[str, Any], start: datetime) -> dict[str, Any]:
    """The resource of the instance of `master` that starts at `start` (unchanged instance)."""
    first_start, first_end = times(master)
    duration = first_end.moment - first_start.moment
    all_day = first_start.all_day
    data = copying.deepcopy(master)
    data.pop("recurrence", None)
    data["id"] = f"{master['id']}_{instance_suffix(start, all_day)}"
    data["recurringEventId"] = master["id"]
    data["originalStartTime"] = event_time_value(start, all_day, first_start.tz_name)
    data["start"] = event_time_value(start, all_day, first_start.tz_name)
    data["end"] = event_time_value(start + duration, all_day, first_end.tz_name)
    return data


def virtual_instance(events: dict[str, Copy], event_id: str) -> tuple[Copy, dict[str, Any]] | None:
    """(master copy, instance data) when `event_id` names an unchanged instance of a stored series."""
    parsed = parse_instance_id(event_id)
    if parsed is None:
        return None
    master_id, start, all_day = parsed
    master = events.get(master_id)
    if master is None or not is_master(master.data):
        return None
    rule = expander(master.data)
    if rule.all_day != all_day or not rule.contains(start):
        return None
    return master, instance_data(master.data, start)


def exceptions_of(events: dict[str, Copy], master_id: str) -> list[Copy]:
    return [c for c in events.values() if c.data.get("recurringEventId") == master_id]


def expand(
    master: Copy,
    events: dict[str, Copy],
    after: datetime | None,
    before: datetime | None,
    *,
    include_cancelled: bool,
) -> list[tuple[dict[str, Any], Copy]]:
    """Instances of a series overlapping [after, before): (resource, copy it comes from).

    Exceptions replace the computed instance with the same id; cancelled ones are left out unless
    asked for. Each pair's copy gives the etag and change number of what is shown.
    """
    start, end = times(master.data)
    duration = end.moment - start.moment
    lo = after - duration if after is not None else None
    result = []
    overrides = {c.id: c for c in exceptions_of(events, master.id)}
    for moment in expander(master.data).starts(lo, before):
        instance_id = f"{master.id}_{instance_suffix(moment, start.all_day)}"
        stored = overrides.pop(instance_id, None)
        if stored is not None:
            if stored.cancelled and not include_cancelled:
                continue
            result.append((stored.data, stored))
            continue
        if after is not None and moment + duration <= after:
            continue
        result.append((instance_data(master.data, moment), master))
    return result
