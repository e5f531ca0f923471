"""R-20: store the files attached to a saved item with its SF Event, one call per item.

`store_attachments` is what the session calls once the item's SF Event exists (its create or
update succeeded): it reads each attachment's metadata from Drive as the user, decides with
core.attachments, downloads or exports what must be stored, and stores it as a ContentVersion
linked to the Event (or as the next version of the document stored before). It never raises
for one file: each failure comes back with its issue code, the other files go on. Files no
longer attached stay in Salesforce and in the returned list (a removed attachment is not
deleted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from core import attachments as rules
from core.errors import CalsyncError
from core.model import Attachment, StoredFile
from core.ports import Drive, SalesforceFiles

log = logging.getLogger(__name__)

SF_REFUSED = "CS-010"
UNAVAILABLE = "CS-011"


@dataclass(frozen=True)
class AttachmentsOutcome:
    """What became of an item's attachments: `files` is the mapping's new list (every file
    stored so far, by Drive id); `stored` the files stored or versioned now."""

    files: tuple[StoredFile, ...]
    stored: tuple[str, ...] = ()
    failures: tuple[rules.FileFailure, ...] = ()

    @property
    def retry(self) -> bool:
        """A failure a later session can fix by itself (Drive or Salesforce unavailable)."""
        return any(f.retryable for f in self.failures)


def store_attachments(
    drive: Drive,
    files: SalesforceFiles,
    attachments: Sequence[Attachment],
    sf_event_id: str,
    known: Sequence[StoredFile],
    max_bytes: int,
) -> AttachmentsOutcome:
    """R-20 for one saved item: see the module docstring."""
    run = _Run(drive, files, sf_event_id, {f.file_id: f for f in known}, max_bytes)
    seen: set[str] = set()
    for attachment in attachments:
        if attachment.file_id in seen:
            continue
        seen.add(attachment.file_id)
        run.one(attachment)
    return AttachmentsOutcome(tuple(run.by_id.values()), tuple(run.stored), tuple(run.failures))


@dataclass
class _Run:
    drive: Drive
    files: SalesforceFiles
    sf_event_id: str
    by_id: dict[str, StoredFile]
    max_bytes: int

    def __post_init__(self) -> None:
        self.stored: list[str] = []
        self.failures: list[rules.FileFailure] = []
        self._found: dict[str, StoredFile] | None = None  # what an earlier attempt stored
        self._unread = False

    def one(self, attachment: Attachment) -> None:
        refused = rules.refused(attachment)
        if refused is not None:
            self.failures.append(refused)
            return
        meta = self.drive.metadata(attachment.file_id)
        if isinstance(meta, rules.FileFailure):
            self.failures.append(replace(meta, name=meta.name or attachment.title))
            return
        step = rules.step(meta, self.by_id.get(meta.id), self.max_bytes)
        if step.failure is not None:
            self.failures.append(step.failure)
        elif step.unchanged and step.stored is not None:
            self._keep_linked(step.stored)
        elif step.fetch is not None:
            self._store(meta, step)

    def _keep_linked(self, stored: StoredFile) -> None:
        """An unchanged file whose document is linked to another Event (a replaced series,
        R-17) is linked to this one; it is not stored again."""
        if stored.sf_event_id == self.sf_event_id:
            return
        result = self.files.link(stored.content_document_id, self.sf_event_id)
        if result.ok:
            self.by_id[stored.file_id] = replace(stored, sf_event_id=self.sf_event_id)
        else:
            self._salesforce_failed(stored.file_id, "", result.error_code, result.message,
                                    result.retryable)  # fmt: skip

    def _store(self, meta: rules.DriveFile, step: rules.Step) -> None:
        found = self._earlier()
        if found is None:  # storing now might store a second copy: a later session does it
            detail = "Salesforce is unavailable; it is stored on a later session"
            self.failures.append(rules.FileFailure(meta.id, meta.name, UNAVAILABLE, detail, True))
            return
        earlier = found.get(meta.id)
        if earlier is not None and earlier.revision == meta.revision:
            self.by_id[meta.id] = earlier  # stored by an attempt that crashed before the mapping
            return
        base = step.stored or earlier
        assert step.fetch is not None
        content = self.drive.content(meta, step.fetch, step.file_name)
        if isinstance(content, rules.FileFailure):
            self.failures.append(content)
            return
        too_big = rules.check_size(content, self.max_bytes)
        if too_big is not None:
            self.failures.append(too_big)
            return
        document = base.content_document_id if base is not None else ""
        result = self.files.upload(content, self.sf_event_id, document)
        if not result.ok:
            self._salesforce_failed(meta.id, step.file_name, result.error_code, result.message,
                                    result.retryable)  # fmt: skip
            return
        stored = StoredFile(meta.id, result.id, meta.revision, self.sf_event_id)
        if base is not None and base.sf_event_id != self.sf_event_id and result.id == document:
            linked = self.files.link(result.id, self.sf_event_id)  # a new version, a new Event
            if not linked.ok:
                stored = replace(stored, sf_event_id=base.sf_event_id)
        self.by_id[meta.id] = stored
        self.stored.append(meta.id)

    def _earlier(self) -> dict[str, StoredFile] | None:
        """Files on this Event that carry calsync's marker (read once per item, and only when
        something is to be stored); None when Salesforce could not say."""
        if self._found is None and not self._unread:
            try:
                self._found = self.files.stored_on(self.sf_event_id)
            except CalsyncError as exc:
                log.warning("stored files unread", extra={"code": exc.code})
                self._unread = True
        return self._found

    def _salesforce_failed(
        self, file_id: str, name: str, code: str, message: str, retryable: bool
    ) -> None:
        issue = UNAVAILABLE if retryable else SF_REFUSED
        detail = f"Salesforce refused it: {code}" + (f" ({message[:200]})" if message else "")
        if retryable:
            detail = "Salesforce is unavailable; it is stored on a later session"
        self.failures.append(rules.FileFailure(file_id, name, issue, detail, retryable))
