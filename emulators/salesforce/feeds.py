"""getUpdated / getDeleted: `sobjects/{type}/updated` and `/deleted` over a start/end window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .errors import bad_request
from .org import Org
from .timeutil import format_datetime, parse_datetime

MAX_AGE = timedelta(days=30)


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def _window(org: Org, params: dict[str, str]) -> tuple[datetime, datetime]:
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
    if start < now - MAX_AGE:
        raise bad_request("INVALID_REPLICATION_DATE", "startDate can not be more than 30 days ago")
    return start, min(end, _minute(now))


def updated(org: Org, sobject: str, params: dict[str, str]) -> dict[str, Any]:
    start, covered = _window(org, params)
    found = [
        r["Id"]
        for r in org.store.rows(sobject)
        if not r["IsDeleted"] and start <= r["SystemModstamp"] < covered
    ]
    return {"ids": found, "latestDateCovered": format_datetime(covered)}


def deleted(org: Org, sobject: str, params: dict[str, str]) -> dict[str, Any]:
    start, covered = _window(org, params)
    rows = [
        r for r in org.store.rows(sobject) if r["IsDeleted"] and start <= r["_deleted_at"] < covered
    ]
    return {
        "deletedRecords": [
            {"id": r["Id"], "deletedDate": format_datetime(r["_deleted_at"])} for r in rows
        ],
        "earliestDateAvailable": format_datetime(_minute(org.clock.now() - MAX_AGE)),
        "latestDateCovered": format_datetime(covered),
    }
