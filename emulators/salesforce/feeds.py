"""getUpdated / getDeleted: `sobjects/{type}/updated` and `/deleted` over a start/end window.

As in the real API (API-FACTS-2 §1.3): seconds are dropped, getUpdated reaches back 30 days and
getDeleted 15, getDeleted's start must come more than a minute before its end, and a delete log
that was purged (or a Recycle Bin that was emptied) after `start` makes getDeleted answer
INVALID_REPLICATION_DATE or an `earliestDateAvailable` later than `start`: the caller's cue to
check everything it holds again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .errors import bad_request
from .org import Org
from .timeutil import format_datetime, parse_datetime

MAX_AGE = timedelta(days=30)  # getUpdated
MAX_DELETED_AGE = timedelta(days=15)  # getDeleted, and how long the Recycle Bin keeps a row


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _window(org: Org, params: dict[str, str], max_age: timedelta) -> tuple[datetime, datetime]:
    """[start, covered) with seconds dropped, as the real resource does."""
    try:
        # an unencoded '+' in the query string arrives as a space
        start = parse_datetime(params["start"].replace(" ", "+"), require_zone=True)
        end = parse_datetime(params["end"].replace(" ", "+"), require_zone=True)
    except (KeyError, ValueError):
        raise bad_request(
            "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 date-times with a time zone"
        ) from None
    now = org.clock.now()
    start, end = _minute(start), _minute(end)
    if end <= start:
        raise bad_request(
            "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate"
        )
    if start < now - max_age:
        raise bad_request(
            "INVALID_REPLICATION_DATE",
            f"startDate can not be more than {max_age.days} days ago",
        )
    return start, min(end, _minute(now))


def updated(org: Org, sobject: str, params: dict[str, str]) -> dict[str, Any]:
    start, covered = _window(org, params, MAX_AGE)
    found = [
        r["Id"]
        for r in org.store.rows(sobject)
        if not r["IsDeleted"] and start <= r["SystemModstamp"] < covered
    ]
    return {"ids": found, "latestDateCovered": format_datetime(covered)}


def deleted(org: Org, sobject: str, params: dict[str, str]) -> dict[str, Any]:
    start, covered = _window(org, params, MAX_DELETED_AGE)
    if covered - start <= timedelta(minutes=1):
        raise bad_request(
            "INVALID_REPLICATION_DATE",
            "startDate must precede endDate by more than one minute",
        )
    if org.delete_log_purged_at is not None and start < org.delete_log_purged_at:
        # The delete log was trimmed after `start` (it is, every 2 h, once it grows past
        # 15,000 rows per licence): "do a full pull of the table".
        raise bad_request(
            "INVALID_REPLICATION_DATE",
            "the deleted records log was purged after startDate; replicate the whole table",
        )
    earliest = _minute(org.clock.now() - MAX_DELETED_AGE)
    if org.recycle_bin_emptied_at is not None:
        earliest = max(earliest, org.recycle_bin_emptied_at)
    rows = [
        r
        for r in org.store.rows(sobject)
        if r["IsDeleted"] and start <= r["_deleted_at"] < covered and r["_deleted_at"] >= earliest
    ]
    return {
        "deletedRecords": [
            {"id": r["Id"], "deletedDate": format_datetime(r["_deleted_at"])} for r in rows
        ],
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(covered),
    }


def in_recycle_bin(org: Org, rec: dict[str, Any]) -> bool:
    """Whether a deleted row is still in the Recycle Bin (queryAll reads it) or gone for good."""
    deleted_at = rec.get("_deleted_at")
    return deleted_at is not None and deleted_at >= org.clock.now() - MAX_DELETED_AGE
