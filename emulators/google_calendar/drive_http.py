"""HTTP for the Drive part of the emulator: the API under /drive/v3/ and its set-up endpoints.

GET  /drive/v3/files/{id}[?fields=...&supportsAllDrives=true]   files.get (metadata)
GET  /drive/v3/files/{id}?alt=media                             files.get (the bytes)
GET  /drive/v3/files/{id}/export?mimeType=...                   files.export

POST   /_admin/drive/files        a file: {name, mimeType, owner, content | content_base64 |
                                  size, id?, drive_id?, permissions?: [{type, role,
                                  emailAddress | domain}], copyRequiresWriterPermission?}
PATCH  /_admin/drive/files/{id}   a new revision (content, name) or new permissions
DELETE /_admin/drive/files/{id}
GET    /_admin/drive/files        every file (metadata as its owner sees it)
POST   /_admin/drive/drives       a shared drive: {id, name, members: {email: role}}
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from . import errors
from .drive import (
    CONTENT_SCOPES,
    METADATA_SCOPES,
    ROLES,
    File,
    Permission,
    SharedDrive,
    new_file_id,
    view_link,
)

if TYPE_CHECKING:
    from .api import Api, Response

PREFIX = "/drive/v3/"


def handle_api(api: Api, method: str, path: str, query: str, headers: dict[str, str]) -> Response:
    from .api import Response

    parts = [unquote(p) for p in path[len(PREFIX) :].split("/")]
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if method != "GET" or len(parts) not in (2, 3) or parts[0] != "files":
        raise errors.not_found()
    export = len(parts) == 3
    if export and parts[2] != "export":
        raise errors.not_found()
    content = export or params.get("alt") == "media"
    method_id = "drive.files.export" if export else "drive.files.get"
    api.count(method_id + (".media" if content and not export else ""))
    caller = api.auth.caller(headers.get("authorization"))
    caller.require(False, CONTENT_SCOPES if content else METADATA_SCOPES)
    fault = api.faults.check(method_id)
    if fault is not None:
        raise fault
    drive = api.drive
    f = drive.visible(caller.email, parts[1], params, caller.scopes)
    if export:
        data, mime = drive.export(f, caller.email, params.get("mimeType"))
        return Response(200, data, {"Content-Type": mime})
    if content:
        return Response(200, drive.media(f, caller.email), {"Content-Type": f.mime_type})
    return Response.json(200, drive.metadata(f, caller.email, params.get("fields")))


def handle_admin(api: Api, method: str, parts: list[str], body: dict[str, Any]) -> Response:
    """`parts` follow /_admin/drive/."""
    from .api import Response

    drive = api.drive
    route = (method, *parts)
    if route == ("POST", "files"):
        f = drive.put(_new_file(body))
        return Response.json(200, _summary(f))
    if route == ("GET", "files"):
        with drive.lock:
            files = list(drive.files.values())
        return Response.json(200, {"files": [_summary(f) for f in files]})
    if len(parts) == 2 and parts[0] == "files" and method == "PATCH":
        f = drive.change(parts[1], **_changes(body))
        return Response.json(200, _summary(f))
    if len(parts) == 2 and parts[0] == "files" and method == "DELETE":
        with drive.lock:
            drive.files.pop(parts[1], None)
        return Response.json(200, {"deleted": parts[1]})
    if route == ("POST", "drives"):
        members = body.get("members") or {}
        if not isinstance(members, dict) or any(r not in ROLES for r in members.values()):
            raise errors.bad_request(f"members: {{email: role}} with a role in {ROLES}")
        shared = SharedDrive(str(body.get("id") or new_file_id()[:19]), str(body.get("name", "")),
                             {str(k).lower(): str(v) for k, v in members.items()})  # fmt: skip
        with drive.lock:
            drive.drives[shared.id] = shared
        return Response.json(200, {"id": shared.id, "name": shared.name})
    raise errors.not_found()


def _content(body: dict[str, Any]) -> bytes | None:
    if "content_base64" in body:
        try:
            return base64.b64decode(str(body["content_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise errors.bad_request("content_base64 is not base64") from None
    if "content" in body:
        return str(body["content"]).encode("utf-8")
    if "size" in body:
        size = int(body["size"])
        return (b"calsync emulator file content\n" * (size // 30 + 1))[:size]
    return None


def _permissions(raw: Any) -> list[Permission]:
    if not isinstance(raw, list):
        raise errors.bad_request("permissions must be a list")
    out = []
    for p in raw:
        kind, role = str(p.get("type", "")), str(p.get("role", ""))
        if kind not in ("user", "group", "domain", "anyone") or role not in ROLES:
            raise errors.bad_request("each permission needs a type and a role")
        out.append(Permission(kind, role, str(p.get("emailAddress", "")).lower(),
                              str(p.get("domain", "")).lower()))  # fmt: skip
    return out


def _new_file(body: dict[str, Any]) -> File:
    if not body.get("name") or not body.get("mimeType"):
        raise errors.required("name and mimeType")
    drive_id = str(body.get("drive_id") or "")
    owner = str(body.get("owner") or "").lower()
    if not owner and not drive_id:
        raise errors.required("owner (or drive_id)")
    return File(
        id=str(body.get("id") or new_file_id()),
        name=str(body["name"]),
        mime_type=str(body["mimeType"]),
        owner="" if drive_id else owner,
        content=_content(body) or b"",
        drive_id=drive_id,
        permissions=_permissions(body.get("permissions") or []),
        copy_requires_writer_permission=bool(body.get("copyRequiresWriterPermission", False)),
    )


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    content = _content(body)
    if content is not None:
        changes["content"] = content
    if "name" in body:
        changes["name"] = str(body["name"])
    if "permissions" in body:
        changes["permissions"] = _permissions(body["permissions"])
    if "copyRequiresWriterPermission" in body:
        changes["copy_requires_writer_permission"] = bool(body["copyRequiresWriterPermission"])
    return changes


def _summary(f: File) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "mimeType": f.mime_type,
        "owner": f.owner,
        "driveId": f.drive_id,
        "size": len(f.content),
        "version": str(f.version),
        "headRevisionId": f.head_revision_id,
        "modifiedTime": f.modified_time,
        "webViewLink": view_link(f.id, f.mime_type),
    }
