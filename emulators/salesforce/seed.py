"""Load seed records (JSON) into the org: types in dependency order, `@name` references."""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .org import Org
from .users import seed_defaults

ORDER = (
    "User",
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "Event",
    "EventRelation",
    "ContentVersion",
    "ContentDocumentLink",
)


def load(org: Org, data: Any) -> dict[str, Any]:
    """Create the records in `data`; return {"refs": {name: id}, "ids": {type: [ids]}}.

    `data` maps a type name to a list of field dicts. A record may carry `"_ref": "name"`;
    any string value `"@name"` in a later record is replaced by that record's Id. Users get the
    standard fields they leave out (users.seed_defaults).
    """
    if not isinstance(data, dict):
        raise bad_request("JSON_PARSER_ERROR", "seed must be an object of type → records")
    unknown = set(data) - set(ORDER)
    if unknown:
        raise bad_request("INVALID_TYPE", f"cannot seed types: {sorted(unknown)}")
    refs: dict[str, str] = {}
    created: dict[str, list[str]] = {}
    for sobject in ORDER:
        for record in data.get(sobject, []):
            body = {k: _resolve(v, refs) for k, v in record.items() if k != "_ref"}
            if sobject == "User":
                body = seed_defaults(org, body)
            record_id = org.create(sobject, body)
            created.setdefault(sobject, []).append(record_id)
            if "_ref" in record:
                refs[str(record["_ref"])] = record_id
    return {"refs": refs, "ids": created}


def _resolve(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        if value[1:] not in refs:
            raise bad_request("INVALID_CROSS_REFERENCE_KEY", f"unknown seed reference {value}")
        return refs[value[1:]]
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    return value
