"""The Calendar emulator's Drive endpoints (R-20), through google-api-python-client's drive v3:
files.get (metadata, alt=media), files.export, access as the calling user sees it, scopes of
delegated tokens, and event attachments as Google stores them."""

from __future__ import annotations

import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

pytestmark = pytest.mark.integration

ALICE, BOB = "alice@example.com", "bob@example.com"
OUTSIDER = "olga@example.org"
DOC = "application/vnd.google-apps.document"
AUTH = "https://www.googleapis.com/auth/"


def reason(exc: HttpError) -> str:
    return str(exc.error_details[0]["reason"])


def deck(gcal, **extra):
    spec = {"name": "Deck.pdf", "mimeType": "application/pdf", "owner": ALICE,
            "content": "%PDF-1.4 deck"} | extra  # fmt: skip
    return gcal.drive_file(**spec)


def test_metadata_default_and_chosen_fields(gcal):
    f = deck(gcal)
    files = gcal.drive(ALICE).files()
    assert files.get(fileId=f["id"]).execute() == {
        "kind": "drive#file", "id": f["id"], "name": "Deck.pdf", "mimeType": "application/pdf",
    }  # fmt: skip
    chosen = files.get(
        fileId=f["id"],
        fields="id,size,md5Checksum,headRevisionId,modifiedTime,capabilities(canDownload)",
    ).execute()
    assert chosen["size"] == str(len("%PDF-1.4 deck"))
    assert chosen["capabilities"] == {"canDownload": True}
    assert set(chosen) == {"id", "size", "md5Checksum", "headRevisionId", "modifiedTime",
                           "capabilities"}  # fmt: skip
    with pytest.raises(HttpError) as bad:
        files.get(fileId=f["id"], fields="id,capabilities(canDownload").execute()
    assert bad.value.status_code == 400


def test_download_a_file_and_export_a_document_as_pdf(gcal):
    blob = deck(gcal)
    doc = gcal.drive_file(name="Plan", mimeType=DOC, owner=ALICE, content="Q3 plan (draft)")
    files = gcal.drive(ALICE).files()
    assert files.get_media(fileId=blob["id"]).execute() == b"%PDF-1.4 deck"
    pdf = files.export_media(fileId=doc["id"], mimeType="application/pdf").execute()
    assert (
        pdf.startswith(b"%PDF-1.4") and b"Q3 plan \\(draft\\)" in pdf and pdf.endswith(b"%%EOF\n")
    )
    assert (
        files.export_media(fileId=doc["id"], mimeType="text/plain").execute() == b"Q3 plan (draft)"
    )


@pytest.mark.parametrize(
    ("which", "call", "status", "why"),
    [
        pytest.param("doc", "media", 403, "fileNotDownloadable", id="a Docs file has no bytes: export it"),
        pytest.param("blob", "export", 403, "fileNotExportable", id="only Docs Editors files export"),
        pytest.param("doc", "export-zip-of-sheet", 400, "badRequest", id="a conversion Drive does not offer"),
    ],
)  # fmt: skip
def test_what_drive_refuses(gcal, which, call, status, why):
    ids = {"blob": deck(gcal)["id"],
           "doc": gcal.drive_file(name="Plan", mimeType=DOC, owner=ALICE, content="x")["id"]}  # fmt: skip
    files = gcal.drive(ALICE).files()
    request = {
        "media": lambda: files.get_media(fileId=ids[which]),
        "export": lambda: files.export_media(fileId=ids[which], mimeType="application/pdf"),
        "export-zip-of-sheet": lambda: files.export_media(fileId=ids[which], mimeType="text/csv"),
    }[call]()
    with pytest.raises(HttpError) as refused:
        request.execute()
    assert (refused.value.status_code, reason(refused.value)) == (status, why)


def test_exports_stop_at_ten_megabytes(gcal):
    big = gcal.drive_file(name="Huge", mimeType=DOC, owner=ALICE, size=10 * 1024 * 1024 + 1)
    with pytest.raises(HttpError) as refused:
        gcal.drive(ALICE).files().export_media(
            fileId=big["id"], mimeType="application/pdf"
        ).execute()
    assert refused.value.status_code == 403 and reason(refused.value) == "exportSizeLimitExceeded"


def test_a_file_is_read_as_the_user_sees_it(gcal):
    """Not shared: 404 notFound (Drive does not say the file exists); shared with the user, the
    domain or anyone: readable."""
    private = deck(gcal)
    by_user = deck(gcal, permissions=[{"type": "user", "role": "reader", "emailAddress": BOB}])
    by_domain = deck(
        gcal, permissions=[{"type": "domain", "role": "reader", "domain": "example.com"}]
    )
    public = deck(gcal, permissions=[{"type": "anyone", "role": "reader"}])
    bob = gcal.drive(BOB).files()
    with pytest.raises(HttpError) as hidden:
        bob.get(fileId=private["id"]).execute()
    assert hidden.value.status_code == 404 and reason(hidden.value) == "notFound"
    for f in (by_user, by_domain, public):
        assert bob.get_media(fileId=f["id"]).execute() == b"%PDF-1.4 deck"
    with pytest.raises(HttpError):
        gcal.drive(OUTSIDER).files().get(fileId=by_domain["id"]).execute()
    assert gcal.drive(OUTSIDER).files().get(fileId=public["id"]).execute()["id"] == public["id"]


def test_shared_drive_files_need_supports_all_drives(gcal):
    gcal.admin("POST", "drive/drives", {"id": "0AteamDrive", "name": "Sales",
                                        "members": {BOB: "reader"}})  # fmt: skip
    f = gcal.drive_file(name="Pricing.xlsx", mimeType="application/vnd.ms-excel",
                        drive_id="0AteamDrive", content="prices")  # fmt: skip
    bob = gcal.drive(BOB).files()
    with pytest.raises(HttpError) as missing:
        bob.get(fileId=f["id"]).execute()
    assert missing.value.status_code == 404
    assert bob.get(fileId=f["id"], supportsAllDrives=True).execute()["id"] == f["id"]
    assert bob.get_media(fileId=f["id"], supportsAllDrives=True).execute() == b"prices"
    with pytest.raises(HttpError):
        gcal.drive(ALICE).files().get(fileId=f["id"], supportsAllDrives=True).execute()


def test_owner_can_forbid_readers_to_download(gcal):
    f = deck(gcal, copyRequiresWriterPermission=True,
             permissions=[{"type": "user", "role": "reader", "emailAddress": BOB}])  # fmt: skip
    bob = gcal.drive(BOB).files()
    meta = bob.get(fileId=f["id"], fields="capabilities(canDownload)").execute()
    assert meta == {"capabilities": {"canDownload": False}}
    with pytest.raises(HttpError) as refused:
        bob.get_media(fileId=f["id"]).execute()
    assert refused.value.status_code == 403 and reason(refused.value) == "cannotDownloadFile"
    assert gcal.drive(ALICE).files().get_media(fileId=f["id"]).execute() == b"%PDF-1.4 deck"


def test_new_revisions_change_what_identifies_the_content(gcal):
    blob = deck(gcal)
    doc = gcal.drive_file(name="Plan", mimeType=DOC, owner=ALICE, content="v1")
    files = gcal.drive(ALICE).files()
    fields = "headRevisionId,md5Checksum,modifiedTime,version"
    before = files.get(fileId=blob["id"], fields=fields).execute()
    doc_before = files.get(fileId=doc["id"], fields=fields).execute()
    assert "headRevisionId" not in doc_before and "md5Checksum" not in doc_before
    gcal.change_drive_file(blob["id"], content="%PDF-1.4 deck v2")
    gcal.change_drive_file(doc["id"], content="v2")
    after = files.get(fileId=blob["id"], fields=fields).execute()
    doc_after = files.get(fileId=doc["id"], fields=fields).execute()
    assert after["headRevisionId"] != before["headRevisionId"]
    assert after["md5Checksum"] != before["md5Checksum"]
    assert doc_after["modifiedTime"] > doc_before["modifiedTime"]
    gcal.change_drive_file(doc["id"], permissions=[{"type": "anyone", "role": "reader"}])
    shared = files.get(fileId=doc["id"], fields=fields).execute()
    assert shared["modifiedTime"] == doc_after["modifiedTime"]  # sharing is not a new revision
    assert int(shared["version"]) > int(doc_after["version"])


def test_delegated_tokens_need_a_content_scope(gcal):
    """R-20: downloading needs drive.readonly (or drive); metadata scopes cannot download,
    calendar scopes cannot even look, drive.file reaches no file the app did not make."""
    f = deck(gcal)

    def files(*scopes: str):
        creds = gcal.delegated_credentials(ALICE, scopes=tuple(AUTH + s for s in scopes))
        return gcal.drive(credentials=creds).files()

    assert files("drive.readonly").get_media(fileId=f["id"]).execute() == b"%PDF-1.4 deck"
    assert files("drive.metadata.readonly").get(fileId=f["id"]).execute()["id"] == f["id"]
    with pytest.raises(HttpError) as no_content:
        files("drive.metadata.readonly").get_media(fileId=f["id"]).execute()
    assert reason(no_content.value) == "insufficientPermissions"
    with pytest.raises(HttpError) as calendar_only:
        files("calendar.events").get(fileId=f["id"]).execute()
    assert calendar_only.value.status_code == 403
    with pytest.raises(HttpError) as app_files:
        files("drive.file").get(fileId=f["id"]).execute()
    assert app_files.value.status_code == 404


def test_delegation_grants_only_the_scopes_the_admin_listed(gcal):
    gcal.delegate_scopes([AUTH + "calendar.events"])
    creds = gcal.delegated_credentials(ALICE, scopes=(AUTH + "drive.readonly",))
    with pytest.raises(RefreshError, match="unauthorized_client"):
        gcal.drive(credentials=creds).files().get(fileId="any").execute()
    calendar = gcal.delegated_credentials(ALICE, scopes=(AUTH + "calendar.events",))
    assert gcal.service(credentials=calendar).events().list(calendarId="primary").execute()


def test_event_attachments_as_google_stores_them(gcal):
    """The fileId comes from the Drive link (a client's own is ignored), title and mimeType
    from the Drive file; a link to elsewhere stays as given, without fileId."""
    f = deck(gcal)
    body = {
        "summary": "Review",
        "start": {"dateTime": "2030-01-07T10:00:00Z"},
        "end": {"dateTime": "2030-01-07T11:00:00Z"},
        "attachments": [
            {"fileUrl": f"https://drive.google.com/file/d/{f['id']}/view?usp=drivesdk",
             "fileId": "forged"},
            {"fileUrl": "https://example.com/notes.html", "title": "Notes"},
        ],
    }  # fmt: skip
    event = (
        gcal.service(ALICE).events()
        .insert(calendarId="primary", body=body, supportsAttachments=True).execute()
    )  # fmt: skip
    drive, other = event["attachments"]
    assert drive["fileId"] == f["id"] and drive["title"] == "Deck.pdf"
    assert drive["mimeType"] == "application/pdf" and drive["iconLink"].endswith("application/pdf")
    assert other == {"fileUrl": "https://example.com/notes.html", "title": "Notes"}
