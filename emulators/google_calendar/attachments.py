"""Event `attachments[]` as Google stores them (written with supportsAttachments=true).

`fileId` is read-only: Google takes it from the Drive link in `fileUrl` (the alternateLink
formats: drive.google.com/file/d/ID/..., drive.google.com/open?id=ID, docs.google.com/KIND/d/
ID/...), ignoring one sent by the client. For a file this emulator's Drive holds, a missing
title, mimeType or iconLink is filled from the file (not verified against Google: the reference
only says Drive attachments are what is supported). Other links stay as given, without fileId.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .drive import Drive, icon_link

_PATH_ID = re.compile(r"/(?:file|document|spreadsheets|presentation|drawings|forms)/d/([\w-]+)")
_HOSTS = ("drive.google.com", "docs.google.com")


def drive_file_id(url: str) -> str:
    """The Drive file id in a Drive or Docs link, "" for any other link."""
    parts = urlsplit(url)
    if parts.hostname not in _HOSTS:
        return ""
    found = _PATH_ID.search(parts.path)
    if found:
        return found.group(1)
    ids = parse_qs(parts.query).get("id")
    return ids[0] if ids and re.fullmatch(r"[\w-]+", ids[0]) else ""


def resolve(drive: Drive | None, data: dict[str, Any]) -> None:
    """Fill each attachment's read-only fields in place, as Google does when storing it."""
    for attachment in data.get("attachments") or []:
        attachment.pop("fileId", None)
        file_id = drive_file_id(str(attachment.get("fileUrl", "")))
        if not file_id:
            continue
        attachment["fileId"] = file_id
        known = drive.files.get(file_id) if drive is not None else None
        if known is None:
            continue
        attachment.setdefault("title", known.name)
        attachment.setdefault("mimeType", known.mime_type)
        attachment["iconLink"] = icon_link(known.mime_type)  # only custom links keep their own
