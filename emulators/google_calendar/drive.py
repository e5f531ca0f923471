"""Drive API v3, the part calsync reads to store attachments (R-20): `files.get` (metadata, and
`alt=media` for a file's bytes) and `files.export` (Docs Editors files), each answered as the
calling user sees the file: owner, shared drive membership, user/domain/anyone permissions.

Files and shared drives are made through /_admin/drive/... (drive_admin.py). What Drive refuses,
this refuses the same way (docs/emulators/google_calendar.md, "Drive"): an unreadable file is
404 notFound, a shared-drive file without supportsAllDrives=true too; a Docs Editors file cannot
be downloaded (403 fileNotDownloadable) and exports stop at 10 MB (403 exportSizeLimitExceeded).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .times import format_timestamp, utcnow


def _later(previous: str) -> str:
    """Now as Drive writes modifiedTime (milliseconds), strictly after `previous`: two changes
    within one millisecond still get two times (calsync tells Docs revisions apart by it)."""
    from datetime import datetime, timedelta

    now = utcnow()
    if previous:
        before = datetime.fromisoformat(previous.replace("Z", "+00:00"))
        now = max(now, before + timedelta(milliseconds=1))
    return format_timestamp(now)


GOOGLE = "application/vnd.google-apps."
FOLDER = GOOGLE + "folder"
EXPORT_LIMIT = 10 * 1024 * 1024  # "The exported content is limited to 10MB" (files.export)
_AUTH = "https://www.googleapis.com/auth/"
# drive.v3.json: scopes of files.get (metadata) and of the methods that return content.
METADATA_SCOPES = frozenset(
    _AUTH + s
    for s in [
        "drive",
        "drive.appdata",
        "drive.file",
        "drive.meet.readonly",
        "drive.metadata",
        "drive.metadata.readonly",
        "drive.photos.readonly",
        "drive.readonly",
    ]
)
CONTENT_SCOPES = frozenset(
    _AUTH + s
    for s in ["drive", "drive.appdata", "drive.file", "drive.meet.readonly", "drive.readonly"]
)
# drive.file (and drive.appdata, drive.meet.readonly) reach only files the app made or was
# given; files made through the admin endpoints are no app's, so those scopes see none of them.
ALL_FILES_SCOPES = frozenset(
    _AUTH + s
    for s in [
        "drive",
        "drive.metadata",
        "drive.metadata.readonly",
        "drive.photos.readonly",
        "drive.readonly",
    ]
)
# What files.export can make of each Docs Editors type (the Drive API's export formats).
EXPORTS: dict[str, tuple[str, ...]] = {
    GOOGLE + "document": (
        "application/pdf", "text/plain", "text/html", "application/rtf", "application/epub+zip",
        "application/vnd.oasis.opendocument.text", "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/markdown",
    ),
    GOOGLE + "spreadsheet": (
        "application/pdf", "text/csv", "text/tab-separated-values", "application/zip",
        "application/x-vnd.oasis.opendocument.spreadsheet",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    GOOGLE + "presentation": (
        "application/pdf", "text/plain", "application/vnd.oasis.opendocument.presentation",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    GOOGLE + "drawing": ("application/pdf", "image/png", "image/jpeg", "image/svg+xml"),
}  # fmt: skip
# The formats the emulator can actually make; other valid ones answer 501 (an emulator gap,
# not a Drive refusal).
MADE = {"application/pdf", "text/plain", "text/csv", "text/tab-separated-values", "text/markdown"}
ROLES = ("reader", "commenter", "writer", "fileOrganizer", "organizer", "owner")
READERS = ("reader", "commenter")
DEFAULT_FIELDS = ("kind", "id", "name", "mimeType")


def new_file_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=").replace("-", "x")


@dataclass
class Permission:
    type: str  # user, group, domain, anyone
    role: str
    email: str = ""
    domain: str = ""


@dataclass
class SharedDrive:
    id: str
    name: str
    members: dict[str, str] = field(default_factory=dict)  # email → role


@dataclass
class File:
    id: str
    name: str
    mime_type: str
    owner: str  # "" for shared-drive files (the drive owns them)
    content: bytes = b""
    drive_id: str = ""
    permissions: list[Permission] = field(default_factory=list)
    copy_requires_writer_permission: bool = False
    version: int = 1
    head_revision_id: str = ""
    modified_time: str = ""
    created_time: str = ""

    @property
    def is_google(self) -> bool:
        return self.mime_type.startswith(GOOGLE)

    @property
    def exportable(self) -> bool:
        return self.mime_type in EXPORTS


class Drive:
    """All files and shared drives; every method takes the acting user's address."""

    def __init__(self) -> None:
        self.files: dict[str, File] = {}
        self.drives: dict[str, SharedDrive] = {}
        self.lock = threading.RLock()

    def reset(self) -> None:
        with self.lock:
            self.files.clear()
            self.drives.clear()

    # --- access ----------------------------------------------------------------------------

    def role_of(self, f: File, actor: str) -> str | None:
        """The actor's strongest role on the file, None if they cannot see it."""
        actor = actor.lower()
        found: list[str] = []
        if f.owner and f.owner == actor:
            found.append("owner")
        drive = self.drives.get(f.drive_id) if f.drive_id else None
        if drive is not None and actor in drive.members:
            found.append(drive.members[actor])
        domain = actor.rpartition("@")[2]
        for p in f.permissions:
            if (
                (p.type == "user" and p.email == actor)
                or (p.type == "domain" and p.domain == domain)
                or p.type == "anyone"
            ):
                found.append(p.role)
        return max(found, key=ROLES.index) if found else None

    def visible(self, actor: str, file_id: str, params: dict[str, str], scopes: Any) -> File:
        """The file if the actor may see it through this call, else 404 as Drive answers."""
        with self.lock:
            f = self.files.get(file_id)
        if (
            f is None
            or self.role_of(f, actor) is None
            or (f.drive_id and not _flag(params, "supportsAllDrives", "supportsTeamDrives"))
            or (scopes is not None and not scopes & ALL_FILES_SCOPES)
        ):
            raise not_found(file_id)
        return f

    def can_download(self, f: File, actor: str) -> bool:
        role = self.role_of(f, actor)
        return not (f.copy_requires_writer_permission and role in READERS)

    # --- the API ---------------------------------------------------------------------------

    def metadata(self, f: File, actor: str, fields_param: str | None) -> dict[str, Any]:
        role = self.role_of(f, actor) or "reader"
        full: dict[str, Any] = {
            "kind": "drive#file",
            "id": f.id,
            "name": f.name,
            "mimeType": f.mime_type,
            "version": str(f.version),
            "createdTime": f.created_time,
            "modifiedTime": f.modified_time,
            "ownedByMe": f.owner == actor.lower(),
            "copyRequiresWriterPermission": f.copy_requires_writer_permission,
            "webViewLink": view_link(f.id, f.mime_type),
            "iconLink": icon_link(f.mime_type),
            "capabilities": {
                "canDownload": self.can_download(f, actor),
                "canCopy": self.can_download(f, actor),
                "canEdit": role not in READERS,
            },
        }
        if f.owner:
            full["owners"] = [
                {"kind": "drive#user", "emailAddress": f.owner, "me": full["ownedByMe"]}
            ]
        if f.drive_id:
            full["driveId"] = f.drive_id
        if not f.is_google:
            full.update(
                size=str(len(f.content)),
                md5Checksum=hashlib.md5(f.content).hexdigest(),  # noqa: S324 - Drive's checksum
                headRevisionId=f.head_revision_id,
                originalFilename=f.name,
            )
            if "." in f.name:
                full["fileExtension"] = f.name.rsplit(".", 1)[1]
        if f.exportable:
            full["exportLinks"] = {
                mime: f"https://docs.google.com/feeds/download/export?id={f.id}&exportFormat={mime}"
                for mime in EXPORTS[f.mime_type]
            }
        return select(full, fields_param)

    def media(self, f: File, actor: str) -> bytes:
        if f.is_google:
            raise errors.ApiError(
                403, "fileNotDownloadable",
                "Only files with binary content can be downloaded. Use Export with Docs Editors "
                "files.", location="alt", location_type="parameter",
            )  # fmt: skip
        if not self.can_download(f, actor):
            raise errors.ApiError(
                403, "cannotDownloadFile", "This file cannot be downloaded by the user."
            )
        return f.content

    def export(self, f: File, actor: str, mime_type: str | None) -> tuple[bytes, str]:
        if not mime_type:
            raise errors.required("mimeType")
        if not f.exportable:
            raise errors.ApiError(
                403, "fileNotExportable", "Export only supports Docs Editors files."
            )
        if mime_type not in EXPORTS[f.mime_type]:
            raise errors.ApiError(
                400, "badRequest", "The requested conversion is not supported.",
                location="mimeType", location_type="parameter",
            )  # fmt: skip
        if not self.can_download(f, actor):
            raise errors.ApiError(
                403, "cannotExportFile", "This file cannot be exported by the user."
            )
        if mime_type not in MADE:
            raise errors.ApiError(
                501, "notImplemented", f"The emulator cannot make {mime_type} exports."
            )
        data = make_pdf(f.name, f.content) if mime_type == "application/pdf" else f.content
        if len(data) > EXPORT_LIMIT:
            raise errors.ApiError(
                403, "exportSizeLimitExceeded", "This file is too large to be exported."
            )
        return data, mime_type

    # --- set up (admin) --------------------------------------------------------------------

    def put(self, f: File) -> File:
        with self.lock:
            old = self.files.get(f.id)
            now = _later(old.modified_time if old else "")
            f.created_time = old.created_time if old else now
            f.modified_time = now
            f.version = old.version + 1 if old else 1
            if not f.is_google:
                f.head_revision_id = new_file_id()[:16]
            self.files[f.id] = f
        return f

    def change(self, file_id: str, **changes: Any) -> File:
        """A new revision (content, name) or a metadata change (permissions, restrictions)."""
        with self.lock:
            f = self.files.get(file_id)
            if f is None:
                raise not_found(file_id)
            content_changed = any(k in changes for k in ("content", "name"))
            for key, value in changes.items():
                setattr(f, key, value)
            f.version += 1
            if content_changed:
                f.modified_time = _later(f.modified_time)
                if not f.is_google and "content" in changes:
                    f.head_revision_id = new_file_id()[:16]
            return f


def _flag(params: dict[str, str], *names: str) -> bool:
    return any(str(params.get(n, "")).lower() == "true" for n in names)


def not_found(file_id: str) -> errors.ApiError:
    return errors.ApiError(
        404, "notFound", f"File not found: {file_id}.", location="fileId",
        location_type="parameter",
    )  # fmt: skip


def view_link(file_id: str, mime_type: str) -> str:
    kinds = {"document": "document", "spreadsheet": "spreadsheets", "presentation": "presentation",
             "drawing": "drawings", "form": "forms"}  # fmt: skip
    kind = kinds.get(mime_type.removeprefix(GOOGLE)) if mime_type.startswith(GOOGLE) else None
    if kind:
        return f"https://docs.google.com/{kind}/d/{file_id}/edit?usp=drivesdk"
    return f"https://drive.google.com/file/d/{file_id}/view?usp=drivesdk"


def icon_link(mime_type: str) -> str:
    return f"https://drive-thirdparty.googleusercontent.com/16/type/{mime_type}"


# --- partial responses (the `fields` parameter) ----------------------------------------------


def _split(text: str) -> list[str]:
    """Top-level comma-separated parts, keeping parentheses together."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise _bad_fields(text)
        current += char
    if depth:
        raise _bad_fields(text)
    parts.append(current.strip())
    return [p for p in parts if p]


def _bad_fields(text: str) -> errors.ApiError:
    return errors.ApiError(
        400, "invalidParameter", f"Invalid field selection {text}", location="fields",
        location_type="parameter",
    )  # fmt: skip


def select(resource: dict[str, Any], fields_param: str | None) -> dict[str, Any]:
    """Drive v3 returns kind, id, name and mimeType unless `fields` names others (`*` is all;
    `a/b` and `a(b,c)` select inside objects); a field the resource lacks is left out."""
    if not fields_param:
        return {k: resource[k] for k in DEFAULT_FIELDS if k in resource}
    return _pick(resource, _split(fields_param))


def _pick(resource: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        if part == "*":
            out.update(resource)
            continue
        head, sub = part, ""
        if "(" in part:
            if not part.endswith(")"):
                raise _bad_fields(part)
            head, sub = part[: part.index("(")], part[part.index("(") + 1 : -1]
        elif "/" in part:
            head, sub = part.split("/", 1)
        if not head.replace("_", "").isalnum():
            raise _bad_fields(part)
        if head not in resource:
            continue
        value = resource[head]
        if sub and isinstance(value, dict):
            picked = _pick(value, _split(sub))
            out[head] = {**out.get(head, {}), **picked}
        else:
            out[head] = value
    return out


# --- PDF export -------------------------------------------------------------------------------


def make_pdf(title: str, text: bytes) -> bytes:
    """A small, valid one-page PDF that carries the document's text (a stand-in for Google's
    rendering: its size grows with the text, which is what the 10 MB limit is about)."""
    body = text.decode("utf-8", "replace")
    escaped = (title + "\n" + body).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    lines = escaped.splitlines() or [""]
    stream = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    stream_bytes = stream.encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream_bytes)).encode() + b" >>\nstream\n" + stream_bytes
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]  # fmt: skip
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)
