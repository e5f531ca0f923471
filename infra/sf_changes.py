"""The poller's Salesforce reads: Event rows changed since a watermark, the delete log, and the
Events of given owners in the sliding window (R-21..R-25, R-30).

One `queryAll` on the indexed `SystemModstamp` returns every changed row, deleted ones included
while the Recycle Bin keeps them, with the values the echo check needs (API-FACTS-2 §1.2, §1.9);
getDeleted, asked at most every few minutes, says whether deletes were purged before calsync saw
them (§1.3). Values go through `soql_value`/`utc_literal` (R-35).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from core.errors import SalesforceValidationError
from core.sf_routing import SfChange
from infra.salesforce import EVENT_FIELDS, SalesforceAdapter, event_state, valid_id
from infra.salesforce_query import (
    MAX_URL_BYTES,
    encoded_url_bytes,
    parse_datetime,
    soql_value,
    utc_literal,
)
from infra.salesforce_wire import KEY_FIELD

ROW_FIELDS = ("IsChild", "IsDeleted", "LastModifiedById", "SystemModstamp")


class ReplicationGap(Exception):
    """getDeleted says deletes may have been purged before calsync read them
    (INVALID_REPLICATION_DATE, or an `earliestDateAvailable` after the window's start): every
    mapped Event must be checked again."""


@dataclass(frozen=True)
class DeletedFeed:
    ids: tuple[str, ...]
    latest: datetime  # latestDateCovered: the next window's start


def _names(sf: SalesforceAdapter) -> str:
    names = EVENT_FIELDS + ROW_FIELDS + ((KEY_FIELD,) if sf.has_key_field() else ())
    return ", ".join(dict.fromkeys(names))


def change_of(row: dict[str, Any]) -> SfChange:
    state = event_state(row)
    if row.get("IsDeleted"):
        state = replace(state, deleted=True)
    return SfChange(
        state,
        stamp=parse_datetime(row.get("SystemModstamp")),
        last_modified_by=str(row.get("LastModifiedById") or ""),
        is_child=bool(row.get("IsChild")),
    )


def _prefix(sf: SalesforceAdapter) -> str:
    return f"{sf.base_url}queryAll/"


def changed_since(sf: SalesforceAdapter, since: datetime,
                  owners: Sequence[str]) -> list[SfChange]:  # fmt: skip
    """Every Event row whose SystemModstamp is at or after `since`, deleted ones included.

    With the owners' ids filtering in SOQL when they fit one URL (one call whatever comes back,
    paging aside); otherwise unfiltered, and the caller keeps what it routes: one call still,
    however many users the org enables."""
    head = f"SELECT {_names(sf)} FROM Event WHERE SystemModstamp >= {utc_literal(since)}"
    order = " ORDER BY SystemModstamp ASC, Id ASC"
    owned = [o for o in dict.fromkeys(owners) if valid_id(o)]
    soql = head + order
    if owned:
        filtered = f"{head} AND OwnerId IN ({','.join(soql_value(o) for o in owned)}){order}"
        if encoded_url_bytes(_prefix(sf), filtered) <= MAX_URL_BYTES:
            soql = filtered
    return [change_of(row) for row in sf.query(soql, include_deleted=True)]


def owners_window(sf: SalesforceAdapter, owners: Sequence[str], lo: datetime,
                  hi: datetime) -> list[SfChange]:  # fmt: skip
    """The live top-level Events of these owners that start inside [lo, hi] (a newly enabled
    user's, a newly listed public calendar's)."""
    owned = [o for o in dict.fromkeys(owners) if valid_id(o)]
    if not owned:
        return []
    template = (f"SELECT {_names(sf)} FROM Event WHERE IsChild = false AND "
                f"StartDateTime >= {utc_literal(lo)} AND StartDateTime <= {utc_literal(hi)} "
                "AND OwnerId IN {values}")  # fmt: skip
    return [change_of(row) for row in sf.query_in(template, owned)]


def events_by_id(sf: SalesforceAdapter, ids: Iterable[str]) -> list[SfChange]:
    """These Events as they are now, deleted ones included while the Recycle Bin keeps them;
    an id Salesforce no longer has at all is missing from the answer."""
    wanted = sorted({i for i in ids if valid_id(i)})
    if not wanted:
        return []
    template = f"SELECT {_names(sf)} FROM Event WHERE Id IN {{values}}"
    return [change_of(row) for row in sf.query_in(template, wanted, include_deleted=True)]


def deleted_between(sf: SalesforceAdapter, start: datetime, end: datetime) -> DeletedFeed:
    """getDeleted over [start, end); raises ReplicationGap when Salesforce may have purged
    deletes after `start`."""
    try:
        answer = sf.deleted_feed(start.astimezone(UTC), end.astimezone(UTC))
    except SalesforceValidationError as exc:
        if exc.sf_code == "INVALID_REPLICATION_DATE":
            raise ReplicationGap(exc.message) from exc
        raise
    earliest = parse_datetime(answer.get("earliestDateAvailable"))
    if earliest is not None and earliest > start.replace(second=0, microsecond=0):
        raise ReplicationGap(f"deletes before {earliest.isoformat()} were purged")
    latest = parse_datetime(answer.get("latestDateCovered")) or end
    ids = tuple(str(r["id"]) for r in answer.get("deletedRecords") or [] if r.get("id"))
    return DeletedFeed(ids, latest)


def user_id(sf: SalesforceAdapter, username: str) -> str:
    """The Salesforce User id of calsync's integration user (the echo check's `by`)."""
    if sf.integration_user_id:
        return sf.integration_user_id
    if not username:
        return ""
    rows = sf.query(f"SELECT Id FROM User WHERE Username = {soql_value(username)}")
    return str(rows[0]["Id"]) if rows else ""
