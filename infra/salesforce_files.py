"""Salesforce Files for R-20: implements core.ports.SalesforceFiles next to the Salesforce adapter.

A file becomes a ContentVersion linked to the SF Event through FirstPublishLocationId (one call,
plus one query for the ContentDocument id Salesforce makes); a new Drive revision becomes a new
version of the same ContentDocument (ContentDocumentId on insert, its links stay). The body is
JSON with base64 VersionData while the request stays under Salesforce's 52,428,800-byte JSON
limit (a file of about 37.5 MB), multipart above it (up to 2 GB for ContentVersion), with the
part names Salesforce requires (API-FACTS-2 §4.3).

Each version carries `ReasonForChange` = "calsync drive:FILE rev:REVISION", so that `stored_on`
finds what an earlier attempt stored after a crash before the mapping was written, and nothing
is stored twice.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections import Counter
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.format import format_soql

from core.attachments import FileContent
from core.errors import CalsyncError
from core.model import StoredFile
from core.ports import WriteResult
from infra.salesforce import SalesforceAdapter, _failure_of, _typed

log = logging.getLogger(__name__)

JSON_REQUEST_LIMIT = 52_428_800  # bytes of a JSON request (REST API guide: 50 MB of text)
MULTIPART_LIMIT = 2 * 1024**3  # bytes of a ContentVersion multipart request (2 GB)
_JSON_OVERHEAD = 4096  # room for the other fields of the JSON body
_MARKER = re.compile(r"^calsync drive:(?P<file>\S+) rev:(?P<rev>\S*)$")
# A new version of a document that is gone (deleted in Salesforce) is stored as a new document.
_DOCUMENT_GONE = frozenset({"INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_DELETED", "NOT_FOUND"})


def marker(file_id: str, revision: str) -> str:
    return f"calsync drive:{file_id} rev:{revision}"


def fits_json(size: int) -> bool:
    """Whether a file of `size` bytes, base64-encoded, fits a JSON request."""
    return 4 * ((size + 2) // 3) + _JSON_OVERHEAD <= JSON_REQUEST_LIMIT


class SalesforceFiles:
    """ContentVersion, ContentDocument and ContentDocumentLink through the adapter's client
    (its login, re-login and call counting). `uploads` counts uploads by body kind."""

    def __init__(self, adapter: SalesforceAdapter) -> None:
        self._adapter = adapter
        self.uploads: Counter[str] = Counter()

    # -- the port -----------------------------------------------------------------------

    def stored_on(self, sf_event_id: str) -> dict[str, StoredFile]:
        links = self._query(
            format_soql(
                "SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = {}",
                sf_event_id,
            )
        )
        documents = sorted({row["ContentDocumentId"] for row in links})
        if not documents:
            return {}
        versions = self._query(
            format_soql(
                "SELECT ContentDocumentId, ReasonForChange, VersionNumber FROM ContentVersion "
                "WHERE ContentDocumentId IN {} ORDER BY CreatedDate, Id",
                documents,
            )
        )
        found: dict[str, StoredFile] = {}
        for row in versions:  # oldest first: the latest version of a file's document wins
            match = _MARKER.match(str(row.get("ReasonForChange") or ""))
            if match:
                found[match["file"]] = StoredFile(
                    match["file"], row["ContentDocumentId"], match["rev"], sf_event_id
                )
        return found

    def upload(self, content: FileContent, sf_event_id: str, document_id: str = "") -> WriteResult:
        size = len(content.data)
        if size > MULTIPART_LIMIT:
            return WriteResult(content.file_id, False, error_code="FILE_TOO_LARGE",
                               message="Salesforce stores files of at most 2 GB")  # fmt: skip
        result = self._upload(content, sf_event_id, document_id)
        if document_id and not result.ok and result.error_code in _DOCUMENT_GONE:
            log.info(
                "stored document gone: storing the file anew", extra={"code": result.error_code}
            )
            result = self._upload(content, sf_event_id, "")
        return result

    def link(self, document_id: str, sf_event_id: str) -> WriteResult:
        body = {"ContentDocumentId": document_id, "LinkedEntityId": sf_event_id, "ShareType": "V"}
        try:
            self._adapter._call(lambda sf: sf.ContentDocumentLink.create(body))
        except (SalesforceError, requests.RequestException) as exc:
            failure = _failure_of(exc)
            if failure.code == "DUPLICATE_VALUE":
                return WriteResult(document_id, True, id=document_id)
            return WriteResult(document_id, False, error_code=failure.code,
                               message=failure.message, retryable=failure.retryable)  # fmt: skip
        return WriteResult(document_id, True, id=document_id)

    # -- plumbing -----------------------------------------------------------------------

    def _upload(self, content: FileContent, sf_event_id: str, document_id: str) -> WriteResult:
        fields: dict[str, Any] = {
            "Title": _title(content.name),
            "PathOnClient": content.name,
            "ReasonForChange": marker(content.file_id, content.revision),
        }
        if document_id:
            fields["ContentDocumentId"] = document_id
        else:
            fields["FirstPublishLocationId"] = sf_event_id
        kind = "json" if fits_json(len(content.data)) else "multipart"
        try:
            if kind == "json":
                fields["VersionData"] = base64.b64encode(content.data).decode("ascii")
                made = self._adapter._call(lambda sf: sf.ContentVersion.create(fields))
            else:
                files = {
                    "entity_content": (None, json.dumps(fields), "application/json"),
                    "VersionData": (content.name, content.data, content.mime_type),
                }
                # simple-salesforce sets Content-Type: application/json on every call; None
                # drops it, so requests writes the multipart type with its boundary.
                made = self._adapter._call(
                    lambda sf: sf.restful("sobjects/ContentVersion", method="POST",
                                          headers={"Content-Type": None}, files=files)
                )  # fmt: skip
            self.uploads[kind] += 1
            document = document_id or self._document_of(str(made["id"]))
        except (SalesforceError, requests.RequestException) as exc:
            failure = _failure_of(exc)
            log.warning("file upload failed", extra={"code": failure.code, "action": kind})
            return WriteResult(content.file_id, False, error_code=failure.code,
                               message=failure.message, retryable=failure.retryable)  # fmt: skip
        except CalsyncError as exc:  # stored, but its document id unread: a retry finds it
            return WriteResult(content.file_id, False, error_code="DOCUMENT_UNREAD",
                               message=exc.message, retryable=True)  # fmt: skip
        return WriteResult(content.file_id, True, id=document)

    def _document_of(self, version_id: str) -> str:
        rows = self._query(
            format_soql("SELECT ContentDocumentId FROM ContentVersion WHERE Id = {}", version_id)
        )
        return str(rows[0]["ContentDocumentId"])

    def _query(self, soql: str) -> list[dict[str, Any]]:
        try:
            answer = self._adapter._call(lambda sf: sf.query_all(soql))
        except (SalesforceError, requests.RequestException) as exc:
            raise _typed(exc) from exc
        return list(answer["records"])


def _title(name: str) -> str:
    base = name.rsplit(".", 1)[0] if "." in name else name
    return (base or name or "attachment")[:255]
