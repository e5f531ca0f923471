"""One user's Google Drive, read-only, through domain-wide delegation: implements core.ports.Drive.

R-20: an attachment is read as the user whose calendar it is on (they may read the file or not,
and Drive answers accordingly). The credentials carry only `drive.readonly`, and this reader is
built only while `save_attachments` is on, so the Drive scope is never requested otherwise
(infra/credentials.py). Blobs are downloaded (files.get alt=media), Docs Editors files exported
as PDF (files.export); shared-drive files need supportsAllDrives. Failures come back as
FileFailure with their issue code; rate limits and 5xx are retried with backoff first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from google.auth.exceptions import RefreshError
from googleapiclient.discovery import build
from googleapiclient.http import HttpRequest

from core.attachments import (
    PDF,
    TOO_BIG,
    UNREADABLE,
    DriveFile,
    Fetch,
    FileContent,
    FileFailure,
)
from infra.config import Config
from infra.credentials import DRIVE_SCOPES, google_credentials
from infra.google_calendar import Backoff, Failure, GaveUp, execute, quota_user

log = logging.getLogger(__name__)

UNAVAILABLE = "CS-011"
META_FIELDS = (
    "id,name,mimeType,size,md5Checksum,headRevisionId,modifiedTime,capabilities(canDownload)"
)
_NO_ACCESS = "calsync may not read Drive for this user: the domain-wide delegation entry needs "
_NO_ACCESS += "the scope " + DRIVE_SCOPES[0] + " (docs/deploy.md, step 4)"


def drive_url_for(calendar_url: str) -> str:
    """The Drive API next to the Calendar API (…/calendar/v3/ → …/drive/v3/): Google serves both
    from www.googleapis.com, the local stack's Calendar emulator both from one port."""
    suffix = "/calendar/v3/"
    if not calendar_url.endswith(suffix):
        raise ValueError(f"calendar_url must end with {suffix} (got {calendar_url!r})")
    return calendar_url[: -len(suffix)] + "/drive/v3/"


def revision_of(meta: dict[str, Any]) -> str:
    """What changes when the content changes: a blob's MD5 (the same bytes uploaded again are
    the same revision), else its head revision; a Docs Editors file has neither, so its
    modification time (renaming it counts, sharing it does not)."""
    return str(
        meta.get("md5Checksum") or meta.get("headRevisionId") or meta.get("modifiedTime") or ""
    )


class GoogleDrive:
    """Implements core.ports.Drive for one user. Not thread-safe (httplib2)."""

    def __init__(self, config: Config, email: str, *, backoff: Backoff | None = None) -> None:
        service = build(
            "drive",
            "v3",
            credentials=google_credentials(config, email, DRIVE_SCOPES),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": drive_url_for(config.calendar_url)},
        )
        self._setup(service, email, backoff)

    @classmethod
    def from_service(
        cls, service: Any, email: str, *, backoff: Backoff | None = None
    ) -> GoogleDrive:
        adapter = cls.__new__(cls)
        adapter._setup(service, email, backoff)
        return adapter

    def _setup(self, service: Any, email: str, backoff: Backoff | None) -> None:
        self._files = service.files()
        self.email = email
        self.quota_user = quota_user(email)
        self.backoff = backoff or Backoff()

    # -- the port -----------------------------------------------------------------------

    def metadata(self, file_id: str) -> DriveFile | FileFailure:
        got = self._call(
            file_id,
            "",
            partial(self._files.get, fileId=file_id, supportsAllDrives=True, fields=META_FIELDS,
                    quotaUser=self.quota_user),
        )  # fmt: skip
        if isinstance(got, FileFailure):
            return got
        size = got.get("size")
        return DriveFile(
            id=str(got.get("id") or file_id),
            name=str(got.get("name") or ""),
            mime_type=str(got.get("mimeType") or ""),
            size=int(size) if isinstance(size, str) and size.isdigit() else None,
            revision=revision_of(got),
            can_download=bool((got.get("capabilities") or {}).get("canDownload", True)),
        )

    def content(self, meta: DriveFile, fetch: Fetch, file_name: str) -> FileContent | FileFailure:
        if fetch is Fetch.EXPORT:
            make = partial(self._files.export_media, fileId=meta.id, mimeType=PDF,
                           quotaUser=self.quota_user)  # fmt: skip
            mime = PDF
        else:
            make = partial(self._files.get_media, fileId=meta.id, supportsAllDrives=True,
                           quotaUser=self.quota_user)  # fmt: skip
            mime = meta.mime_type or "application/octet-stream"
        got = self._call(meta.id, meta.name, make)
        if isinstance(got, FileFailure):
            return got
        data = got if isinstance(got, bytes) else bytes(got or b"")
        return FileContent(meta.id, file_name, mime, data, meta.revision)

    # -- plumbing -----------------------------------------------------------------------

    def _call(self, file_id: str, name: str, make: Callable[[], HttpRequest]) -> Any:
        """Run one request with retries; a failure that stays becomes a FileFailure."""
        try:
            return execute(make, self.backoff, self.email)
        except GaveUp as gave_up:
            return self._as_file_failure(file_id, name, gave_up.failure, gave_up.cause)

    def _as_file_failure(
        self, file_id: str, name: str, failure: Failure, exc: BaseException
    ) -> FileFailure:
        log.warning(
            "drive read failed",
            extra={"user": self.email, "status": failure.status, "code": failure.reason},
        )
        if failure.retryable_now:
            return FileFailure(file_id, name, UNAVAILABLE, "Google Drive is unavailable", True)
        if failure.reason == "exportSizeLimitExceeded":
            return FileFailure(file_id, name, TOO_BIG, "Google exports at most 10 MB as PDF")
        if isinstance(exc, RefreshError) or failure.reason == "insufficientPermissions":
            return FileFailure(file_id, name, UNREADABLE, _NO_ACCESS)
        if failure.status == 404:
            detail = "the user cannot see it (not shared with them, or deleted)"
            return FileFailure(file_id, name, UNREADABLE, detail)
        if failure.reason in ("cannotDownloadFile", "cannotExportFile"):
            return FileFailure(file_id, name, UNREADABLE, "its owner does not allow downloading it")
        return FileFailure(
            file_id, name, UNREADABLE, f"Drive refused it ({failure.reason or failure.status})"
        )
