"""In-memory record tables with an undo journal, so allOrNone requests can roll back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Record = dict[str, Any]

# Fields whose values are unique across live (not deleted) rows, compared case-insensitively.
UNIQUE_INDEXED = {("User", "Username"), ("Event", "Calsync_Key__c")}
# Fields records are looked up by (an Event's relations, a series' child Events), indexed as
# Salesforce indexes lookup fields: a write to one Event of a large org costs what it costs in
# a small one, instead of a scan of every relation (deleted rows included; callers filter).
LOOKUP_INDEXED = (("EventRelation", "EventId"), ("Event", "_parent"))


class Store:
    """Tables keyed by sObject name then Id (insertion ordered). Callers hold the org lock."""

    def __init__(self, types: list[str]) -> None:
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in types}
        self._unique: dict[tuple[str, str], dict[str, str]] = {k: {} for k in UNIQUE_INDEXED}
        self._journal: list[tuple[str, str, Record | None]] | None = None
        # (table, field) -> value -> ids (ordered), and id -> the value it is indexed under
        self._lookup: dict[tuple[str, str], dict[Any, dict[str, None]]] = {
            k: {} for k in LOOKUP_INDEXED
        }
        self._indexed_as: dict[tuple[str, str], dict[str, Any]] = {k: {} for k in LOOKUP_INDEXED}

    def get(self, sobject: str, record_id: str) -> Record | None:
        return self.tables[sobject].get(record_id)

    def rows(self, sobject: str) -> Iterator[Record]:
        return iter(list(self.tables[sobject].values()))

    def find_unique(self, sobject: str, field: str, value: str) -> str | None:
        return self._unique[(sobject, field)].get(value.lower())

    def having(self, sobject: str, field: str, value: Any) -> list[Record]:
        """The rows whose `field` is `value`, for a field of LOOKUP_INDEXED."""
        table = self.tables[sobject]
        ids = self._lookup[(sobject, field)].get(value, {})
        return [table[i] for i in list(ids) if i in table]

    def _relate(self, sobject: str, record_id: str, record: Record | None) -> None:
        for (table, field), index in self._lookup.items():
            if table != sobject:
                continue
            indexed_as = self._indexed_as[(table, field)]
            if record_id in indexed_as:
                old = indexed_as.pop(record_id)
                index[old].pop(record_id, None)
                if not index[old]:
                    del index[old]
            value = record.get(field) if record else None
            if value is not None:
                index.setdefault(value, {})[record_id] = None
                indexed_as[record_id] = value

    def put(self, sobject: str, record: Record) -> None:
        record_id = record["Id"]
        previous = self.tables[sobject].get(record_id)
        if self._journal is not None:
            self._journal.append((sobject, record_id, dict(previous) if previous else None))
        self._index(sobject, previous, record)
        self.tables[sobject][record_id] = record
        self._relate(sobject, record_id, record)

    def purge(self, sobject: str, record_id: str) -> None:
        """Remove a row for good (outside any journal: the Recycle Bin is not transactional)."""
        old = self.tables[sobject].pop(record_id, None)
        self._index(sobject, old, None)

    def _index(self, sobject: str, old: Record | None, new: Record | None) -> None:
        for (table, field), index in self._unique.items():
            if table != sobject:
                continue
            for rec, add in ((old, False), (new, True)):
                value = rec.get(field) if rec else None
                if not value or rec.get("IsDeleted"):  # type: ignore[union-attr]
                    continue
                if add:
                    index[value.lower()] = rec["Id"]  # type: ignore[index]
                elif index.get(value.lower()) == rec["Id"]:  # type: ignore[index]
                    del index[value.lower()]

    # -- journal -------------------------------------------------------------------------
    def begin(self) -> None:
        self._journal = []

    def commit(self) -> None:
        self._journal = None

    def wrote(self) -> bool:
        """Whether the open journal holds any change (something would be committed)."""
        return bool(self._journal)

    def written(self, sobject: str) -> list[tuple[str, Record | None]]:
        """(id, the row before the open transaction) of each `sobject` row it wrote, in order."""
        seen: dict[str, Record | None] = {}
        for table, record_id, previous in self._journal or []:
            if table == sobject and record_id not in seen:
                seen[record_id] = previous
        return list(seen.items())

    def mark(self) -> int:
        """A savepoint: roll back to it with rollback_to()."""
        return len(self._journal) if self._journal is not None else 0

    def rollback_to(self, mark: int) -> None:
        journal = self._journal or []
        for sobject, record_id, previous in reversed(journal[mark:]):
            current = self.tables[sobject].get(record_id)
            self._index(sobject, current, previous)
            if previous is None:
                self.tables[sobject].pop(record_id, None)
            else:
                self.tables[sobject][record_id] = previous
            self._relate(sobject, record_id, previous)
        del journal[mark:]

    def rollback(self) -> None:
        self.rollback_to(0)
        self._journal = None
