"""Typed errors: retryable (rate limits, 5xx, locks) versus permanent (validation), each with an
issue code, so a session knows whether to retry or to record an issue (STYLE, R-31)."""

from __future__ import annotations


class CalsyncError(Exception):
    """Base of calsync's errors; `code` is an issue code of core.issues."""

    code = "CS-010"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, payload: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # the server's HTTP status, when there was one
        self.payload = payload  # the server's error body (never logged whole: it may quote titles)


class RetryableError(CalsyncError):
    """Try again later: the same request may succeed (CS-011)."""

    code = "CS-011"
    retryable = True


class RateLimited(RetryableError):
    """Google 403 rateLimitExceeded / 429, Salesforce REQUEST_LIMIT_EXCEEDED."""


class ServerError(RetryableError):
    """HTTP 5xx from either side."""


class LockError(RetryableError):
    """Salesforce UNABLE_TO_LOCK_ROW, or a user's session already running (R-29)."""


class PermanentError(CalsyncError):
    """The same request will fail again: record an issue with `code` instead of retrying."""


class SalesforceValidationError(PermanentError):
    """Salesforce refused the record (FIELD_INTEGRITY_EXCEPTION, REQUIRED_FIELD_MISSING, ...)."""

    code = "CS-010"

    def __init__(self, message: str, *, sf_code: str = "", fields: tuple[str, ...] = (),
                 status: int | None = None, payload: object = None) -> None:  # fmt: skip
        super().__init__(message, status=status, payload=payload)
        self.sf_code = sf_code
        self.fields = fields


class GoogleRefused(PermanentError):
    """Google answered 4xx that retrying will not fix (forbiddenForNonOrganizer, notFound...)."""

    code = "CS-014"


class NoSalesforceUser(PermanentError):
    code = "CS-012"


# QUERY_TIMEOUT and UNKNOWN_EXCEPTION are usually passing (audit L2): retried, not reported.
_RETRYABLE_SF_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT",
     "UNKNOWN_EXCEPTION"}
)  # fmt: skip


def classify_salesforce(status: int, sf_code: str, message: str) -> CalsyncError:
    """The typed error for one Salesforce answer (a REST status, or a collection's per-record
    `statusCode` with status 200)."""
    if sf_code == "UNABLE_TO_LOCK_ROW":
        return LockError(message, status=status)
    if sf_code in _RETRYABLE_SF_CODES or status == 429:
        return RateLimited(message, status=status)
    if status >= 500:
        return ServerError(message, status=status)
    return SalesforceValidationError(message, sf_code=sf_code, status=status)


def classify_google(status: int, reason: str, message: str) -> CalsyncError:
    """The typed error for one Google Calendar answer (`error.errors[0].reason`)."""
    if status == 429 or reason in {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}:
        return RateLimited(message, status=status)
    if status >= 500:
        return ServerError(message, status=status)
    return GoogleRefused(message, status=status)


class LeaseLost(CalsyncError):
    """Another session took this user's lease (R-29): this one writes nothing more. Not retried:
    the session that took over reads everything this one would have."""

    code = "CS-011"
