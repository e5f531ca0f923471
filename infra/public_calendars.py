"""R-25's copies in Google: written as each entry's `writer` (domain-wide delegation), kept in
Firestore (`calsync_public_copies`: which copy, of which SF Event, with what fingerprint).

A create inserts with the copy's own id (core.public_calendars.copy_id): when Google answers 409
(an earlier attempt made it, or the id belongs to a copy deleted since), the copy is written in
place and set confirmed again. An update of a copy someone deleted in Google (404) makes it
again. A write that fails is kept as a pending copy and tried again by the next poll; one Google
refuses for good (the writer cannot write that calendar) opens CS-025 for the admin.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from core import public_calendars, series
from core.actions import WriteResult
from core.errors import CalsyncError
from core.fields import EventTime
from core.issues import Issue
from core.model import SfEventState
from core.ports import IssueStore
from core.public_calendars import CopyBody, CopyWrite, StoredCopy
from core.settings import Settings
from core.sf_routing import SfChange
from infra import sf_changes
from infra.google_calendar import GoogleCalendar, _Op
from infra.salesforce import SalesforceAdapter

log = logging.getLogger("calsync.public_calendars")

COPIES = "calsync_public_copies"
IN_LIMIT = 30
CANNOT_COPY = "CS-025"


def _time(t: EventTime) -> dict[str, str]:
    if t.date is not None:
        return {"date": t.date.isoformat()}
    assert t.date_time is not None
    return {"dateTime": t.date_time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "timeZone": "UTC"}  # fmt: skip


def event_body(body: CopyBody) -> dict[str, Any]:
    """A copy as Calendar API JSON: no attendees (nobody is invited), calsync's mark in the
    private properties, the admin's colour."""
    return {
        "summary": body.summary,
        "location": body.location,
        "description": body.description,
        "start": _time(body.start),
        "end": _time(body.end),
        "transparency": "transparent" if body.transparent else "opaque",
        "visibility": "private" if body.private else "default",
        "colorId": body.color_id,
        "status": "confirmed",
        "extendedProperties": {"private": {public_calendars.MARK: body.sf_event_id}},
    }


class CopyCalendar(GoogleCalendar):
    """The writer's access to the copies' calendars (batched, retried as every Calendar write)."""

    def _insert_op(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> _Op:
        return _Op(event_id, lambda: self._events().insert(
            calendarId=calendar_id, body={**body, "id": event_id}, sendUpdates="none",
            quotaUser=self.quota_user))  # fmt: skip

    def _update_op(self, calendar_id: str, event_id: str, body: dict[str, Any]) -> _Op:
        # The copy is calsync's own event on that calendar: a whole update is right (no
        # attendee copy to spare); it also brings back a copy deleted in Google.
        return _Op(event_id, lambda: self._events().update(
            calendarId=calendar_id, eventId=event_id, body=body, sendUpdates="none",
            quotaUser=self.quota_user))  # fmt: skip

    def write_copies(self, writes: Sequence[CopyWrite]) -> list[WriteResult]:
        """One result per write, in order; `ref` is the copy's event id."""
        results: dict[int, WriteResult] = {}
        upserts = [(n, w) for n, w in enumerate(writes) if w.action != "delete" and w.body]
        deletes = [(n, w) for n, w in enumerate(writes) if w.action == "delete"]
        first = [self._insert_op(w.calendar.google_calendar, w.event_id, event_body(w.body))
                 if w.action == "create" else
                 self._update_op(w.calendar.google_calendar, w.event_id, event_body(w.body))
                 for _, w in upserts if w.body]  # fmt: skip
        again: list[tuple[int, CopyWrite]] = []
        for (n, w), result in zip(upserts, self._write(first), strict=True):
            exists = w.action == "create" and _status(result) in ("duplicate", "409")
            missing = w.action == "update" and _status(result) in ("notFound", "404")
            if exists or missing:
                again.append((n, w))
            else:
                results[n] = result
        second = [self._update_op(w.calendar.google_calendar, w.event_id, event_body(w.body))
                  if w.action == "create" else
                  self._insert_op(w.calendar.google_calendar, w.event_id, event_body(w.body))
                  for _, w in again if w.body]  # fmt: skip
        for (n, _), result in zip(again, self._write(second), strict=True):
            results[n] = result
        if deletes:
            done = self.delete_events(
                [(w.calendar.google_calendar, w.event_id) for _, w in deletes]
            )
            for (n, _), result in zip(deletes, done, strict=True):
                results[n] = result
        return [results[n] for n in range(len(writes))]


def _status(result: WriteResult) -> str:
    return "" if result.ok else result.error_code


def copy_doc_id(google_calendar: str, sf_event_id: str) -> str:
    return hashlib.sha256(f"{google_calendar.lower()}\n{sf_event_id}".encode()).hexdigest()


class FirestoreCopyStore:
    """The copies calsync made (one document per calendar and SF Event)."""

    def __init__(self, client: firestore.Client) -> None:
        self._col = client.collection(COPIES)
        self._db = client

    def for_events(self, sf_event_ids: Iterable[str]) -> list[StoredCopy]:
        ids = sorted(set(sf_event_ids))
        out: list[StoredCopy] = []
        for start in range(0, len(ids), IN_LIMIT):
            query = self._col.where(
                filter=FieldFilter("sf_event_id", "in", ids[start : start + IN_LIMIT])
            )
            out += [_copy_of(d.to_dict() or {}) for d in query.stream()]
        return out

    def pending(self) -> list[StoredCopy]:
        query = self._col.where(filter=FieldFilter("pending", "==", True))
        return [_copy_of(d.to_dict() or {}) for d in query.stream()]

    def put(self, copies: Sequence[StoredCopy], pending: bool, now: datetime) -> None:
        batch = self._db.batch()
        for c in copies:
            batch.set(self._col.document(copy_doc_id(c.google_calendar, c.sf_event_id)), {
                "sf_calendar_id": c.sf_calendar_id, "google_calendar": c.google_calendar,
                "sf_event_id": c.sf_event_id, "event_id": c.event_id,
                "fingerprint": c.fingerprint, "writer": c.writer, "pending": pending,
                "updated": now,
            })  # fmt: skip
        batch.commit()

    def delete(self, copies: Sequence[tuple[str, str]]) -> None:
        batch = self._db.batch()
        for calendar, sf_event_id in copies:
            batch.delete(self._col.document(copy_doc_id(calendar, sf_event_id)))
        batch.commit()


def _copy_of(d: dict[str, Any]) -> StoredCopy:
    return StoredCopy(str(d.get("sf_calendar_id", "")), str(d.get("google_calendar", "")),
                      str(d.get("sf_event_id", "")), str(d.get("event_id", "")),
                      "" if d.get("pending") else str(d.get("fingerprint", "")),
                      str(d.get("writer", "")))  # fmt: skip


class PublicCopies:
    """R-25 for one poll: the Events of listed calendars that changed (and, for calendars newly
    listed or recoloured, all their Events in the window), planned against the copies stored,
    written as each entry's writer, recorded. Implements infra.sf_poll.PublicCopier."""

    def __init__(self, store: FirestoreCopyStore, writer_for: Callable[[str], CopyCalendar],
                 salesforce: Callable[[], SalesforceAdapter], issues: IssueStore) -> None:  # fmt: skip
        self.store = store
        self.writer_for = writer_for
        self.salesforce = salesforce
        self.issues = issues

    def __call__(self, changes: Sequence[SfChange], whole: Sequence[str], settings: Settings,
                 now: datetime) -> int:  # fmt: skip
        events: dict[str, SfEventState] = {
            c.id: c.event for c in changes if c.read or c.event.deleted
        }
        sf = self.salesforce()
        if whole:
            lo, hi = series.window(settings, now)
            for c in sf_changes.owners_window(sf, list(whole), lo, hi):
                events.setdefault(c.id, c.event)
        retry = [c for c in self.store.pending() if c.sf_event_id not in events]
        if retry:
            found = {
                c.id: c.event for c in sf_changes.events_by_id(sf, [c.sf_event_id for c in retry])
            }
            for c in retry:
                events[c.sf_event_id] = found.get(c.sf_event_id) or SfEventState(
                    c.sf_event_id, c.sf_calendar_id, deleted=True
                )
        if not events:
            return 0
        writes = public_calendars.plan(
            events.values(), self.store.for_events(events), settings, now
        )
        return self._apply(writes, now)

    def _apply(self, writes: Sequence[CopyWrite], now: datetime) -> int:
        by_writer: dict[str, list[CopyWrite]] = {}
        for w in writes:
            by_writer.setdefault(w.calendar.writer, []).append(w)
        done = 0
        refused: dict[str, str] = {}
        for writer, chunk in sorted(by_writer.items()):
            try:
                results = self.writer_for(writer).write_copies(chunk)
            except CalsyncError as exc:  # delegation refused for the writer, ...
                results = [WriteResult(w.event_id, False, "", exc.code, exc.message,
                                       exc.retryable) for w in chunk]  # fmt: skip
            ok, failed = [], []
            for w, r in zip(chunk, results, strict=True):
                (ok if r.ok else failed).append((w, r))
                if not r.ok and not r.retryable:
                    refused[w.calendar.google_calendar] = f"{r.error_code}: {r.message}"[:300]
            self._record(ok, failed, now)
            done += len(ok)
        self._issues(writes, refused, now)
        return done

    def _record(self, ok: list[tuple[CopyWrite, WriteResult]],
                failed: list[tuple[CopyWrite, WriteResult]], now: datetime) -> None:  # fmt: skip
        stored = [_stored(w) for w, _ in ok if w.action != "delete"]
        gone = [(w.calendar.google_calendar, w.sf_event_id) for w, _ in ok if w.action == "delete"]
        pending = [_stored(w) for w, _ in failed]
        if stored:
            self.store.put(stored, False, now)
        if pending:
            self.store.put(pending, True, now)
        if gone:
            self.store.delete(gone)
        for w, r in failed:
            log.warning("public copy not written", extra={"action": w.action,
                                                          "code": r.error_code})  # fmt: skip

    def _issues(self, writes: Sequence[CopyWrite], refused: dict[str, str], now: datetime) -> None:
        """CS-025 per Google calendar the writer cannot write; closed once a write there works."""
        try:
            have = {i.key: i for i in self.issues.open_for_user("") if i.code == CANNOT_COPY}
            written = {f"calendar:{w.calendar.google_calendar}" for w in writes} - {
                f"calendar:{c}" for c in refused
            }
            opened = [Issue(CANNOT_COPY, "", f"calendar:{c}",
                            f"the copies of the public calendar cannot be written in {c}: {why}")
                      for c, why in sorted(refused.items())]  # fmt: skip
            opened = [
                i for i in opened if have.get(i.key) is None or have[i.key].message != i.message
            ]
            closed = [i for k, i in have.items() if k in written]
            if opened or closed:
                self.issues.record(opened, closed, now)
        except CalsyncError:
            log.warning("public calendar issue not recorded")


def _stored(w: CopyWrite) -> StoredCopy:
    fp = w.body.fingerprint if w.body is not None else ""
    return StoredCopy(w.calendar.sf_calendar_id, w.calendar.google_calendar, w.sf_event_id,
                      w.event_id, fp, w.calendar.writer)  # fmt: skip
