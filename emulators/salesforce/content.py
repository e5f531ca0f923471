"""Files: ContentVersion creates its ContentDocument (and links); ContentDocumentLink rules.

- A ContentVersion without ContentDocumentId makes a new ContentDocument, owned by the version's
  owner (who gets the implicit link, ShareType I) and linked to FirstPublishLocationId (any
  record type that can have a feed: Event included, ShareType V). With ContentDocumentId it is
  the document's next version: the document's latest version, title and size follow it, its
  links stay; FirstPublishLocationId makes no link then.
- VersionData is stored as sent; ContentSize, Checksum (MD5), FileExtension and FileType come
  from it and from PathOnClient. A version's blob cannot be changed (VersionData is create-only).
- ContentDocumentLink: one link per document and record (DUPLICATE_VALUE); queries on it must
  filter on ContentDocumentId or LinkedEntityId with = or IN (the integration user has no
  "Query All Files"), as Salesforce requires.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .errors import bad_request, malformed_query
from .org import Org, register
from .store import Record

# FileType by extension (a subset of Salesforce's values; anything else is UNKNOWN).
FILE_TYPES = {
    "pdf": "PDF", "doc": "WORD", "docx": "WORD_X", "xls": "EXCEL", "xlsx": "EXCEL_X",
    "ppt": "POWER_POINT", "pptx": "POWER_POINT_X", "csv": "CSV", "txt": "TEXT", "png": "PNG",
    "jpg": "JPG", "jpeg": "JPEG", "gif": "GIF", "zip": "ZIP", "mp4": "MP4", "html": "HTML",
    "rtf": "RTF", "xml": "XML", "odt": "ODT",
}  # fmt: skip
LINK_FILTERS = ("ContentDocumentId", "LinkedEntityId")


def check_query(query: Any) -> None:
    """ContentDocumentLink cannot be queried without an Id filter (Salesforce's restriction)."""
    if query.sobject.name != "ContentDocumentLink" or _has_id_filter(query.where):
        return
    raise malformed_query(
        "Implementation restriction: ContentDocumentLink requires a filter by a single Id on "
        "ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using "
        "the IN operator."
    )


def _has_id_filter(cond: Any) -> bool:
    if cond is None:
        return False
    op = getattr(cond, "op", None)
    if op in ("=", "IN") and getattr(cond, "path", None) is not None:
        path = cond.path
        return path.relationship is None and path.field.name in LINK_FILTERS
    if op == "AND":
        return any(_has_id_filter(c) for c in cond.items)
    return False


def _link(org: Org, document_id: str, entity_id: str, share_type: str) -> None:
    now = org.clock.now()
    user = org.running_user or None
    org.store.put(
        "ContentDocumentLink",
        {
            "Id": org.ids.new("ContentDocumentLink"),
            "ContentDocumentId": document_id,
            "LinkedEntityId": entity_id,
            "ShareType": share_type,
            "Visibility": "AllUsers",
            "IsDeleted": False,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "CreatedById": user,
            "LastModifiedById": user,
        },
    )


class VersionRules:
    def before_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        if old is not None:
            return
        path = rec["PathOnClient"]
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        rec["Title"] = rec["Title"] or name.rsplit(".", 1)[0]
        rec["FileExtension"] = name.rsplit(".", 1)[-1].lower() if "." in name else None
        rec["FileType"] = FILE_TYPES.get(rec["FileExtension"] or "", "UNKNOWN")
        data = rec["VersionData"] or b""
        rec["ContentSize"] = len(data)
        rec["Checksum"] = hashlib.md5(data).hexdigest()  # noqa: S324 - Salesforce's checksum
        rec["IsLatest"] = True

    def after_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        if old is not None:
            return
        document_id = rec["ContentDocumentId"]
        versions = [
            v
            for v in org.store.rows("ContentVersion")
            if document_id
            and v["ContentDocumentId"] == document_id
            and v["Id"] != rec["Id"]
            and not v["IsDeleted"]
        ]
        if document_id is None:
            now = org.clock.now()
            document_id = org.ids.new("ContentDocument")
            org.store.put(
                "ContentDocument",
                {
                    "Id": document_id,
                    "Title": rec["Title"],
                    "FileExtension": rec["FileExtension"],
                    "FileType": rec["FileType"],
                    "ContentSize": rec["ContentSize"],
                    "LatestPublishedVersionId": rec["Id"],
                    "OwnerId": rec["OwnerId"],
                    "IsDeleted": False,
                    "CreatedDate": now,
                    "LastModifiedDate": now,
                    "SystemModstamp": now,
                    "CreatedById": rec["CreatedById"],
                    "LastModifiedById": rec["CreatedById"],
                },
            )
            if rec["OwnerId"]:
                _link(org, document_id, rec["OwnerId"], "I")
            if rec["FirstPublishLocationId"] and rec["FirstPublishLocationId"] != rec["OwnerId"]:
                _link(org, document_id, rec["FirstPublishLocationId"], "V")
        else:
            for version in versions:
                if version["IsLatest"]:
                    org.touch("ContentVersion", version, {"IsLatest": False})
            document = org.store.get("ContentDocument", document_id)
            if document:
                org.touch(
                    "ContentDocument",
                    document,
                    {
                        "LatestPublishedVersionId": rec["Id"],
                        "Title": rec["Title"],
                        "ContentSize": rec["ContentSize"],
                        "FileExtension": rec["FileExtension"],
                        "FileType": rec["FileType"],
                    },
                )
        org.store.put(
            "ContentVersion",
            {**rec, "ContentDocumentId": document_id, "VersionNumber": str(len(versions) + 1)},
        )

    def after_delete(self, org: Org, rec: Record) -> None:
        return None


class DocumentRules:
    def before_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        if old is None:
            raise bad_request(
                "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                "Create a ContentVersion to create a ContentDocument",
            )

    def after_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        return None

    def after_delete(self, org: Org, rec: Record) -> None:
        for table, key in (
            ("ContentVersion", "ContentDocumentId"),
            ("ContentDocumentLink", "ContentDocumentId"),
        ):
            for row in org.store.rows(table):
                if row[key] == rec["Id"] and not row["IsDeleted"]:
                    org.remove(table, row)


class LinkRules:
    def before_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        if old is not None:
            return
        for row in org.store.rows("ContentDocumentLink"):
            if (
                not row["IsDeleted"]
                and row["ContentDocumentId"] == rec["ContentDocumentId"]
                and row["LinkedEntityId"] == rec["LinkedEntityId"]
            ):
                raise bad_request(
                    "DUPLICATE_VALUE",
                    "Document with ID: "
                    f"{rec['ContentDocumentId']} is already linked with the entity "
                    f"with ID: {rec['LinkedEntityId']}",
                    ["LinkedEntityId"],
                )

    def after_save(self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]) -> None:
        return None

    def after_delete(self, org: Org, rec: Record) -> None:
        return None


register("ContentVersion", VersionRules())
register("ContentDocument", DocumentRules())
register("ContentDocumentLink", LinkRules())
