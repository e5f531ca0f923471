"""The echo ledger (R-26): what calsync's sessions wrote to Salesforce Events in the last minutes,
so that the poll can tell its own writes from real changes without a mapping lookup per row.

A session that put mappings after writing Salesforce Events records, in one Firestore commit at
its end, `{SF Event id: sf_fp}` of those mappings (`calsync_sf_writes/{auto id}`: `at`, the
commit's own time; `expires`, for the TTL policy; `user`; `written`). The poll reads the documents
of its overlap in one query and drops a row that calsync's integration user changed last and
whose values still hash as recorded (core/sf_routing.py `ledger_echo`); any other row is looked
up in the mappings as before. The ledger only ever saves lookups: a session whose ledger write
failed, a poll that finds no document, or a document that says something else all end in the
lookup, which is correct and slower. The poll deletes documents past their time (a bounded number
per poll), and Terraform's TTL policy on `expires` does it too in production.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from core.actions import SfCreate, SfUpdate
from core.outcome import Outcome
from core.sf_routing import Fingerprint

log = logging.getLogger("calsync.sf_ledger")

LEDGER = "calsync_sf_writes"
KEPT = timedelta(minutes=15)  # a poll runs every minute: rows older than this are looked up
PER_DOC = 2000  # entries per document (a fingerprint is ~200 bytes; a document holds 1 MiB)
DELETED_PER_POLL = 200  # documents a poll deletes at most (TTL does the rest in production)


LedgerWrite = Callable[[str, Iterable[Outcome]], None]
"""(user, the session's outcomes): the session's one call after its writes."""


def written(outcomes: Iterable[Outcome]) -> dict[str, Fingerprint]:
    """SF Event id → `sf_fp` of the owned mappings that units writing Salesforce Events put
    (what infra/execute.py recorded: `puts` hold only what was really written); later puts
    win."""
    out: dict[str, Fingerprint] = {}
    for o in outcomes:
        if not any(isinstance(w, (SfCreate, SfUpdate)) for w in o.unit.writes):
            continue
        for m in o.puts:
            if m.owned and m.sf_event_id and m.sf_fp:
                out[m.sf_event_id] = m.sf_fp
    return out


class FirestoreLedger:
    """The ledger's documents (see the module's docstring)."""

    def __init__(self, client: firestore.Client,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self._db = client
        self._col = client.collection(LEDGER)
        self._wall = wall  # this process's clock, which Firestore's agrees with

    def record(self, user: str, entries: Mapping[str, Fingerprint]) -> None:
        """One commit: the entries, split into documents of PER_DOC. `at` is Firestore's commit
        time (after every Salesforce write the entries stand for)."""
        if not entries:
            return
        items = sorted(entries.items())
        batch = self._db.batch()
        for start in range(0, len(items), PER_DOC):
            chunk = items[start : start + PER_DOC]
            batch.set(self._col.document(), {
                "at": firestore.SERVER_TIMESTAMP,
                "expires": self._wall() + KEPT,
                "user": user,
                "written": {sf_id: dict(fp) for sf_id, fp in chunk},
            })  # fmt: skip
        batch.commit()

    def since(self, age: timedelta) -> dict[str, Fingerprint]:
        """SF Event id → the fingerprint last recorded for it in the last `age` (one query).

        An age, not an instant: the ledger keeps Firestore's time and the poll's watermark is
        Salesforce's, so the poll says how far back it reads and the ledger looks as far back on
        its own clock."""
        start = self._wall() - age
        query = self._col.where(filter=FieldFilter("at", ">=", start)).order_by("at")
        out: dict[str, Fingerprint] = {}
        for doc in query.stream():
            entries = (doc.to_dict() or {}).get("written") or {}
            for sf_id, fp in entries.items():
                if isinstance(fp, Mapping):
                    out[str(sf_id)] = tuple(sorted((str(k), str(v)) for k, v in fp.items()))
        return out

    def expire(self, limit: int = DELETED_PER_POLL) -> int:
        """Delete up to `limit` documents recorded more than KEPT ago; how many."""
        query = self._col.where(filter=FieldFilter("at", "<", self._wall() - KEPT)).limit(limit)
        refs = [doc.reference for doc in query.stream()]
        if refs:
            batch = self._db.batch()
            for ref in refs:
                batch.delete(ref)
            batch.commit()
        return len(refs)


def recorder(ledger: FirestoreLedger) -> LedgerWrite:
    """What the session calls once after its writes (`Services.sf_writes`): never raises, since
    a ledger that misses a session only costs the poll its lookups."""

    def record(user: str, outcomes: Iterable[Outcome]) -> None:
        try:
            ledger.record(user, written(outcomes))
        except Exception as exc:  # noqa: BLE001 - the poll falls back to the mapping lookup
            log.warning("echo ledger not written", extra={"user": user,
                                                          "code": type(exc).__name__})  # fmt: skip

    return record
