"""R-20: what to do with each file attached to a saved item, decided from Drive's metadata.

Pure decisions; infra/attachments.py carries them out (Drive download as the user, Salesforce
ContentVersion). Google Docs, Sheets, Slides and Drawings have no bytes of their own: they are
exported as PDF, which Google caps at 10 MB. A file is stored once per SF Event: a new Drive
revision becomes a new version of the same ContentDocument; an unchanged one is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from core.issues import Issue
from core.model import Attachment, StoredFile

TOO_BIG = "CS-021"
UNREADABLE = "CS-022"
REFUSED_TYPE = "CS-023"
ATTACHMENT_CODES = (TOO_BIG, UNREADABLE, REFUSED_TYPE)  # a file's own issues, never the item's
CODES = (TOO_BIG, UNREADABLE, REFUSED_TYPE)

PDF = "application/pdf"
# Drive's files.export answers at most this much (API-FACTS-2 §4.2: "limited to 10 MB"; whether
# Google counts 10 MB or 10 MiB is not documented: the larger is assumed, Drive refuses beyond).
EXPORT_LIMIT = 10 * 1024 * 1024
_GOOGLE = "application/vnd.google-apps."
# Docs Editors files: exported as PDF under their own name plus ".pdf".
EXPORTED = frozenset(
    _GOOGLE + kind for kind in ("document", "spreadsheet", "presentation", "drawing")
)
# Other Google types have no file form calsync could store (forms, sites, maps, folders,
# shortcuts, Apps Script, Vids, Jamboards...): every application/vnd.google-apps.* not above.


class Fetch(Enum):
    DOWNLOAD = "download"  # files.get alt=media: a file with bytes of its own
    EXPORT = "export"  # files.export to PDF: a Docs Editors file


@dataclass(frozen=True)
class DriveFile:
    """A Drive file's metadata as the user sees it (files.get with supportsAllDrives)."""

    id: str
    name: str
    mime_type: str
    size: int | None = None  # bytes; Drive gives none for Docs Editors files
    revision: str = ""  # what changes when the content changes (see infra/drive.py)
    can_download: bool = True


@dataclass(frozen=True)
class FileContent:
    """The bytes to store, with the name and type Salesforce gets (PathOnClient, FileType)."""

    file_id: str
    name: str
    mime_type: str
    data: bytes
    revision: str


@dataclass(frozen=True)
class FileFailure:
    """One attachment not stored, with its issue code (CODES, or CS-011 for a retry later)."""

    file_id: str
    name: str
    code: str
    detail: str
    retryable: bool = False


@dataclass(frozen=True)
class Step:
    """What to do with one attachment: nothing (`unchanged`), fail with `failure`, or fetch it
    (`fetch`) and store it under `file_name` as a new document or a new version of `stored`."""

    file_id: str
    fetch: Fetch | None = None
    file_name: str = ""
    stored: StoredFile | None = None
    unchanged: bool = False
    failure: FileFailure | None = None


def refused(attachment: Attachment) -> FileFailure | None:
    """R-20: an attachment that is not a Drive file (no fileId) cannot be read at all."""
    if attachment.file_id:
        return None
    return FileFailure("", attachment.title, REFUSED_TYPE, "not a Google Drive file")


def step(meta: DriveFile, stored: StoredFile | None, max_bytes: int) -> Step:
    """R-20: the step for one attachment, from Drive's metadata and what was stored before."""
    if stored is not None and meta.revision and stored.revision == meta.revision:
        return Step(meta.id, stored=stored, unchanged=True)
    if meta.mime_type.startswith(_GOOGLE) and meta.mime_type not in EXPORTED:
        kind = meta.mime_type.removeprefix(_GOOGLE)
        return _fail(meta, REFUSED_TYPE, f"a Google {kind} has no file form to store")
    if not meta.can_download:
        return _fail(meta, UNREADABLE, "its owner does not allow downloading it")
    if meta.mime_type in EXPORTED:
        return Step(meta.id, Fetch.EXPORT, pdf_name(meta.name), stored)
    if meta.size is not None and meta.size > max_bytes:
        return _fail(meta, TOO_BIG, too_big_detail(meta.size, max_bytes))
    return Step(meta.id, Fetch.DOWNLOAD, meta.name or meta.id, stored)


def check_size(content: FileContent, max_bytes: int) -> FileFailure | None:
    """R-20: an exported PDF's size is known only once it is made."""
    if len(content.data) <= max_bytes:
        return None
    detail = too_big_detail(len(content.data), max_bytes)
    return FileFailure(content.file_id, content.name, TOO_BIG, detail)


def too_big_detail(size: int, max_bytes: int) -> str:
    return f"{_mb(size)} is over the limit of {_mb(max_bytes)}"


def pdf_name(name: str) -> str:
    base = name or "document"
    return base if base.lower().endswith(".pdf") else base + ".pdf"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _fail(meta: DriveFile, code: str, detail: str) -> Step:
    return Step(meta.id, failure=FileFailure(meta.id, meta.name, code, detail))


def issues_for(
    failures: tuple[FileFailure, ...],
    user_email: str,
    item_key: str,
    title: str,
    start: datetime | None,
) -> list[Issue]:
    """R-20, R-31: one issue per item and code (CODES, or CS-010/CS-011 when Salesforce refused
    or was unavailable), naming every file that failed with it (the message is shown to the
    user and the admin, never logged)."""
    by_code: dict[str, list[FileFailure]] = {}
    for failure in failures:
        by_code.setdefault(failure.code, []).append(failure)
    out = []
    for code, found in by_code.items():
        names = "; ".join(f"{f.name or f.file_id or 'attachment'}: {f.detail}" for f in found)
        message = f"{len(found)} attachment(s) not stored: {names}"
        out.append(Issue(code, user_email, item_key, message[:1000], title, start))
    return out
