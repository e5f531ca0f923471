"""API call counting (DailyApiRequests, counters by kind) and injected call faults for tests.

A call fault hits a whole call: before it runs (503, UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED),
or after a write it made was committed (APPLY_THEN_503: the answer is lost, as when a crash
follows the write). Per-record refusals (validation rules) live in refusals.py.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from .errors import ApiError

LOST_ANSWER = "APPLY_THEN_503"
FAULT_KINDS = ("503", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", LOST_ANSWER)
READS = ("GET", "HEAD")


def limit_exceeded() -> ApiError:
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def fault_error(kind: str) -> ApiError:
    if kind in ("503", LOST_ANSWER):
        return ApiError(503, "SERVER_UNAVAILABLE", "Service temporarily unavailable (injected)")
    if kind == "UNABLE_TO_LOCK_ROW":
        return ApiError(
            400,
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record or 1 records",
        )
    return limit_exceeded()


@dataclass
class Fault:
    kind: str
    remaining: int | None = None  # next N calls
    fraction: float = 0.0  # or this share of calls
    methods: tuple[str, ...] = ()  # only these HTTP methods (empty: all)
    path_contains: str = ""
    rng: random.Random = field(default_factory=random.Random)


class Usage:
    def __init__(self, limit: int) -> None:
        self.start_limit = limit
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.limit = self.start_limit
            self.used = 0
            self.by_kind: Counter[str] = Counter()
            self.faults: list[Fault] = []
            self.injected: Counter[str] = Counter()

    def set_limit(self, limit: int | None, used: int | None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = limit
            if used is not None:
                self.used = used

    def add_fault(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}")
        if fault.kind == LOST_ANSWER and set(fault.methods) & set(READS):
            raise ValueError(f"{LOST_ANSWER} applies to writes only (POST, PATCH, PUT, DELETE)")
        with self._lock:
            self.faults.append(fault)

    def describe_faults(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {
                    "kind": f.kind,
                    "remaining": f.remaining,
                    "fraction": None if f.remaining is not None else f.fraction,
                    "methods": list(f.methods),
                    "path_contains": f.path_contains,
                }
                for f in self.faults
            ]

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def pending_fault(self, method: str, path: str) -> str | None:
        """The kind of fault to inject before this call runs, if any (consumes a 'next N' slot)."""
        return self._fire(method, path, lost_answer=False)

    def lost_answer(self, method: str, path: str) -> bool:
        """Whether this call, whose writes were just committed, loses its answer (a 503)."""
        return method not in READS and self._fire(method, path, lost_answer=True) is not None

    def _fire(self, method: str, path: str, *, lost_answer: bool) -> str | None:
        with self._lock:
            for fault in self.faults:
                if (fault.kind == LOST_ANSWER) != lost_answer:
                    continue
                if fault.methods and method not in fault.methods:
                    continue
                if fault.path_contains and fault.path_contains not in path:
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                elif fault.rng.random() >= fault.fraction:
                    continue
                self.injected[fault.kind] += 1
                return fault.kind
            return None

    def charge(self, kind: str) -> None:
        """Count one API call, or refuse it with REQUEST_LIMIT_EXCEEDED when none are left."""
        with self._lock:
            if self.used >= self.limit:
                raise limit_exceeded()
            self.used += 1
            self.by_kind[kind] += 1

    def header(self) -> str:
        with self._lock:
            return f"api-usage={self.used}/{self.limit}"

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "total": self.used,
                "limit": self.limit,
                "by_kind": dict(self.by_kind),
                "injected_faults": dict(self.injected),
            }
