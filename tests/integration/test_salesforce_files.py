"""The Salesforce emulator's Files (R-20) through simple-salesforce: ContentVersion as JSON
(base64) and as multipart, the request-size limits of each, new versions of a document,
ContentDocumentLink to Events, and the query restriction on links."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

pytestmark = pytest.mark.integration

EVENT = {"Subject": "Review", "StartDateTime": "2030-01-07T10:00:00Z",
         "EndDateTime": "2030-01-07T11:00:00Z"}  # fmt: skip
JSON_LIMIT = 52_428_800


def event(sf) -> str:
    return sf.Event.create(EVENT)["id"]


def multipart(sf, entity: dict, *parts, name="VersionData", filename="deck.pdf", data=b"%PDF"):
    """POST sobjects/ContentVersion as multipart, the way infra/salesforce_files.py sends it."""
    files = {"entity_content": (None, json.dumps(entity), "application/json")}
    if parts:
        files = dict(parts)
    elif name:
        files[name] = (filename, data, "application/octet-stream")
    return sf.restful("sobjects/ContentVersion", method="POST", headers={"Content-Type": None},
                      files=files)  # fmt: skip


def code_of(exc: SalesforceMalformedRequest) -> tuple[str, str]:
    return exc.content[0]["errorCode"], exc.content[0]["message"]


def links_of(sf, entity_id: str) -> list[dict]:
    soql = format_soql(
        "SELECT ContentDocumentId, ShareType FROM ContentDocumentLink WHERE LinkedEntityId = {}",
        entity_id,
    )
    return list(sf.query(soql)["records"])


def test_json_upload_linked_to_an_event(salesforce):
    ev = event(salesforce)
    data = b"%PDF-1.4 the deck"
    made = salesforce.ContentVersion.create({
        "PathOnClient": "Q3 deck.pdf", "VersionData": base64.b64encode(data).decode(),
        "FirstPublishLocationId": ev, "ReasonForChange": "calsync drive:F1 rev:r1",
    })  # fmt: skip
    got = salesforce.ContentVersion.get(made["id"])
    assert (got["Title"], got["FileType"], got["ContentSize"]) == ("Q3 deck", "PDF", len(data))
    assert got["Checksum"] == hashlib.md5(data).hexdigest()  # noqa: S324
    assert (got["VersionNumber"], got["IsLatest"]) == ("1", True)
    assert [link["ContentDocumentId"] for link in links_of(salesforce, ev)] == [
        got["ContentDocumentId"]
    ]


def test_multipart_upload_with_the_part_names_salesforce_requires(salesforce):
    ev = event(salesforce)
    answer = multipart(salesforce, {"PathOnClient": "deck.pdf", "FirstPublishLocationId": ev},
                       data=b"\x00\x01 binary \xff")  # fmt: skip
    assert answer["success"] is True
    got = salesforce.ContentVersion.get(answer["id"])
    blob = salesforce.session.get(f"{salesforce.base_url}sobjects/ContentVersion/{answer['id']}/VersionData",
                                  headers=salesforce.headers)  # fmt: skip
    assert blob.content == b"\x00\x01 binary \xff" and got["ContentSize"] == 11
    assert len(links_of(salesforce, ev)) == 1


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        pytest.param([("VersionData", ("a.pdf", b"x", "application/pdf"))],
                     "Multipart message must include a non-binary part", id="no JSON part"),
        pytest.param([("a", (None, "{}", "application/json")), ("b", (None, "{}", "application/json")),
                      ("VersionData", ("a.pdf", b"x", "application/pdf"))],
                     "Cannot include more than one non-binary part", id="two JSON parts"),
        pytest.param([("entity_content", (None, '{"PathOnClient": "a.pdf"}', "application/json")),
                      ("VersionData", ("a.pdf", b"x", "application/pdf")),
                      ("Other", ("b.pdf", b"y", "application/pdf"))],
                     "Cannot include more than one binary part", id="two binary parts"),
        pytest.param([("entity_content", (None, '{"PathOnClient": "a.pdf"}', "application/json")),
                      ("File", ("a.pdf", b"x", "application/pdf"))],
                     "The binary part 'File' is not a blob field of ContentVersion",
                     id="binary part not named after the blob field"),
    ],
)  # fmt: skip
def test_multipart_bodies_salesforce_refuses(salesforce, parts, message):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        multipart(salesforce, {}, *parts)
    assert code_of(refused.value) == ("INVALID_MULTIPART_REQUEST", message)


def test_json_requests_stop_at_50_mb_and_multipart_takes_more(salesforce):
    """A file over 37.5 MB cannot go as base64 JSON (the request would pass 52,428,800 bytes);
    the same file as multipart is stored."""
    data = bytes(range(256)) * (38 * 1024 * 1024 // 256)  # 38 MiB
    body = json.dumps({"PathOnClient": "video.mp4", "VersionData": base64.b64encode(data).decode()})
    assert len(body) > JSON_LIMIT
    with pytest.raises(SalesforceMalformedRequest) as refused:
        salesforce.restful("sobjects/ContentVersion", method="POST", data=body)
    assert code_of(refused.value) == (
        "JSON_PARSER_ERROR",
        "Maximum size of request reached. Maximum size of request is 52428800 bytes.",
    )
    made = multipart(salesforce, {"PathOnClient": "video.mp4"}, filename="video.mp4", data=data)
    assert salesforce.ContentVersion.get(made["id"])["ContentSize"] == len(data)


def test_a_new_version_of_the_same_document(salesforce):
    ev = event(salesforce)
    first = salesforce.ContentVersion.create({
        "PathOnClient": "plan.pdf", "VersionData": base64.b64encode(b"v1").decode(),
        "FirstPublishLocationId": ev,
    })  # fmt: skip
    document = salesforce.ContentVersion.get(first["id"])["ContentDocumentId"]
    second = multipart(salesforce, {"PathOnClient": "plan.pdf", "ContentDocumentId": document,
                                    "ReasonForChange": "revision 2"}, data=b"v2")  # fmt: skip
    old, new = (salesforce.ContentVersion.get(v["id"]) for v in (first, second))
    assert (old["IsLatest"], new["IsLatest"], new["VersionNumber"]) == (False, True, "2")
    assert new["ContentDocumentId"] == document
    doc = salesforce.ContentDocument.get(document)
    assert doc["LatestPublishedVersionId"] == second["id"] and doc["ContentSize"] == 2
    assert [link["ContentDocumentId"] for link in links_of(salesforce, ev)] == [document]
    with pytest.raises(SalesforceMalformedRequest) as immutable:
        salesforce.ContentVersion.update(
            second["id"], {"VersionData": base64.b64encode(b"v3").decode()}
        )
    assert code_of(immutable.value)[0] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_a_document_linked_to_a_second_event_once(salesforce):
    first, second = event(salesforce), event(salesforce)
    made = salesforce.ContentVersion.create({
        "PathOnClient": "a.txt", "VersionData": base64.b64encode(b"a").decode(),
        "FirstPublishLocationId": first,
    })  # fmt: skip
    document = salesforce.ContentVersion.get(made["id"])["ContentDocumentId"]
    link = salesforce.ContentDocumentLink.create(
        {"ContentDocumentId": document, "LinkedEntityId": second, "ShareType": "V"}
    )
    assert link["success"] is True
    with pytest.raises(SalesforceMalformedRequest) as twice:
        salesforce.ContentDocumentLink.create(
            {"ContentDocumentId": document, "LinkedEntityId": second}
        )
    assert code_of(twice.value)[0] == "DUPLICATE_VALUE"
    assert [r["ContentDocumentId"] for r in links_of(salesforce, second)] == [document]


def test_links_are_queried_by_document_or_record_only(salesforce):
    """Salesforce's implementation restriction on ContentDocumentLink (no Query All Files)."""
    with pytest.raises(SalesforceMalformedRequest) as restricted:
        salesforce.query("SELECT Id FROM ContentDocumentLink WHERE ShareType = 'V'")
    assert code_of(restricted.value)[0] == "MALFORMED_QUERY"
    ev = event(salesforce)
    assert (
        salesforce.query(
            format_soql("SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId IN {}", [ev])
        )["totalSize"]
        == 0
    )
