"""Route REST API requests under /services/data/vXX.X/ to the org; one function per resource."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import (  # noqa: F401 - registers hooks
    composite,
    composite_request,
    content,
    events,
    feeds,
    ids,
    query,
    users,
)
from .auth import Sessions
from .errors import ApiError, bad_request, malformed_query, not_found
from .objects import describe, describe_summary
from .org import Org
from .usage import Usage

VERSION = re.compile(r"^v(\d{2,3}\.\d)$")
SUPPORTED_VERSIONS = [f"{v}.0" for v in range(42, 63)]


@dataclass
class Request:
    method: str
    path: str
    parts: list[str]  # segments after /services/data/vXX.X/
    version: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]
    blobs: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # multipart: name → file


@dataclass
class Response:
    status: int
    body: Any = None  # JSON value, bytes, or None for no body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Emulator:
    """Everything one running emulator holds."""

    org: Org
    sessions: Sessions
    usage: Usage
    cursors: query.Cursors
    base_url: str = ""
    seed: Any = None
    page_size: int | None = None  # admin override of the query page size
    flow: Any = None  # flow.FlowPlayer: the Flow on Event that calls calsync's webhook
    latency_ms: int = 0  # added to every API call's answer, as a real org's round trip


Handler = Callable[[Emulator, Request], Response]


def route(req: Request) -> tuple[str, Handler]:
    """(call kind for the counters, handler) for an API request, or raise NOT_FOUND."""
    p, m = req.parts, req.method
    if not p:
        return "resources", _resources
    head = p[0]
    if head == "limits" and len(p) == 1 and m == "GET":
        return "limits", _limits
    if head in ("query", "queryAll") and m == "GET":
        if len(p) == 1:
            return head, _query
        if len(p) == 2:
            return head + "_more", _query_more
    if head == "sobjects":
        found = _sobject_route(p[1:], m)
        if found:
            return found
    if head == "composite" and len(p) >= 2 and p[1] == "sobjects":
        found = _collection_route(p[2:], m)
        if found:
            return found
    if head == "composite" and len(p) == 1 and m == "POST":
        return "composite", _composite_request
    raise not_found()


def _sobject_route(p: list[str], m: str) -> tuple[str, Handler] | None:
    if not p:
        return ("describe_global", _describe_global) if m == "GET" else None
    if len(p) == 1:
        return {"GET": ("sobject_info", _sobject_info), "POST": ("create", _create)}.get(m)
    if len(p) == 2:
        if p[1] == "describe" and m == "GET":
            return "describe", _describe
        if p[1] in ("updated", "deleted") and m == "GET":
            return p[1], _feed
        return {
            "GET": ("get", _get),
            "PATCH": ("update", _update),
            "DELETE": ("delete", _delete),
        }.get(m)
    if len(p) == 3:
        if p[2] == "fromThisEventOnwards" and m == "DELETE":
            return "delete_series", _delete_series
        if ids.normalise(p[1]) and m == "GET":
            return "blob", _blob
        return {
            "GET": ("get_by_external_id", _get_external),
            "PATCH": ("upsert", _upsert),
            "DELETE": ("delete_by_external_id", _delete_external),
        }.get(m)
    return None


def _collection_route(p: list[str], m: str) -> tuple[str, Handler] | None:
    if not p:
        return {
            "POST": ("collections_create", _col_create),
            "PATCH": ("collections_update", _col_update),
            "DELETE": ("collections_delete", _col_delete),
        }.get(m)
    if len(p) == 1 and m == "GET":
        return "collections_retrieve", _col_retrieve
    if len(p) == 2 and m == "PATCH":
        return "collections_upsert", _col_upsert
    return None


def _base(req: Request) -> str:
    return f"/services/data/v{req.version}"


# -- handlers ----------------------------------------------------------------------------------
def _resources(emu: Emulator, req: Request) -> Response:
    base = _base(req)
    names = ("sobjects", "query", "queryAll", "limits", "composite")
    return Response(200, {n: f"{base}/{n}" for n in names})


def _limits(emu: Emulator, req: Request) -> Response:
    snap = emu.usage.snapshot()
    limit, used = int(snap["limit"]), int(snap["total"])  # type: ignore[call-overload]
    return Response(200, {"DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)}})


def _describe_global(emu: Emulator, req: Request) -> Response:
    return Response(
        200,
        {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [describe_summary(s, _base(req)) for s in emu.org.schema.values()],
        },
    )


def _sobject_info(emu: Emulator, req: Request) -> Response:
    sobject = emu.org.sobject(req.parts[1])
    return Response(
        200, {"objectDescribe": describe_summary(sobject, _base(req)), "recentItems": []}
    )


def _describe(emu: Emulator, req: Request) -> Response:
    return Response(200, describe(emu.org.sobject(req.parts[1]), _base(req)))


def _with_blobs(emu: Emulator, req: Request) -> Any:
    """A multipart request's JSON fields plus its binary part, which must be named after a
    blob (base64) field of the object: VersionData for ContentVersion."""
    if not req.blobs:
        return req.body
    sobject = emu.org.sobject(req.parts[1])
    body = dict(req.body or {})
    for name, (_filename, data) in req.blobs.items():
        found = sobject.lookup(name)
        if found is None or found.type != "base64":
            raise bad_request(
                "INVALID_MULTIPART_REQUEST",  # emulator wording
                f"The binary part {name!r} is not a blob field of {sobject.name}",
            )
        body[found.name] = base64.b64encode(data).decode("ascii")
    return body


def _create(emu: Emulator, req: Request) -> Response:
    record_id = emu.org.create(req.parts[1], _with_blobs(emu, req))
    return Response(201, {"id": record_id, "success": True, "errors": []})


def _fields_param(emu: Emulator, sobject_name: str, req: Request) -> list[str] | None:
    raw = req.params.get("fields")
    if not raw:
        return None
    sobject = emu.org.sobject(sobject_name)
    names = []
    for name in (n.strip() for n in raw.split(",") if n.strip()):
        found = sobject.lookup(name)
        if found is None:
            raise bad_request(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject.name}"
            )
        names.append(found.name)
    return names


def _get(emu: Emulator, req: Request) -> Response:
    sobject = emu.org.sobject(req.parts[1])
    rec = emu.org.visible(sobject.name, req.parts[2])
    fields = _fields_param(emu, sobject.name, req)
    return Response(200, emu.org.render(sobject, rec, fields, req.version))


def _update(emu: Emulator, req: Request) -> Response:
    emu.org.update(req.parts[1], req.parts[2], _with_blobs(emu, req))
    return Response(204)


def _delete(emu: Emulator, req: Request) -> Response:
    emu.org.delete(req.parts[1], req.parts[2])
    return Response(204)


def _delete_series(emu: Emulator, req: Request) -> Response:
    if emu.org.sobject(req.parts[1]).name != "Event":
        raise not_found()
    events.delete_from_this_onwards(emu.org, req.parts[2])
    return Response(204)


def _blob(emu: Emulator, req: Request) -> Response:
    sobject = emu.org.sobject(req.parts[1])
    rec = emu.org.visible(sobject.name, req.parts[2])
    field = sobject.lookup(req.parts[3])
    if field is None or field.type != "base64":
        raise not_found()
    return Response(
        200, bytes(rec.get(field.name) or b""), {"Content-Type": "application/octetstream"}
    )


def _external_record(emu: Emulator, req: Request) -> tuple[Any, Any]:
    sobject = emu.org.sobject(req.parts[1])
    field = sobject.lookup(req.parts[2])
    if field is None or not field.external_id:
        raise not_found(
            f"Provided external ID field does not exist or is not accessible: {req.parts[2]}"
        )
    record_id = emu.org.store.find_unique(sobject.name, field.name, req.parts[3])
    if record_id is None:
        raise not_found()
    return sobject, emu.org.visible(sobject.name, record_id)


def _get_external(emu: Emulator, req: Request) -> Response:
    sobject, rec = _external_record(emu, req)
    return Response(
        200, emu.org.render(sobject, rec, _fields_param(emu, sobject.name, req), req.version)
    )


def _delete_external(emu: Emulator, req: Request) -> Response:
    sobject, rec = _external_record(emu, req)
    emu.org.delete(sobject.name, rec["Id"])
    return Response(204)


def _upsert(emu: Emulator, req: Request) -> Response:
    record_id, created = emu.org.upsert(req.parts[1], req.parts[2], req.parts[3], req.body)
    return Response(
        201 if created else 200,
        {"id": record_id, "success": True, "errors": [], "created": created},
    )


def _feed(emu: Emulator, req: Request) -> Response:
    sobject = emu.org.sobject(req.parts[1]).name
    fn = feeds.updated if req.parts[2] == "updated" else feeds.deleted
    return Response(200, fn(emu.org, sobject, req.params))


def _page_size(emu: Emulator, req: Request) -> int:
    if emu.page_size:
        return emu.page_size
    options = req.headers.get("sforce-query-options", "")
    match = re.search(r"batchSize=(\d+)", options)
    if match:
        return max(query.MIN_PAGE_SIZE, min(query.DEFAULT_PAGE_SIZE, int(match.group(1))))
    return query.DEFAULT_PAGE_SIZE


def _query(emu: Emulator, req: Request) -> Response:
    text = req.params.get("q")
    if not text:
        raise malformed_query("A query string (q) is required")
    include_deleted = req.parts[0] == "queryAll"
    total, records = query.run(emu.org, text, include_deleted=include_deleted, base=_base(req))
    return Response(
        200,
        emu.cursors.page(emu.org, total, records, _page_size(emu, req), _base(req), req.parts[0]),
    )


def _query_more(emu: Emulator, req: Request) -> Response:
    locator, _, offset = req.parts[1].partition("-")
    records = emu.cursors.records(locator)
    if records is None or not offset.isdigit():
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return Response(
        200,
        emu.cursors.page(
            emu.org,
            len(records),
            records,
            _page_size(emu, req),
            _base(req),
            req.parts[0].removesuffix("_more"),
            locator,
            int(offset),
        ),
    )


def _composite_request(emu: Emulator, req: Request) -> Response:
    """POST composite: the subrequests run here, inside this one API call's transaction."""
    subs = composite_request.check(req.body)
    all_or_none = bool(req.body.get("allOrNone", False))

    def execute(
        method: str, url: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        path, params = composite_request.split_url(url)
        segments = [s for s in path.split("/") if s][2:]
        version = VERSION.match(segments[0] if segments else "")
        if not version:
            raise not_found()
        sub = Request(method, path, segments[1:], version.group(1), params, body,
                      {**req.headers, **{k.lower(): v for k, v in headers.items()}})  # fmt: skip
        kind, handler = route(sub)
        if kind == "composite":
            raise bad_request("INVALID_API_INPUT", "A composite request cannot hold another")
        answer = handler(emu, sub)
        return answer.status, answer.body, dict(answer.headers)

    results = composite_request.run(subs, all_or_none, emu.org.store, execute)
    return Response(200, {"compositeResponse": results})


def _col_create(emu: Emulator, req: Request) -> Response:
    return Response(200, composite.create(emu.org, req.body))


def _col_update(emu: Emulator, req: Request) -> Response:
    return Response(200, composite.update(emu.org, req.body))


def _col_delete(emu: Emulator, req: Request) -> Response:
    all_or_none = req.params.get("allOrNone", "false").lower() == "true"
    return Response(200, composite.delete(emu.org, req.params.get("ids", ""), all_or_none))


def _col_retrieve(emu: Emulator, req: Request) -> Response:
    if not req.params.get("ids") or not req.params.get("fields"):
        raise bad_request("MISSING_ARGUMENT", "ids and fields are required")
    return Response(
        200, composite.retrieve(emu.org, req.parts[2], req.params["ids"], req.params["fields"])
    )


def _col_upsert(emu: Emulator, req: Request) -> Response:
    return Response(200, composite.upsert(emu.org, req.parts[2], req.parts[3], req.body))
