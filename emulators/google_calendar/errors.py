"""Errors shaped like the Calendar API's JSON error bodies (error.code/message/errors[].reason)."""

from __future__ import annotations

from typing import Any

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "FAILED_PRECONDITION",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An API failure; `body()` is the JSON document the real API would send."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "domain": self.domain,
            "reason": self.reason,
            "message": self.message,
        }
        if self.location:
            detail["location"] = self.location
            detail["locationType"] = self.location_type or "parameter"
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [detail]}
        if self.code in _STATUS_NAMES:
            error["status"] = _STATUS_NAMES[self.code]
        return {"error": error}


def bad_request(message: str, reason: str = "invalid", **kw: Any) -> ApiError:
    return ApiError(400, reason, message, **kw)


def required(what: str) -> ApiError:
    return ApiError(400, "required", f"Missing {what}.")


def not_found() -> ApiError:
    return ApiError(404, "notFound", "Not Found")


def forbidden(message: str = "Forbidden", reason: str = "forbidden") -> ApiError:
    return ApiError(403, reason, message)


def required_access_level(role: str) -> ApiError:
    """A role too weak for the call (Google's wording for writer and owner; `reader` is used for
    freeBusyReader callers of event reads, not verified)."""
    level = "writer" if role == "writerWithoutPrivateAccess" else role
    return ApiError(
        403,
        "requiredAccessLevel",
        f"You need to have {level} access to this calendar.",
        domain="calendar",
    )


def forbidden_for_non_organizer() -> ApiError:
    return ApiError(
        403,
        "forbiddenForNonOrganizer",
        "Shared properties can only be changed by the organizer of the event.",
    )


def duplicate() -> ApiError:
    return ApiError(409, "duplicate", "The requested identifier already exists.")


def deleted() -> ApiError:
    return ApiError(410, "deleted", "Resource has been deleted")


def full_sync_required() -> ApiError:
    return ApiError(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
    )


def condition_not_met() -> ApiError:
    return ApiError(
        412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header"
    )


def login_required() -> ApiError:
    return ApiError(
        401,
        "required",
        "Request is missing required authentication credential. Expected OAuth 2 access token.",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def invalid_credentials() -> ApiError:
    return ApiError(
        401,
        "authError",
        "Invalid Credentials",
        location="Authorization",
        location_type="header",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
    )
