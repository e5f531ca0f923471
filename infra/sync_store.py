"""Firestore storage of a session's results: mappings (item ↔ SF Event) and issues (R-29, R-31).

Writes go in batches of at most 500 (the emulator's limit, API-FACTS D). Document ids are hashes
of the natural keys, so every write is idempotent: writing the same mapping or issue twice leaves
one document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from core.issues import Issue
from core.model import ItemKey, Mapping, MappingQuery, Role, StoredFile
from core.ports import Fence
from infra.fencing import commit

MAPPINGS = "calsync_mappings"
ISSUES = "calsync_issues"
BATCH = 500
IN_LIMIT = 30  # Firestore `in` filters take at most 30 values


def _doc_id(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def mapping_id(user_email: str, key: ItemKey) -> str:
    return _doc_id(user_email, key.ical_uid, key.instance)


def mapping_to_doc(m: Mapping) -> dict[str, Any]:
    return {
        "user_email": m.user_email,
        "ical_uid": m.key.ical_uid,
        "instance": m.key.instance,
        "calendar_id": m.calendar_id,
        "event_id": m.event_id,
        "owner_sf_id": m.owner_sf_id,
        "sf_event_id": m.sf_event_id,
        "sync_key": m.sync_key,
        "role": m.role.value,
        "google_fp": dict(m.google_fp),
        "sf_fp": dict(m.sf_fp),
        "prev_color": m.prev_color,
        "pattern": m.pattern,
        "occurrence_of": m.occurrence_of,
        "linked": list(m.linked),
        "attachments": list(m.attachments),
        "pending_create": m.pending_create,
        "pending_delete": m.pending_delete,
        "pending": m.pending_create or m.pending_delete,  # one query finds both (issue 14)
        "start": m.start,
        "tried_starts": list(m.tried_starts),
        "tombstone": m.tombstone,
        "etag": m.etag,
        "zone": m.zone,
        "files": [
            {
                "file_id": f.file_id,
                "document_id": f.content_document_id,
                "revision": f.revision,
                "sf_event_id": f.sf_event_id,
            }
            for f in m.files
        ],  # fmt: skip
    }


def _mapping_of(snapshot: Any) -> Mapping:
    return mapping_from_doc(snapshot.to_dict() or {})


def mapping_from_doc(d: dict[str, Any]) -> Mapping:
    return Mapping(
        user_email=d["user_email"],
        key=ItemKey(d["ical_uid"], d.get("instance", "")),
        calendar_id=d.get("calendar_id", ""),
        event_id=d.get("event_id", ""),
        owner_sf_id=d.get("owner_sf_id", ""),
        sf_event_id=d.get("sf_event_id", ""),
        sync_key=d.get("sync_key", ""),
        role=Role(d.get("role", Role.OWNER.value)),
        google_fp=tuple(sorted((d.get("google_fp") or {}).items())),
        sf_fp=tuple(sorted((d.get("sf_fp") or {}).items())),
        prev_color=d.get("prev_color"),
        pattern=d.get("pattern", ""),
        occurrence_of=d.get("occurrence_of", ""),
        linked=tuple(d.get("linked") or ()),
        attachments=tuple(d.get("attachments") or ()),
        pending_create=d.get("pending_create") is True,
        pending_delete=d.get("pending_delete") is True,
        start=str(d.get("start") or ""),
        tried_starts=tuple(d.get("tried_starts") or ()),
        tombstone=str(d.get("tombstone") or ""),
        etag=str(d.get("etag") or ""),
        zone=str(d.get("zone") or ""),
        files=tuple(
            StoredFile(
                f["file_id"],
                f.get("document_id", ""),
                f.get("revision", ""),
                f.get("sf_event_id", ""),
            )
            for f in d.get("files") or ()
        ),  # fmt: skip
    )


class FirestoreMappingStore:
    """Implements core.ports.MappingStore."""

    def __init__(self, client: firestore.Client):
        self._db = client
        self._col = client.collection(MAPPINGS)

    def for_user(self, email: str) -> list[Mapping]:
        query = self._col.where(filter=FieldFilter("user_email", "==", email))
        return [mapping_from_doc(doc.to_dict() or {}) for doc in query.stream()]

    def for_query(self, email: str, query: MappingQuery) -> list[Mapping]:
        """The mappings `query` wants: keys read by document id (one batch read), the rest by
        queries on this user's documents, 30 values at a time; each mapping once."""
        found: dict[ItemKey, Mapping] = {}
        refs = [self._col.document(mapping_id(email, k)) for k in sorted(query.keys, key=str)]
        for chunk in _chunks(refs, BATCH):
            for snapshot in self._db.get_all(list(chunk)):
                if snapshot.exists:
                    m = mapping_from_doc(snapshot.to_dict() or {})
                    found[m.key] = m
        mine = FieldFilter("user_email", "==", email)
        fields = (("event_id", query.event_ids), ("ical_uid", query.ical_uids),
                  ("sf_event_id", query.sf_event_ids), ("sync_key", query.sync_keys))  # fmt: skip
        for name, values in fields:
            for chunk in _chunks(sorted(v for v in values if v), IN_LIMIT):
                q = self._col.where(filter=mine).where(filter=FieldFilter(name, "in", list(chunk)))
                found.update((m.key, m) for m in map(_mapping_of, q.stream()))
        if query.pending:
            q = self._col.where(filter=mine).where(filter=FieldFilter("pending", "==", True))
            found.update((m.key, m) for m in map(_mapping_of, q.stream()))
        return [found[k] for k in sorted(found, key=str)]

    def count_saved(self, email: str) -> int:
        """core.model.saved_count, as one count aggregation (a read per 1,000 entries)."""
        q = (
            self._col.where(filter=FieldFilter("user_email", "==", email))
            .where(filter=FieldFilter("role", "==", Role.OWNER.value))
            .where(filter=FieldFilter("occurrence_of", "==", ""))
            .where(filter=FieldFilter("pending_create", "==", False))
        )
        return int(q.count().get()[0][0].value)

    def get(self, email: str, key: ItemKey) -> Mapping | None:
        """One item's mapping of one user (the sidebar reads it by id, not by query)."""
        snapshot = self._col.document(mapping_id(email, key)).get()
        return mapping_from_doc(snapshot.to_dict() or {}) if snapshot.exists else None

    def for_ical_uids(self, uids: Iterable[str]) -> list[Mapping]:
        """Every user's mappings of these iCalUIDs (R-11 needs the organiser's)."""
        out: list[Mapping] = []
        for chunk in _chunks(sorted(set(uids)), IN_LIMIT):
            query = self._col.where(filter=FieldFilter("ical_uid", "in", list(chunk)))
            out += [mapping_from_doc(doc.to_dict() or {}) for doc in query.stream()]
        return out

    def for_sf_events(self, sf_event_ids: Iterable[str]) -> list[Mapping]:
        """Every user's mappings of these SF Event ids (the poller's routing, R-23)."""
        out: list[Mapping] = []
        for chunk in _chunks(sorted({i for i in sf_event_ids if i}), IN_LIMIT):
            query = self._col.where(filter=FieldFilter("sf_event_id", "in", list(chunk)))
            out += [mapping_from_doc(doc.to_dict() or {}) for doc in query.stream()]
        return out

    def mapped_sf_events(self) -> Iterator[Mapping]:
        """Every mapping with an SF Event id, all users (a full check after deletes were
        purged before calsync read them); read in pages."""
        query = self._col.where(filter=FieldFilter("sf_event_id", ">", "")).order_by("sf_event_id")
        last = None
        while True:
            page = (query.start_after(last) if last is not None else query).limit(BATCH)
            docs = list(page.stream())
            for doc in docs:
                yield mapping_from_doc(doc.to_dict() or {})
            if len(docs) < BATCH:
                return
            last = docs[-1]

    def put(self, mappings: Sequence[Mapping], fence: Fence | None = None) -> None:
        for chunk in _chunks(mappings, BATCH):
            commit(self._db, fence, [
                (self._col.document(mapping_id(m.user_email, m.key)), mapping_to_doc(m))
                for m in chunk
            ])  # fmt: skip

    def delete(self, user_email: str, keys: Sequence[ItemKey], fence: Fence | None = None) -> None:
        for chunk in _chunks(keys, BATCH):
            commit(self._db, fence,
                   [(self._col.document(mapping_id(user_email, key)), None) for key in chunk])  # fmt: skip


def issue_id(issue: Issue) -> str:
    return _doc_id(*issue.ident)


class FirestoreIssueStore:
    """Implements core.ports.IssueStore: one document per (user, item, code), open or closed."""

    def __init__(self, client: firestore.Client):
        self._db = client
        self._col = client.collection(ISSUES)

    def open_for_user(self, email: str) -> list[Issue]:
        query = self._col.where(filter=FieldFilter("user_email", "==", email)).where(
            filter=FieldFilter("open", "==", True)
        )
        return [_issue_from(doc.to_dict() or {}) for doc in query.stream()]

    def list_open(self, email: str = "", code: str = "") -> list[dict[str, Any]]:
        """Open issues with their counts and times, for the CLI and the dashboard (R-32)."""
        query: Any = self._col.where(filter=FieldFilter("open", "==", True))
        if email:
            query = query.where(filter=FieldFilter("user_email", "==", email))
        if code:
            query = query.where(filter=FieldFilter("code", "==", code))
        rows = [doc.to_dict() or {} for doc in query.stream()]
        return sorted(rows, key=lambda r: (r["user_email"], r["code"], r.get("key", "")))

    def close_for_user(self, email: str, now: datetime) -> int:
        """Close every open issue of a user (`users remove`); returns how many were open."""
        query = self._col.where(filter=FieldFilter("user_email", "==", email)).where(
            filter=FieldFilter("open", "==", True)
        )
        refs = [doc.reference for doc in query.stream()]
        for chunk in _chunks(refs, BATCH):
            batch = self._db.batch()
            for ref in chunk:
                batch.set(ref, {"open": False, "closed": now}, merge=True)
            batch.commit()
        return len(refs)

    def record(self, opened: Sequence[Issue], closed: Sequence[Issue], now: datetime,
               fence: Fence | None = None) -> None:  # fmt: skip
        """Open (or count again) and close issues; first seen is kept, last seen and count move."""
        refs = [self._col.document(issue_id(i)) for i in opened]
        existing = (
            {s.id: s.to_dict() or {} for s in self._db.get_all(refs) if s.exists} if refs else {}
        )
        writes: list[tuple[firestore.DocumentReference, dict[str, Any]]] = []
        for issue, ref in zip(opened, refs, strict=True):
            before = existing.get(ref.id, {})
            still_open = before.get("open", False)
            writes.append(
                (
                    ref,
                    {
                        "code": issue.code,
                        "user_email": issue.user_email,
                        "key": issue.key,
                        "message": issue.message,
                        "title": issue.title,
                        "start": issue.start,
                        "open": True,
                        "first_seen": before.get("first_seen", now) if still_open else now,
                        "last_seen": now,
                        "count": (before.get("count", 0) if still_open else 0) + 1,
                    },
                )
            )
        for issue in closed:
            writes.append((self._col.document(issue_id(issue)), {"open": False, "closed": now}))
        for chunk in _chunks(writes, BATCH):
            commit(self._db, fence, chunk, merge=True)


def _issue_from(d: dict[str, Any]) -> Issue:
    return Issue(
        code=d["code"],
        user_email=d["user_email"],
        key=d.get("key", ""),
        message=d.get("message", ""),
        title=d.get("title", ""),
        start=d.get("start"),
    )
