"""R-20 below the session, through the real clients against the emulators: the Drive reader
(domain-wide delegation with drive.readonly only), Salesforce Files (JSON and multipart
ContentVersion, links) and `store_attachments`, which the session calls per saved item."""

from __future__ import annotations

import json
from typing import Any

import pytest
from simple_salesforce.format import format_soql

from core.attachments import REFUSED_TYPE, TOO_BIG, UNREADABLE, Fetch
from core.model import Attachment, StoredFile
from infra.attachments import store_attachments
from infra.config import Config
from infra.credentials import CALENDAR_SCOPES, DRIVE_SCOPES, delegation_scopes
from infra.drive import GoogleDrive, drive_url_for
from infra.google_calendar import Backoff
from infra.salesforce import SalesforceAdapter
from infra.salesforce_files import SalesforceFiles, fits_json

pytestmark = pytest.mark.integration

ALICE, BOB = "alice@example.com", "bob@example.com"
DOC = "application/vnd.google-apps.document"
LIMIT = 10_000_000
EVENT = {"Subject": "Review", "StartDateTime": "2030-01-07T10:00:00Z",
         "EndDateTime": "2030-01-07T11:00:00Z"}  # fmt: skip


@pytest.fixture
def config(gcal, tmp_path) -> Config:
    key = dict(gcal.service_account_info, token_uri=gcal.token_uri)
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(key))
    return Config.from_env({
        "GOOGLE_CLOUD_PROJECT": "demo-calsync", "CALSYNC_CALENDAR_URL": gcal.api_endpoint,
        "CALSYNC_CALENDAR_TOKEN_URI": gcal.token_uri,
        "CALSYNC_GOOGLE_SA_KEY_SECRET": f"file:{path}",
    })  # fmt: skip


@pytest.fixture
def drive(config):
    return lambda email=ALICE: GoogleDrive(config, email, backoff=Backoff(2, 0.001, 0.01))


@pytest.fixture
def sf(salesforce_org):
    adapter = SalesforceAdapter.from_client(salesforce_org.client())
    event_id = salesforce_org.client().Event.create(EVENT)["id"]
    return adapter, SalesforceFiles(adapter), event_id


def attach(f: dict[str, Any]) -> Attachment:
    return Attachment(f["id"], f["webViewLink"], f["name"], f["mimeType"])


def documents_on(salesforce_org, event_id: str) -> list[dict[str, Any]]:
    client = salesforce_org.client()
    links = client.query(format_soql(
        "SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = {}", event_id
    ))["records"]  # fmt: skip
    ids = [link["ContentDocumentId"] for link in links]
    if not ids:
        return []
    return list(client.query(format_soql(
        "SELECT Id, Title, FileType, ContentSize, LatestPublishedVersionId FROM ContentDocument "
        "WHERE Id IN {}", ids))["records"])  # fmt: skip


def versions_of(salesforce_org, document_id: str) -> list[dict[str, Any]]:
    return list(salesforce_org.client().query(format_soql(
        "SELECT Id, VersionNumber, ContentSize, PathOnClient FROM ContentVersion "
        "WHERE ContentDocumentId = {} ORDER BY VersionNumber", document_id))["records"])  # fmt: skip


def test_R20_a_file_and_a_doc_are_stored_with_the_event(gcal, drive, sf, salesforce_org):
    """R-20: a Drive file is stored as is; a Google Doc as its PDF; both linked to the Event."""
    _, files, event_id = sf
    pdf = gcal.drive_file(name="Angebot.pdf", mimeType="application/pdf", owner=ALICE,
                          content="%PDF-1.4 offer")  # fmt: skip
    doc = gcal.drive_file(name="Agenda", mimeType=DOC, owner=ALICE, content="1. pricing")
    outcome = store_attachments(drive(), files, [attach(pdf), attach(doc)], event_id, (), LIMIT)
    assert outcome.failures == () and sorted(outcome.stored) == sorted([pdf["id"], doc["id"]])
    stored = {d["Title"]: d for d in documents_on(salesforce_org, event_id)}
    assert set(stored) == {"Angebot", "Agenda"}
    assert stored["Agenda"]["FileType"] == "PDF"
    assert {f.file_id: f.content_document_id for f in outcome.files} == {
        pdf["id"]: stored["Angebot"]["Id"], doc["id"]: stored["Agenda"]["Id"],
    }  # fmt: skip
    assert all(f.sf_event_id == event_id and f.revision for f in outcome.files)


def test_R20_an_unchanged_file_is_not_stored_twice_and_a_new_revision_is_a_version(
    gcal, drive, sf, salesforce_org
):
    adapter, files, event_id = sf
    f = gcal.drive_file(name="Deck.pdf", mimeType="application/pdf", owner=ALICE, content="v1")
    first = store_attachments(drive(), files, [attach(f)], event_id, (), LIMIT)
    calls = adapter.calls
    again = store_attachments(drive(), files, [attach(f)], event_id, first.files, LIMIT)
    assert again.stored == () and again.files == first.files
    assert adapter.calls == calls  # nothing asked of Salesforce for an unchanged file
    gcal.change_drive_file(f["id"], content="version two")
    newer = store_attachments(drive(), files, [attach(f)], event_id, again.files, LIMIT)
    assert newer.stored == (f["id"],)
    [document] = documents_on(salesforce_org, event_id)
    assert [v["VersionNumber"] for v in versions_of(salesforce_org, document["Id"])] == ["1", "2"]
    assert newer.files[0].content_document_id == document["Id"]
    assert newer.files[0].revision != first.files[0].revision


def test_R20_a_crash_before_the_mapping_write_stores_nothing_twice(gcal, drive, sf, salesforce_org):
    """The upload succeeded, the mapping was lost: the retry finds the file on the Event."""
    _, files, event_id = sf
    f = gcal.drive_file(name="Deck.pdf", mimeType="application/pdf", owner=ALICE, content="v1")
    first = store_attachments(drive(), files, [attach(f)], event_id, (), LIMIT)
    retried = store_attachments(drive(), files, [attach(f)], event_id, (), LIMIT)  # no mapping
    assert retried.stored == () and retried.files == first.files
    assert len(documents_on(salesforce_org, event_id)) == 1


def test_R20_files_that_cannot_be_stored_get_their_codes_and_the_rest_goes_on(gcal, drive, sf):
    _, files, event_id = sf
    ok = gcal.drive_file(name="ok.txt", mimeType="text/plain", owner=ALICE, content="fine")
    big = gcal.drive_file(name="video.mp4", mimeType="video/mp4", owner=ALICE, size=LIMIT + 1)
    hidden = gcal.drive_file(name="bob's.pdf", mimeType="application/pdf", owner=BOB, content="x")
    form = gcal.drive_file(name="Survey", mimeType="application/vnd.google-apps.form", owner=ALICE)
    huge_doc = gcal.drive_file(name="Minutes", mimeType=DOC, owner=ALICE, size=11 * 1024 * 1024)
    link = Attachment("", "https://example.com/notes", "Notes")
    outcome = store_attachments(
        drive(), files, [attach(x) for x in (ok, big, hidden, form, huge_doc)] + [link],
        event_id, (), LIMIT,
    )  # fmt: skip
    assert outcome.stored == (ok["id"],)
    codes = {(f.name, f.code) for f in outcome.failures}
    assert codes == {("video.mp4", TOO_BIG), ("bob's.pdf", UNREADABLE), ("Survey", REFUSED_TYPE),
                     ("Minutes", TOO_BIG), ("Notes", REFUSED_TYPE)}  # fmt: skip
    assert not outcome.retry


def test_R20_a_file_above_the_json_limit_goes_as_multipart(gcal, drive, sf, salesforce_org):
    """Salesforce takes base64 JSON up to 52,428,800 bytes of request: a 40 MB file is sent as
    multipart (with attachment_max_bytes raised by the admin)."""
    _, files, event_id = sf
    small = gcal.drive_file(
        name="s.bin", mimeType="application/octet-stream", owner=ALICE, size=1000
    )
    large = gcal.drive_file(name="l.bin", mimeType="application/octet-stream", owner=ALICE,
                            size=40_000_000)  # fmt: skip
    assert fits_json(1000) and not fits_json(40_000_000)
    outcome = store_attachments(drive(), files, [attach(small), attach(large)], event_id, (),
                                50_000_000)  # fmt: skip
    assert outcome.failures == ()
    assert files.uploads == {"json": 1, "multipart": 1}
    sizes = sorted(d["ContentSize"] for d in documents_on(salesforce_org, event_id))
    assert sizes == [1000, 40_000_000]


def test_R20_a_replaced_event_gets_the_same_document_linked(gcal, drive, sf, salesforce_org):
    """A series replaced in Salesforce (R-17) has a new SF Event: the stored file is linked to
    it, not stored again."""
    _, files, event_id = sf
    f = gcal.drive_file(name="Deck.pdf", mimeType="application/pdf", owner=ALICE, content="v1")
    first = store_attachments(drive(), files, [attach(f)], event_id, (), LIMIT)
    new_event = salesforce_org.client().Event.create(EVENT)["id"]
    moved = store_attachments(drive(), files, [attach(f)], new_event, first.files, LIMIT)
    assert moved.stored == () and moved.files[0].sf_event_id == new_event
    assert [d["Id"] for d in documents_on(salesforce_org, new_event)] == [
        first.files[0].content_document_id
    ]


def test_R20_a_removed_attachment_stays_in_salesforce(gcal, drive, sf, salesforce_org):
    _, files, event_id = sf
    f = gcal.drive_file(name="Deck.pdf", mimeType="application/pdf", owner=ALICE, content="v1")
    first = store_attachments(drive(), files, [attach(f)], event_id, (), LIMIT)
    after = store_attachments(drive(), files, [], event_id, first.files, LIMIT)
    assert after.files == first.files and len(documents_on(salesforce_org, event_id)) == 1


def test_R20_drive_is_read_as_the_user_with_drive_readonly_only(gcal, drive, sf, config):
    """The Drive reader asks for drive.readonly and nothing else; without it in the Admin
    console's delegation entry, a file is unreadable with a message for the admin."""
    _, files, event_id = sf
    assert delegation_scopes(False) == CALENDAR_SCOPES
    assert delegation_scopes(True) == CALENDAR_SCOPES + DRIVE_SCOPES
    assert drive_url_for(config.calendar_url) == gcal.drive_endpoint
    f = gcal.drive_file(name="Deck.pdf", mimeType="application/pdf", owner=ALICE, content="v1")
    gcal.delegate_scopes(list(DRIVE_SCOPES))
    assert not isinstance(drive().metadata(f["id"]), Exception)
    gcal.delegate_scopes(list(CALENDAR_SCOPES))  # the admin did not add the Drive scope
    outcome = store_attachments(drive(), files, [attach(f)], event_id, (), LIMIT)
    [failure] = outcome.failures
    assert failure.code == UNREADABLE and DRIVE_SCOPES[0] in failure.detail


def test_R20_drive_reader_downloads_and_exports(gcal, drive):
    doc = gcal.drive_file(name="Plan", mimeType=DOC, owner=ALICE, content="the plan")
    reader = drive()
    meta = reader.metadata(doc["id"])
    assert meta.mime_type == DOC and meta.size is None and meta.revision
    content = reader.content(meta, Fetch.EXPORT, "Plan.pdf")
    assert content.mime_type == "application/pdf" and content.data.startswith(b"%PDF")
    assert content.name == "Plan.pdf" and content.revision == meta.revision


def test_R20_stored_on_reads_calsyncs_marker(gcal, drive, sf, salesforce_org):
    _, files, event_id = sf
    f = gcal.drive_file(name="Deck.pdf", mimeType="application/pdf", owner=ALICE, content="v1")
    outcome = store_attachments(drive(), files, [attach(f)], event_id, (), LIMIT)
    salesforce_org.client().ContentVersion.create({
        "PathOnClient": "someone-else.txt", "VersionData": "eA==",
        "FirstPublishLocationId": event_id,
    })  # fmt: skip
    assert files.stored_on(event_id) == {f["id"]: outcome.files[0]}
    assert isinstance(outcome.files[0], StoredFile)


def test_R20_a_lost_answer_after_the_upload_is_retried_without_a_second_copy(
    gcal, drive, sf, salesforce_org
):
    """Salesforce stored the file, the answer was lost (APPLY_THEN_503): the item's outcome is
    a retryable failure, and the next attempt finds the file instead of storing it again."""
    _, files, event_id = sf
    f = gcal.drive_file(name="Deck.pdf", mimeType="application/pdf", owner=ALICE, content="v1")
    salesforce_org.admin("POST", "faults", json={"kind": "APPLY_THEN_503", "count": 1,
                                                 "path_contains": "ContentVersion"})  # fmt: skip
    lost = store_attachments(drive(), files, [attach(f)], event_id, (), LIMIT)
    assert lost.retry and lost.files == () and [x.code for x in lost.failures] == ["CS-011"]
    again = store_attachments(drive(), files, [attach(f)], event_id, lost.files, LIMIT)
    assert again.failures == () and again.stored == () and len(again.files) == 1
    assert len(documents_on(salesforce_org, event_id)) == 1
