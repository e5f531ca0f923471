"""Queues: their configuration (defaults and limits of the real service), state and token bucket.

A queue is kept as the client library's own `tasks_v2.Queue` message, so what the API answers is
exactly what the real service's JSON would carry; only the output-only fields are computed here.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta

from google.cloud import tasks_v2

from .errors import invalid

QUEUE_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/queues/([A-Za-z0-9-]{1,100})$")
MAX_RATE = 500.0
MAX_CONCURRENT = 5000
# What Cloud Tasks picks for a queue created without them.
DEFAULT_RATE = 500.0
DEFAULT_CONCURRENT = 1000
DEFAULT_ATTEMPTS = 100
DEFAULT_MIN_BACKOFF = 0.1
DEFAULT_MAX_BACKOFF = 3600.0
DEFAULT_DOUBLINGS = 16
QUEUE_NAME_REUSE = 7 * 86400  # a deleted queue's name comes back after 7 days (quotas page)


def seconds(duration: timedelta | None) -> float:
    return duration.total_seconds() if duration else 0.0


def burst_size(rate: float) -> int:
    """max_burst_size is output only; Cloud Tasks derives it from the rate (100 at the default
    500/s). The emulator takes the rate rounded up, at most 100."""
    return max(1, min(100, math.ceil(rate)))


def check_name(name: str) -> tuple[str, str, str]:
    match = QUEUE_NAME.match(name or "")
    if not match:
        raise invalid(
            f"Queue name {name!r} is invalid: expected "
            "projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID, QUEUE_ID of letters, "
            "digits and hyphens, at most 100 characters"
        )
    return match.group(1), match.group(2), match.group(3)


def normalise(queue: tasks_v2.Queue) -> tasks_v2.Queue:
    """The queue as the service stores it: defaults filled in, limits checked."""
    out = tasks_v2.Queue(queue)
    if out.app_engine_routing_override:
        raise invalid("App Engine queues are not emulated: use an HTTP target")
    rates = out.rate_limits
    if rates.max_burst_size:
        raise invalid("rate_limits.max_burst_size is output only")
    if rates.max_dispatches_per_second < 0 or rates.max_dispatches_per_second > MAX_RATE:
        raise invalid(f"rate_limits.max_dispatches_per_second must be in (0, {MAX_RATE:g}]")
    if rates.max_concurrent_dispatches < 0 or rates.max_concurrent_dispatches > MAX_CONCURRENT:
        raise invalid(f"rate_limits.max_concurrent_dispatches must be in [1, {MAX_CONCURRENT}]")
    rate = rates.max_dispatches_per_second or DEFAULT_RATE
    out.rate_limits = tasks_v2.RateLimits(
        max_dispatches_per_second=rate,
        max_concurrent_dispatches=rates.max_concurrent_dispatches or DEFAULT_CONCURRENT,
        max_burst_size=burst_size(rate),
    )
    out.retry_config = normalise_retry(out.retry_config)
    if out.http_target and out.http_target.oauth_token:
        raise invalid("OAuth tokens are not emulated (they are for *.googleapis.com targets)")
    if not out.state:
        out.state = tasks_v2.Queue.State.RUNNING
    return out


def normalise_retry(retry: tasks_v2.RetryConfig | None, base: tasks_v2.RetryConfig | None = None,
                    ) -> tasks_v2.RetryConfig:  # fmt: skip
    """A retry config with every unset field taken from `base` (or Cloud Tasks' defaults)."""
    retry = retry or tasks_v2.RetryConfig()
    if retry.max_attempts < -1:
        raise invalid("retry_config.max_attempts must be -1 (unlimited) or more")
    if retry.max_doublings < 0:
        raise invalid("retry_config.max_doublings must not be negative")
    for name in ("min_backoff", "max_backoff", "max_retry_duration"):
        if seconds(getattr(retry, name)) < 0:
            raise invalid(f"retry_config.{name} must not be negative")

    def pick(name: str, default: object) -> object:
        value = getattr(retry, name)
        if value:
            return value
        return getattr(base, name) if base is not None else default

    out = tasks_v2.RetryConfig(
        max_attempts=pick("max_attempts", DEFAULT_ATTEMPTS),
        min_backoff=pick("min_backoff", timedelta(seconds=DEFAULT_MIN_BACKOFF)),
        max_backoff=pick("max_backoff", timedelta(seconds=DEFAULT_MAX_BACKOFF)),
        max_doublings=pick("max_doublings", DEFAULT_DOUBLINGS),
        max_retry_duration=pick("max_retry_duration", timedelta(0)),
    )
    if seconds(out.min_backoff) > seconds(out.max_backoff):
        raise invalid("retry_config.min_backoff must not exceed max_backoff")
    return out


def backoff(retry: tasks_v2.RetryConfig, failures: int) -> float:
    """Seconds before the retry that follows the `failures`-th failed attempt: min_backoff,
    doubled max_doublings times, then growing linearly by that last step, capped at max_backoff
    (the RetryConfig reference: 10s, 20s, 40s, 80s, 160s, 240s, 300s for 10s/300s/3)."""
    low, high, doublings = (
        seconds(retry.min_backoff),
        seconds(retry.max_backoff),
        retry.max_doublings,
    )
    if failures <= doublings + 1:
        wait = low * 2 ** (failures - 1)
    else:
        wait = low * 2**doublings * (failures - doublings)
    return min(wait, high)


@dataclass
class Bucket:
    """The queue's token bucket: one token per dispatch, refilled at the queue's rate."""

    rate: float
    size: int
    tokens: float = 0.0
    at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.size)

    def refill(self, now: float) -> None:
        self.tokens = min(float(self.size), self.tokens + (now - self.at) * self.rate)
        self.at = now

    def take(self, now: float) -> bool:
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def next_token_in(self, now: float) -> float:
        self.refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate
