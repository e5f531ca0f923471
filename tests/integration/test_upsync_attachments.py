"""R-20 through the session on the emulators: with `save_attachments` on, a saved item's Drive
files are stored with its SF Event once, a file that cannot be stored fails alone with its own
issue, and with the setting off nothing of Drive is ever asked for."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.format import format_soql

from core.errors import ServerError
from tests.fixtures.upsync import ALICE, JANE

pytestmark = pytest.mark.integration


def attachment(f: dict[str, Any]) -> dict[str, Any]:
    return {"fileUrl": f["webViewLink"], "fileId": f["id"], "title": f["name"],
            "mimeType": f["mimeType"]}  # fmt: skip


def saved_with(org, *files: dict[str, Any], title: str = "Offer review") -> dict[str, Any]:
    return org.calendar(ALICE).insert(
        calendarId="primary", supportsAttachments=True,
        body={**_times(org), "summary": title, "colorId": "9",
              "attendees": [{"email": ALICE}, {"email": JANE}],
              "attachments": [attachment(f) for f in files]},
    ).execute()  # fmt: skip


def _times(org):
    from datetime import timedelta

    start = org.now.replace(minute=0, second=0) + timedelta(days=2)
    return {"start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()}}  # fmt: skip


def documents(org, event_id: str) -> list[str]:
    client = org.sf_org.client()
    links = client.query(format_soql("SELECT ContentDocumentId FROM ContentDocumentLink "
                                     "WHERE LinkedEntityId = {}", event_id))["records"]  # fmt: skip
    return sorted(link["ContentDocumentId"] for link in links)


def test_R20_a_saved_items_files_are_stored_once_with_its_event(org):
    org.store.set_org_settings({"save_attachments": True})
    org.enable(ALICE)
    pdf = org.gcal.drive_file(name="Angebot.pdf", mimeType="application/pdf", owner=ALICE,
                              content="%PDF-1.4 offer")  # fmt: skip
    saved_with(org, pdf)
    org.sync(ALICE)
    [event] = org.events()
    [document] = documents(org, event["Id"])
    [mapping] = org.services.mappings.for_user(ALICE)
    assert [(f.file_id, f.content_document_id) for f in mapping.files] == [(pdf["id"], document)]
    org.patch(ALICE, org.services.mappings.for_user(ALICE)[0].event_id, location="Room 9")
    org.sync(ALICE)  # the item changes again: the unchanged file is not stored twice
    assert documents(org, event["Id"]) == [document]


def test_R20_a_file_too_big_fails_alone_with_cs021_and_the_event_is_saved(org):
    org.store.set_org_settings({"save_attachments": True, "attachment_max_bytes": 1000})
    org.enable(ALICE)
    small = org.gcal.drive_file(name="Small.pdf", mimeType="application/pdf", owner=ALICE,
                                content="%PDF small")  # fmt: skip
    big = org.gcal.drive_file(name="Big.pdf", mimeType="application/pdf", owner=ALICE,
                              content="x" * 5000)  # fmt: skip
    event = saved_with(org, small, big)
    org.sync(ALICE)
    [sf_event] = org.events()
    assert len(documents(org, sf_event["Id"])) == 1
    assert [i.code for i in org.services.issues.open_for_user(ALICE)] == ["CS-021"]
    assert org.private_props(ALICE, event["id"])["calsync_status"].startswith("Tracked")


def test_R20_off_means_no_drive_call_and_no_file(org):
    org.enable(ALICE)
    pdf = org.gcal.drive_file(name="Angebot.pdf", mimeType="application/pdf", owner=ALICE,
                              content="%PDF-1.4 offer")  # fmt: skip
    saved_with(org, pdf)
    before = org.gcal.counters()
    org.sync(ALICE)
    [event] = org.events()
    assert documents(org, event["Id"]) == []
    after = org.gcal.counters()
    assert not any(name.startswith("drive.") and after[name] != before.get(name, 0)
                   for name in after)  # fmt: skip


def test_R20_a_file_the_user_cannot_read_gets_cs022_once_and_the_event_is_saved(org):
    """A Drive file that is not there for the user (404) is CS-022; the item is saved all the
    same, and the file is judged in the mapping: a session that does not write the item again does
    not ask Drive again (an edit of the item does: the file may have been shared since)."""
    org.store.set_org_settings({"save_attachments": True})
    org.enable(ALICE)
    gone = {"id": "abc123", "webViewLink": "https://drive.google.com/file/d/abc123",
            "name": "Deck", "mimeType": "application/pdf"}  # fmt: skip
    event = saved_with(org, gone)
    assert "store attachment" in org.sync(ALICE, dry_run=True).summary()  # the plan wants it
    org.sync(ALICE)
    [sf_event] = org.events()
    assert documents(org, sf_event["Id"]) == []
    assert [i.code for i in org.services.issues.open_for_user(ALICE)] == ["CS-022"]
    [mapping] = org.services.mappings.for_user(ALICE)
    assert mapping.attachments == ("abc123",) and mapping.files == ()
    assert org.private_props(ALICE, event["id"])["calsync_status"].startswith("Tracked")
    assert "store attachment" not in org.sync(ALICE, sweep=True, dry_run=True).summary()
    org.patch(ALICE, event["id"], location="Room 9")
    assert "store attachment" in org.sync(ALICE, dry_run=True).summary()


def test_R20_drive_unreachable_leaves_the_files_pending_and_saves_the_items(org):
    """A failure below the files' own handling (the user's Drive client cannot be made) fails
    the files alone, as a retry later (CS-011), and every item is saved and mapped all the same;
    the next session stores the files."""
    org.store.set_org_settings({"save_attachments": True})
    org.enable(ALICE)
    pdf = org.gcal.drive_file(name="Angebot.pdf", mimeType="application/pdf", owner=ALICE,
                              content="%PDF-1.4 offer")  # fmt: skip
    saved_with(org, pdf, title="First")
    saved_with(org, pdf, title="Second")
    working = org.services.drive_for

    def broken(email: str):
        raise ServerError("Drive is unavailable", status=503)

    org.services.drive_for = broken
    org.sync(ALICE)
    events = org.events()
    assert sorted(e["Subject"] for e in events) == ["First", "Second"]
    assert all(documents(org, e["Id"]) == [] for e in events)
    assert {i.code for i in org.services.issues.open_for_user(ALICE)} == {"CS-011"}
    assert all(m.attachments == () for m in org.services.mappings.for_user(ALICE))
    org.services.drive_for = working
    org.sync(ALICE, sweep=True)  # nothing changed in Google: the pending files go by themselves
    assert all(len(documents(org, e["Id"])) == 1 for e in org.events())
    assert org.services.issues.open_for_user(ALICE) == []
