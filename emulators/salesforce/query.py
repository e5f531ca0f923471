"""Run SOQL against the org and page results with query locators (`nextRecordsUrl`)."""

from __future__ import annotations

import threading
from typing import Any

from . import content, ids, soql
from .errors import bad_request, malformed_query
from .org import Org
from .sharing import ACCESS_FIELDS, access_row
from .store import Record

DEFAULT_PAGE_SIZE = 2000
MIN_PAGE_SIZE = 200


def _value(org: Org, path: soql.Path, rec: Record) -> Any:
    if path.relationship is None:
        return rec.get(path.field.name)
    parent = _parent(org, path, rec)
    return parent.get(path.field.name) if parent else None


def _parent(org: Org, path: soql.Path, rec: Record) -> Record | None:
    assert path.relationship is not None
    found = org.find(rec.get(path.relationship.name))
    if not found:
        return None
    sobject, parent = found
    return parent if path.field.name in org.schema[sobject].fields else None


def _project(org: Org, query: soql.Query, rec: Record, base: str) -> dict[str, Any]:
    sobject = query.sobject
    url = f"{base}/sobjects/{sobject.name}/{rec['Id']}"
    out: dict[str, Any] = {"attributes": {"type": sobject.name, "url": url}}
    for path in query.select:
        if path.relationship is None:
            out[path.field.name] = org.render(sobject, rec, [path.field.name])[path.field.name]
            continue
        rel = path.relationship.relationship or ""
        parent_found = org.find(rec.get(path.relationship.name))
        if not parent_found:
            out.setdefault(rel, None)
            continue
        ptype, parent = parent_found
        nested = out.get(rel) or {
            "attributes": {"type": ptype, "url": f"{base}/sobjects/{ptype}/{parent['Id']}"}
        }
        pobj = org.schema[ptype]
        nested[path.field.name] = (
            org.render(pobj, parent, [path.field.name])[path.field.name]
            if path.field.name in pobj.fields
            else None
        )
        out[rel] = nested
    return out


def run(org: Org, text: str, *, include_deleted: bool, base: str) -> tuple[int, list[Any]]:
    """(totalSize, records as JSON) for one SOQL statement; caller holds the org lock."""
    query = soql.parse(text, org.schema, org.clock.now().date())
    content.check_query(query)
    if query.sobject.name == "UserRecordAccess":
        rows = _access_rows(org, query)
    else:
        rows = [
            r for r in org.store.rows(query.sobject.name) if include_deleted or not r["IsDeleted"]
        ]
    if query.where is not None:
        rows = [r for r in rows if soql.matches(query.where, lambda p, r=r: _value(org, p, r))]
    if query.order:
        key = soql.sort_key(query.order, lambda p, r: _value(org, p, r))
        rows = sorted(rows, key=key)
    rows = rows[query.offset :]
    if query.limit is not None:
        rows = rows[: query.limit]
    if query.count_only:
        return len(rows), []
    return len(rows), [_project(org, query, r, base) for r in rows]


class Cursors:
    """Remaining pages of query results, by locator."""

    def __init__(self) -> None:
        self._pages: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    def page(
        self,
        org: Org,
        total: int,
        records: list[Any],
        size: int,
        base: str,
        endpoint: str,
        locator: str | None = None,
        offset: int = 0,
    ) -> dict[str, Any]:
        chunk = records[offset : offset + size]
        done = offset + size >= len(records)
        result: dict[str, Any] = {"totalSize": total, "done": done, "records": chunk}
        if not done:
            with self._lock:
                if locator is None:
                    locator = org.ids.new("QueryLocator")[:15]
                    self._pages[locator] = records
            result["nextRecordsUrl"] = f"{base}/{endpoint}/{locator}-{offset + size}"
        elif locator is not None:
            with self._lock:
                self._pages.pop(locator, None)
        return result

    def records(self, locator: str) -> list[Any] | None:
        with self._lock:
            return self._pages.get(locator)


MAX_ACCESS_IDS = 200
_ACCESS_FILTER = (
    "UserRecordAccess requires a filter by a single UserId using the equals operator and by "
    "RecordId using the equals or IN operator, joined by AND"
)


def _access_rows(org: Org, query: soql.Query) -> list[Record]:
    """UserRecordAccess rows for the one user and the record ids the query names (R-33).

    The shape rules of the object reference: `UserId = <one id>` AND `RecordId = <id>` or
    `RecordId IN (<up to 200 ids>)`, optionally AND access-level fields; RecordId must be
    selected, and only RecordId when an access-level field is filtered. Unknown or deleted ids
    have no row (the running user, the integration user, reads everything here).
    """
    terms = _and_terms(query.where)
    users = [t for t in terms if t.path.field.name == "UserId"]
    records = [t for t in terms if t.path.field.name == "RecordId"]
    levels = [t for t in terms if t.path.field.name in ACCESS_FIELDS]
    if (len(users) != 1 or users[0].op != "=" or len(records) != 1
            or records[0].op not in ("=", "IN")
            or len(users) + len(records) + len(levels) != len(terms)):  # fmt: skip
        raise malformed_query(_ACCESS_FILTER)
    wanted = records[0].value if records[0].op == "IN" else [records[0].value]
    if len(wanted) > MAX_ACCESS_IDS:
        raise malformed_query(f"UserRecordAccess: up to {MAX_ACCESS_IDS} record ids can be queried")
    selected = {p.field.name for p in query.select}
    if "RecordId" not in selected:
        raise bad_request("INVALID_FIELD", "RecordId field must be selected")
    allowed = {"RecordId"} if levels else {"RecordId", "MaxAccessLevel", *ACCESS_FIELDS}
    if not selected <= allowed or any(p.relationship is not None for p in query.select):
        raise bad_request("INVALID_FIELD", "UserRecordAccess: select RecordId" + (
            " only when filtering by an access level field" if levels
            else " and access level fields only"))  # fmt: skip
    user = ids.normalise(users[0].value) or ""
    rows: dict[str, Record] = {}
    for value in wanted:
        record_id = ids.normalise(value)
        level = org.sharing.level(org, user, record_id) if record_id else None
        if record_id and level is not None:
            rows.setdefault(record_id, access_row(user, record_id, level))
    return list(rows.values())


def _and_terms(where: Any) -> list[soql.Compare]:
    if isinstance(where, soql.Compare):
        return [where]
    if isinstance(where, soql.BoolOp) and where.op == "AND":
        out: list[soql.Compare] = []
        for item in where.items:
            out += _and_terms(item)
        return out
    raise malformed_query(_ACCESS_FILTER)
