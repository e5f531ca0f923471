"""The error shape of the REST API: `[{"message", "errorCode", "fields"}]` with an HTTP status."""

from __future__ import annotations


class ApiError(Exception):
    """One API error; `status` is the HTTP status of a single-record call."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    def body(self) -> list[dict[str, object]]:
        """Body of a single-record error response (`errorCode`)."""
        item: dict[str, object] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            item["fields"] = self.fields
        return [item]

    def collection_item(self) -> dict[str, object]:
        """One entry of `errors` in a collections result (`statusCode`, always `fields`)."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


def bad_request(code: str, message: str, fields: list[str] | None = None) -> ApiError:
    return ApiError(400, code, message, fields)


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def malformed_query(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


def entity_is_deleted() -> ApiError:
    return ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")


def not_writable(field: str) -> ApiError:
    return bad_request(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {field}. Please check the security settings of this "
        "field and verify that it is read/write for your profile or permission set.",
        [field],
    )
