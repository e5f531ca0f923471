"""Fault injection for tests: make the next N calls, or a fraction of calls, fail like Google does.

Configured through POST /_admin/faults with {"status": 403|429|500|503, "count": N} or
{"status": ..., "fraction": 0.3}, optionally "methods": ["calendar.events.list", ...] and
"reason" (403 only: rateLimitExceeded (default), userRateLimitExceeded or quotaExceeded).
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

    def describe(self) -> dict[str, Any]:
        return {
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
            methods=frozenset(spec.get("methods") or ()),
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
        """The error to answer this call with, if a rule fires for it."""
        with self.lock:
            for fault in self.rules:
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
