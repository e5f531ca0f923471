"""core/attachments.py: what R-20 does with each attached file, decided from Drive's metadata."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.attachments import (
    EXPORT_LIMIT,
    PDF,
    REFUSED_TYPE,
    TOO_BIG,
    UNREADABLE,
    DriveFile,
    Fetch,
    FileContent,
    FileFailure,
    check_size,
    issues_for,
    pdf_name,
    refused,
    step,
)
from core.issues import Severity, issue_type
from core.model import Attachment, StoredFile

LIMIT = 10_000_000
DOC = "application/vnd.google-apps.document"


def blob(**kw) -> DriveFile:
    return DriveFile(**({"id": "F1", "name": "Angebot.pdf", "mime_type": PDF, "size": 1000,
                         "revision": "md5-a"} | kw))  # fmt: skip


@pytest.mark.parametrize(
    ("meta", "stored", "expect"),
    [
        pytest.param(blob(), None, (Fetch.DOWNLOAD, "Angebot.pdf", None), id="R-20 a Drive file is downloaded"),
        pytest.param(blob(mime_type=DOC, name="Plan", size=None), None, (Fetch.EXPORT, "Plan.pdf", None),
                     id="R-20 a Docs file is exported as PDF"),
        pytest.param(blob(mime_type="application/vnd.google-apps.spreadsheet", name="Zahlen.pdf", size=None),
                     None, (Fetch.EXPORT, "Zahlen.pdf", None), id="R-20 a Sheet keeps a .pdf name"),
        pytest.param(blob(mime_type="application/vnd.google-apps.presentation", name="Deck", size=None),
                     None, (Fetch.EXPORT, "Deck.pdf", None), id="R-20 Slides are exported too"),
        pytest.param(blob(size=LIMIT), None, (Fetch.DOWNLOAD, "Angebot.pdf", None), id="R-20 at the limit is stored"),
        pytest.param(blob(size=LIMIT + 1), None, TOO_BIG, id="R-20 over attachment_max_bytes"),
        pytest.param(blob(mime_type="application/vnd.google-apps.form"), None, REFUSED_TYPE,
                     id="R-20 a Form has no file form"),
        pytest.param(blob(mime_type="application/vnd.google-apps.folder"), None, REFUSED_TYPE,
                     id="R-20 a folder is refused"),
        pytest.param(blob(can_download=False), None, UNREADABLE, id="R-20 downloads disabled by the owner"),
        pytest.param(blob(), StoredFile("F1", "069A", "md5-a", "00UA"), "unchanged",
                     id="R-20 the same revision is not stored twice"),
        pytest.param(blob(revision="md5-b"), StoredFile("F1", "069A", "md5-a", "00UA"),
                     (Fetch.DOWNLOAD, "Angebot.pdf", "069A"), id="R-20 a new revision is a new version"),
        pytest.param(blob(size=LIMIT + 1, revision="md5-b"), StoredFile("F1", "069A", "md5-a", "00UA"), TOO_BIG,
                     id="R-20 a new revision over the limit is refused, the old one stays"),
    ],
)  # fmt: skip
def test_step(meta, stored, expect):
    got = step(meta, stored, LIMIT)
    if expect == "unchanged":
        assert got.unchanged and got.stored == stored and got.fetch is None
    elif isinstance(expect, str):
        assert got.failure is not None and got.failure.code == expect and got.fetch is None
    else:
        fetch, name, document = expect
        assert (got.fetch, got.file_name, got.failure) == (fetch, name, None)
        assert (got.stored.content_document_id if got.stored else None) == document


def test_an_attachment_that_is_not_a_drive_file_is_refused():
    """R-20: a link to elsewhere (no fileId) cannot be read."""
    failure = refused(Attachment("", "https://example.com/notes", "Notes"))
    assert failure is not None and failure.code == REFUSED_TYPE and failure.name == "Notes"
    assert refused(Attachment("F1", "https://drive.google.com/file/d/F1")) is None


def test_an_export_over_the_limit_is_found_once_made():
    content = FileContent("F2", "Plan.pdf", PDF, b"x" * 101, "t1")
    assert check_size(content, 100).code == TOO_BIG
    assert check_size(content, 101) is None
    assert EXPORT_LIMIT == 10 * 1024 * 1024


def test_pdf_name():
    assert pdf_name("Plan") == "Plan.pdf" and pdf_name("scan.PDF") == "scan.PDF"
    assert pdf_name("") == "document.pdf"


def test_one_issue_per_code_names_every_file():
    """R-20, R-31: the item gets one issue per code; each names its files and says why."""
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    failures = (
        FileFailure("F1", "Video.mp4", TOO_BIG, "52.0 MB is over the limit of 10.0 MB"),
        FileFailure("F2", "Scan.pdf", TOO_BIG, "11.0 MB is over the limit of 10.0 MB"),
        FileFailure("F3", "Secret.pdf", UNREADABLE, "the user cannot see it"),
    )
    issues = issues_for(failures, "ann@corp.example", "uid@x", "Kick-off", start)
    by_code = {i.code: i for i in issues}
    assert set(by_code) == {TOO_BIG, UNREADABLE}
    assert "2 attachment(s)" in by_code[TOO_BIG].message
    assert "Video.mp4" in by_code[TOO_BIG].message and "Scan.pdf" in by_code[TOO_BIG].message
    assert by_code[UNREADABLE].key == "uid@x" and by_code[UNREADABLE].start == start


def test_attachment_codes_do_not_fail_the_item():
    """R-20: a file that cannot be stored leaves the item saved: a warning, not the error label."""
    for code in (TOO_BIG, UNREADABLE, REFUSED_TYPE):
        entry = issue_type(code)
        assert entry.severity is Severity.WARNING and entry.rule == "R-20" and entry.action
