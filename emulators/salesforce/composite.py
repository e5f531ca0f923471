"""sObject Collections (`composite/sobjects`): up to 200 records a call, answered per record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ids
from .errors import ApiError, bad_request
from .org import Org

MAX_RECORDS = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


def _too_many(count: int) -> None:
    if count > MAX_RECORDS:
        raise bad_request(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )


def _records(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise bad_request("JSON_PARSER_ERROR", "Expected a body with a records list")
    _too_many(len(body["records"]))
    return body["records"], bool(body.get("allOrNone", False))


def _type_of(record: Any) -> str:
    attrs = record.get("attributes") if isinstance(record, dict) else None
    if not isinstance(attrs, dict) or not attrs.get("type"):
        raise bad_request("INVALID_TYPE", "Must specify a type in the attributes of each record")
    return str(attrs["type"])


Step = Callable[[], dict[str, Any]]


def _run(org: Org, steps: list[tuple[str | None, Step]], all_or_none: bool) -> list[dict]:
    """Run each step in its own savepoint; with allOrNone, one failure undoes them all."""
    results: list[dict[str, Any]] = []
    failed = False
    for known_id, step in steps:
        mark = org.store.mark()
        try:
            results.append({"success": True, "errors": [], **step()})
        except ApiError as exc:
            org.store.rollback_to(mark)
            failed = True
            results.append({"id": known_id, "success": False, "errors": [exc.collection_item()]})
    if all_or_none and failed:
        org.store.rollback_to(0)
        for result in results:
            if result["success"]:
                result.update(id=None, success=False, errors=[dict(ROLLED_BACK)])
                result.pop("created", None)
    return [{"id": r.pop("id", None), **r} for r in results]


def create(org: Org, body: Any) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)
    steps: list[tuple[str | None, Step]] = []
    for record in records:

        def step(record: Any = record) -> dict[str, Any]:
            sobject = _type_of(record)
            if any(k.lower() == "id" for k in record):
                raise bad_request("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            return {"id": org.create(sobject, record)}

        steps.append((None, step))
    return _run(org, steps, all_or_none)


def update(org: Org, body: Any) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)
    steps: list[tuple[str | None, Step]] = []
    for record in records:
        record_id = (record.get("id") or record.get("Id")) if isinstance(record, dict) else None

        def step(record: Any = record, record_id: Any = record_id) -> dict[str, Any]:
            sobject = _type_of(record)
            if not record_id:
                raise bad_request("MISSING_ARGUMENT", "Id not specified in an update call")
            org.update(sobject, record_id, {k: v for k, v in record.items() if k != "id"})
            return {"id": ids.normalise(record_id)}

        steps.append((ids.normalise(record_id) or record_id, step))
    return _run(org, steps, all_or_none)


def upsert(org: Org, sobject: str, field_name: str, body: Any) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)
    field = org.sobject(sobject).lookup(field_name)
    if field is None or not field.external_id:
        raise bad_request(
            "INVALID_FIELD",
            f"Provided external ID field does not exist or is not accessible: {field_name}",
        )
    steps: list[tuple[str | None, Step]] = []
    for record in records:

        def step(record: Any = record) -> dict[str, Any]:
            if _type_of(record) != org.sobject(sobject).name:
                raise bad_request("INVALID_TYPE", f"Record type must be {sobject}")
            value = next((v for k, v in record.items() if k.lower() == field.name.lower()), None)
            if not value:
                raise bad_request("MISSING_ARGUMENT", f"{field.name} not specified", [field.name])
            body = {k: v for k, v in record.items() if k.lower() != field.name.lower()}
            record_id, created = org.upsert(sobject, field.name, str(value), body)
            return {"id": record_id, "created": created}

        steps.append((None, step))
    return _run(org, steps, all_or_none)


def delete(org: Org, id_list: str, all_or_none: bool) -> list[dict[str, Any]]:
    raw_ids = [i for i in id_list.split(",") if i]
    _too_many(len(raw_ids))
    steps: list[tuple[str | None, Step]] = []
    for raw in raw_ids:

        def step(raw: str = raw) -> dict[str, Any]:
            found = org.find(raw)
            if ids.normalise(raw) is None:
                raise bad_request("MALFORMED_ID", f"malformed id {raw}")
            if found is None:
                raise bad_request("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            org.delete(found[0], found[1]["Id"])
            return {"id": found[1]["Id"]}

        steps.append((ids.normalise(raw) or raw, step))
    return _run(org, steps, all_or_none)


def retrieve(org: Org, sobject: str, id_list: str, fields: str) -> list[Any]:
    target = org.sobject(sobject)
    names = []
    for name in (f.strip() for f in fields.split(",") if f.strip()):
        field = target.lookup(name)
        if field is None:
            raise bad_request(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {target.name}"
            )
        names.append(field.name)
    raw_ids = [i for i in id_list.split(",") if i]
    _too_many(len(raw_ids))
    out: list[Any] = []
    for raw in raw_ids:
        found = org.find(raw)
        ok = found and found[0] == target.name and not found[1]["IsDeleted"]
        out.append(org.render(target, found[1], ["Id", *names]) if ok else None)  # type: ignore[index]
    return out
