"""Files: ContentVersion creates its ContentDocument (and links); ContentDocumentLink rules."""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .org import Org, register
from .store import Record


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
        rec["Title"] = rec["Title"] or path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        rec["FileExtension"] = path.rsplit(".", 1)[-1].lower() if "." in path else None
        rec["ContentSize"] = len(rec["VersionData"] or b"")
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
