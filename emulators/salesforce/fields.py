"""Turn JSON field values from a request into stored values (and back), checking each field."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any

from . import ids
from .errors import ApiError, bad_request, not_writable
from .objects import Field, SObject
from .timeutil import format_date, format_datetime, parse_date, parse_datetime

JSON_TYPES = {
    "datetime": "datetime",
    "date": "date",
    "int": "int",
    "double": "double",
    "boolean": "boolean",
}


def _parse_error(field: Field, value: object) -> ApiError:
    kind = JSON_TYPES.get(field.type, "String")
    return bad_request(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from VALUE_STRING value {value} or request "
        "may be missing a required field",
    )


def too_long(field: Field, value: str) -> ApiError:
    return bad_request(
        "STRING_TOO_LONG",
        f"{field.name}: data value too large: {value[:64]} (max length={field.length})",
        [field.name],
    )


def coerce(field: Field, value: Any) -> Any:
    """One JSON value → stored Python value; raises ApiError in the real error shapes."""
    if value is None:
        if field.restricted and not field.nillable:
            raise bad_request(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{field.name}: bad value for restricted picklist field: null",
                [field.name],
            )
        return field.default if field.type == "boolean" else None
    kind = field.type
    if kind in ("string", "textarea", "email", "phone", "url", "picklist"):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _parse_error(field, value)
        text = str(value)
        if field.length and len(text) > field.length:
            raise too_long(field, text)
        if field.restricted and text not in field.picklist:
            raise bad_request(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{field.name}: bad value for restricted picklist field: {text}",
                [field.name],
            )
        return text
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _parse_error(field, value)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise _parse_error(field, value)
        return int(value)
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _parse_error(field, value)
        return float(value)
    if kind == "datetime":
        try:
            return parse_datetime(str(value))
        except ValueError:
            raise _parse_error(field, value) from None
    if kind == "date":
        try:
            return parse_date(str(value))
        except ValueError:
            raise _parse_error(field, value) from None
    if kind in ("reference", "id"):
        return reference(field, value)
    if kind == "junctionidlist":
        if not isinstance(value, list):
            raise _parse_error(field, value)
        return [reference(field, item) for item in value]
    if kind == "base64":
        try:
            return base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise _parse_error(field, value) from None
    raise _parse_error(field, value)


def reference(field: Field, value: Any) -> str:
    canonical = ids.normalise(value)
    if canonical is None or (field.references and ids.type_of(canonical) not in field.references):
        raise bad_request(
            "MALFORMED_ID", f"{field.name}: id value of incorrect type: {value}", [field.name]
        )
    return canonical


def coerce_body(sobject: SObject, body: Any, *, creating: bool) -> dict[str, Any]:
    """Check every key of a create/update body and coerce its value."""
    if not isinstance(body, dict):
        raise bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "attributes":
            continue
        field = sobject.lookup(key)
        if field is None:
            raise bad_request(
                "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject.name}"
            )
        if field.name == "Id":
            continue  # the Id in the URL (or the collection item) is the one that counts
        if not (field.create if creating else field.update):
            raise not_writable(field.name)
        out[field.name] = coerce(field, value)
    return out


def to_json(field: Field, value: Any, url: str) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    if field.type == "base64":
        return url
    return value
