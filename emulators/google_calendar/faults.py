"""Fault injection for tests: make the next N calls, or a fraction of calls, fail like Google does.

Configured through POST /_admin/faults with {"status": 403|429|500|503, "count": N} or
{"status": ..., "fraction": 0.3}, optionally "methods": ["calendar.events.list", ...] and
"reason" (403 only: rateLimitExceeded (default), userRateLimitExceeded or quotaExceeded).

{"kind": "APPLY_THEN_503", "count"|"fraction", "methods"?} is the lost answer: an event write
(insert, import, patch, update, delete; alone or inside a batch) is applied, then answered with
503 backendError, which is how a crash or timeout after the write looks from outside.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, bad_request

_SHAPES: dict[int, tuple[str, str, str]] = {
    # status: (reason, message, domain)
    403: ("rateLimitExceeded", "Rate Limit Exceeded", "usageLimits"),
    429: ("rateLimitExceeded", "Rate Limit Exceeded", "usageLimits"),
    500: ("backendError", "Backend Error", "global"),
    503: ("backendError", "Backend Error", "global"),
}
LOST_ANSWER = "APPLY_THEN_503"
EVENT_WRITES = frozenset(
    {
        "calendar.events.insert",
        "calendar.events.import",
        "calendar.events.patch",
        "calendar.events.update",
        "calendar.events.delete",
    }
)
_403_REASONS = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "quotaExceeded": "Calendar usage limits exceeded.",
}


@dataclass
class Fault:
    status: int
    reason: str
    remaining: int | None
    fraction: float | None
    methods: frozenset[str] = field(default_factory=frozenset)
    after_write: bool = False  # APPLY_THEN_503: fires once the write is applied

    def describe(self) -> dict[str, Any]:
        return {
            "kind": LOST_ANSWER if self.after_write else "error",
            "status": self.status,
            "reason": self.reason,
            "remaining": self.remaining,
            "fraction": self.fraction,
            "methods": sorted(self.methods),
        }


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[Fault] = []
        self.injected = 0
        self.lock = threading.Lock()
        self.random = random.Random(seed)

    def add(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        if kind not in (None, "error", LOST_ANSWER):
            raise bad_request(f"kind must be {LOST_ANSWER} (or absent for an error fault)")
        after_write = kind == LOST_ANSWER
        if after_write and int(spec.get("status", 503)) != 503:
            raise bad_request(f"{LOST_ANSWER} always answers 503")
        methods = frozenset(spec.get("methods") or ())
        if after_write and methods - EVENT_WRITES:
            raise bad_request(f"{LOST_ANSWER} applies to event writes only: {sorted(EVENT_WRITES)}")
        status = int(spec.get("status", 503))
        if status not in _SHAPES:
            raise bad_request("status must be one of 403, 429, 500, 503")
        reason = str(spec.get("reason") or _SHAPES[status][0])
        if status == 403 and reason not in _403_REASONS:
            raise bad_request(f"reason must be one of {sorted(_403_REASONS)}")
        count = spec.get("count")
        fraction = spec.get("fraction")
        if (count is None) == (fraction is None):
            raise bad_request("give exactly one of count or fraction")
        if fraction is not None and not 0 <= float(fraction) <= 1:
            raise bad_request("fraction must be between 0 and 1")
        fault = Fault(
            status=status,
            reason=reason,
            remaining=None if count is None else int(count),
            fraction=None if fraction is None else float(fraction),
            methods=methods or (EVENT_WRITES if after_write else frozenset()),
            after_write=after_write,
        )
        with self.lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.injected = 0

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {"faults": [f.describe() for f in self.rules], "injected": self.injected}

    def check(self, method: str) -> ApiError | None:
        """The error to answer this call with before it runs, if a rule fires for it."""
        return self._fire(method, after_write=False)

    def check_applied(self, method: str) -> ApiError | None:
        """The error that replaces the answer of this applied write, if a rule fires for it."""
        return self._fire(method, after_write=True)

    def _fire(self, method: str, *, after_write: bool) -> ApiError | None:
        with self.lock:
            for fault in self.rules:
                if fault.after_write != after_write:
                    continue
                if fault.methods and method not in fault.methods:
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                elif self.random.random() >= (fault.fraction or 0.0):
                    continue
                self.rules = [f for f in self.rules if f.remaining != 0]
                self.injected += 1
                return _error(fault)
        return None


def _error(fault: Fault) -> ApiError:
    reason, message, domain = _SHAPES[fault.status]
    if fault.status == 403:
        reason, message = fault.reason, _403_REASONS[fault.reason]
    return ApiError(fault.status, reason, message, domain=domain)
