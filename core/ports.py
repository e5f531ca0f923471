"""Ports: the small interfaces that the core and the sessions use, implemented in infra/ and tests/fakes.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.attachments import DriveFile, Fetch, FileContent, FileFailure
from core.backfill import BatchResult, Checkpoint
from core.fields import GooglePatch, NewPerson
from core.issues import Issue
from core.labels import LabelPatch
from core.model import Item, ItemKey, Mapping, ResolvedPerson, SfEventState, StoredFile
from core.plan import SfCreate, SfDelete, SfUpdate
from core.users import SyncState, User


class SettingsStore(Protocol):
    """The org settings document and the users' documents (Firestore in production)."""

    def org_settings(self) -> dict[str, Any]:
        """The org settings document as stored (raw, validated by core.settings.resolve)."""
        ...

    def set_org_settings(self, values: MappingABC[str, Any]) -> None:
        """Merge these values into the org settings document."""
        ...

    def get_user(self, email: str) -> User | None: ...

    def get_users(self, emails: Iterable[str]) -> list[User]:
        """The users among these addresses (one batched read, whatever the org's size)."""
        ...

    def user_for_channel(self, channel_id: str) -> User | None:
        """The user whose stored watch channel has this id (R-34)."""
        ...

    def list_users(self) -> list[User]:
        """Every user document, enabled or not, ordered by email."""
        ...

    def enable_user(self, email: str, sf_user_id: str = "") -> User:
        """Create or re-enable a user (idempotent); an empty sf_user_id keeps the stored one."""
        ...

    def disable_user(self, email: str) -> None: ...

    def set_user_settings(self, email: str, values: MappingABC[str, Any]) -> None:
        """Merge overrides into an existing user's settings; KeyError if the user is unknown."""
        ...

    def save_sync_state(self, email: str, state: SyncState) -> None: ...

    def set_state_fields(self, email: str, values: MappingABC[str, Any]) -> None:
        """Write only these fields of the user's SyncState (by field name), leaving the others as
        they are: concurrent writers (session, sweep, CLI) never clobber each other's fields."""
        ...


class SessionQueue(Protocol):
    """Queues a user's sync session (Cloud Tasks in production)."""

    def enqueue(self, email: str, now: datetime, reason: str = "push") -> bool:
        """True when a task was created, False when an already queued one covers it."""
        ...


class Lease(Protocol):
    """Mutual exclusion of one user's sessions (R-29)."""

    def acquire(self, email: str, holder: str, now: datetime, ttl: timedelta) -> bool: ...

    def release(self, email: str, holder: str) -> None: ...


class MappingStore(Protocol):
    """Item ↔ SF Event mappings (Firestore in production)."""

    def for_user(self, email: str) -> list[Mapping]: ...

    def for_ical_uids(self, uids: Iterable[str]) -> list[Mapping]:
        """Every user's mappings of these iCalUIDs (R-11: the organiser's)."""
        ...

    def put(self, mappings: Sequence[Mapping]) -> None: ...

    def delete(self, user_email: str, keys: Sequence[ItemKey]) -> None: ...


class IssueStore(Protocol):
    """Open and closed issues (R-31)."""

    def open_for_user(self, email: str) -> list[Issue]: ...

    def record(self, opened: Sequence[Issue], closed: Sequence[Issue], now: datetime) -> None: ...


# --- The two services --------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one write inside a batch: `ref` names what was written (a sync key, an
    event id), `id` is the record id on success. Failures carry the service's error code and
    whether a retry can help (rate limits, 5xx, record locks) or not (validation)."""

    ref: str
    ok: bool
    id: str = ""
    error_code: str = ""
    message: str = ""
    retryable: bool = False


@dataclass(frozen=True)
class CalendarChanges:
    """One calendar's changes since a sync token; `full` when there was no valid token (first
    session, or 410 fullSyncRequired) and `items` is everything in the window."""

    items: tuple[Item, ...]
    next_sync_token: str
    full: bool


@dataclass(frozen=True)
class Channel:
    """A Google push channel (R-27)."""

    id: str
    token: str
    resource_id: str
    expiration_ms: int


class Calendar(Protocol):
    """One user's Google Calendar, acting as that user (domain-wide delegation)."""

    def changes(
        self, calendar_id: str, sync_token: str, time_min: datetime, time_max: datetime
    ) -> CalendarChanges:
        """Incremental changes since `sync_token`, or a full sync of [time_min, time_max)."""
        ...

    def get_items(self, calendar_id: str, event_ids: Sequence[str]) -> list[Item]:
        """These events (cancelled ones included); missing ones are left out."""
        ...

    def instances(
        self, calendar_id: str, series_id: str, time_min: datetime, time_max: datetime
    ) -> list[Item]: ...

    def apply_labels(self, patches: Sequence[LabelPatch]) -> list[WriteResult]:
        """Patch each copy's colour and private properties (batched, sendUpdates=none)."""
        ...

    def apply_patches(self, patches: Sequence[GooglePatch]) -> list[WriteResult]: ...

    def delete_events(self, targets: Sequence[tuple[str, str]]) -> list[WriteResult]:
        """Delete (calendar_id, event_id) pairs; an already deleted event counts as success."""
        ...

    def watch(self, calendar_id: str, address: str, channel_id: str, token: str) -> Channel: ...

    def stop(self, channel: Channel) -> None: ...


class Salesforce(Protocol):
    """The org's Salesforce, as calsync's integration user."""

    def search_people(self, emails: Iterable[str]) -> dict[str, ResolvedPerson]:
        """The initial search: Users, Contacts and Leads of these addresses (lower-case keys)."""
        ...

    def user_ids(self, emails: Iterable[str]) -> dict[str, str]:
        """Active SF User ids of these addresses (lower-case keys)."""
        ...

    def accounts_by_domain(self, domains: Iterable[str]) -> dict[str, str]: ...

    def create_people(self, people: Sequence[NewPerson]) -> list[WriteResult]:
        """R-07: create Contacts/Leads; `ref` is the email."""
        ...

    def create_events(self, creates: Sequence[SfCreate]) -> list[WriteResult]:
        """Create (or, with Calsync_Key__c, upsert) Events; `ref` is the sync key."""
        ...

    def update_events(self, updates: Sequence[SfUpdate]) -> list[WriteResult]: ...

    def delete_events(self, deletes: Sequence[SfDelete]) -> list[WriteResult]:
        """An already deleted Event counts as success."""
        ...

    def has_key_field(self) -> bool:
        """Whether the org has Calsync_Key__c (R-39): then create_events upserts on the sync
        key, and a retried create finds what an earlier attempt made by itself."""
        ...

    def find_events(self, creates: Sequence[SfCreate]) -> dict[str, str]:
        """R-39: Events that these creates may already have made (a crash between the Salesforce
        write and the mapping write): sync key → SF Event id. By Calsync_Key__c where the org
        has the field, else by owner, start and subject."""
        ...

    def changed_events(
        self, owner_ids: Sequence[str], since: datetime, until: datetime
    ) -> tuple[list[SfEventState], datetime]:
        """Events of these owners changed or deleted in [since, until); the next watermark."""
        ...


# --- attachments ---------------------------------------------------------------------


class Drive(Protocol):
    """One user's Google Drive, read-only, as that user (domain-wide delegation): asked for
    only when `save_attachments` is on. Failures come back as FileFailure with an issue code."""

    def metadata(self, file_id: str) -> DriveFile | FileFailure: ...

    def content(self, meta: DriveFile, fetch: Fetch, file_name: str) -> FileContent | FileFailure:
        """The file's bytes: downloaded, or exported as PDF (Docs Editors files)."""
        ...


class SalesforceFiles(Protocol):
    """Salesforce Files (ContentVersion, ContentDocument, ContentDocumentLink)."""

    def stored_on(self, sf_event_id: str) -> dict[str, StoredFile]:
        """Files calsync already stored on this Event, by Drive file id: what a crash between
        the upload and the mapping write left behind. Raises core.errors' typed errors."""
        ...

    def upload(self, content: FileContent, sf_event_id: str, document_id: str = "") -> WriteResult:
        """Store the file linked to the Event, or as a new version of `document_id`; `ref` is
        the Drive file id, `id` the ContentDocument id."""
        ...

    def link(self, document_id: str, sf_event_id: str) -> WriteResult:
        """Link a stored document to another Event (an existing link counts as success)."""
        ...


# --- backfill ------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemPage:
    """One page of a calendar listing over a time range; `next_page_token` "" on the last."""

    items: tuple[Item, ...]
    next_page_token: str


class CalendarPages(Protocol):
    """A calendar read in pages over a time range, without sync tokens (R-38)."""

    def page(
        self, calendar_id: str, time_min: datetime, time_max: datetime, page_token: str,
        page_size: int,
    ) -> ItemPage: ...  # fmt: skip

    def count(self, calendar_id: str, time_min: datetime, time_max: datetime) -> int:
        """How many items the pages will hold (for the progress line's time left)."""
        ...


class BatchRunner(Protocol):
    """Applies the autosave rules (R-05..R-09, without the sliding window) to one batch of a
    user's items, as a session does with its items: saves what the rules save, skips the rest,
    records failures as issues. Idempotent: a batch run twice saves nothing twice. May raise
    core.errors.RetryableError (the user's session lease is busy, rate limits, 5xx)."""

    def run(self, email: str, items: Sequence[Item], dry_run: bool) -> BatchResult: ...


class BackfillStore(Protocol):
    """The backfills' checkpoints (Firestore in production), one per user, and a hold that
    keeps two runs of one user's backfill from working at the same time."""

    def get(self, email: str) -> Checkpoint | None: ...

    def list(self) -> list[Checkpoint]: ...

    def save(self, checkpoint: Checkpoint) -> None: ...

    def claim(self, email: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take (or renew) the hold; False while another holder's hold has not expired."""
        ...

    def release(self, email: str, holder: str) -> None: ...

    def held_until(self, email: str) -> datetime | None: ...


class BackfillQueue(Protocol):
    """Queues the next bounded slice of a user's backfill (Cloud Tasks in production)."""

    def enqueue_slice(self, email: str, chain: str, slice_no: int, at: datetime) -> bool: ...


@dataclass(frozen=True)
class BudgetCheck:
    """Whether bulk work may go on (R-38): `ok` False stops it with `message`; `pause_seconds`
    slows it down."""

    ok: bool
    message: str = ""
    pause_seconds: float = 0.0


class ApiBudget(Protocol):
    """The share of the org's daily Salesforce API calls a backfill may use."""

    def check(self) -> BudgetCheck: ...
