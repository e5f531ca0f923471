"""Ports: the small interfaces that the sessions use, implemented in infra/ and tests/fakes.py.
They depend on the model and the actions only, never on the planner."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from core.actions import SfCreate, SfDelete, SfUpdate, WriteResult
from core.attachments import DriveFile, Fetch, FileContent, FileFailure
from core.backfill import BatchResult, Checkpoint
from core.downsync import NewGoogleEvent
from core.fields import GooglePatch, NewPerson
from core.issues import Issue
from core.labels import LabelPatch
from core.model import (
    Item,
    ItemKey,
    Mapping,
    MappingQuery,
    ResolvedPerson,
    SfEventState,
    StoredFile,
)
from core.users import User


@dataclass(frozen=True)
class Fence:
    """The lease a session holds (R-29): its writes are refused (LeaseLost) once another
    session has taken the lease, so a session that overran its time writes nothing more."""

    email: str
    holder: str
    generation: int


@dataclass(frozen=True)
class UserProblem:
    """A user document that cannot be read (audit M6): skipped, and reported to the admin."""

    doc_id: str
    reason: str


class SettingsStore(Protocol):
    """The org settings document and the users' documents (Firestore in production)."""

    def org_settings(self) -> dict[str, Any]:
        """The org settings document as stored (raw, validated by core.settings.resolve)."""
        ...

    def last_valid_org_settings(self) -> dict[str, Any]:
        """The org settings as they were when they last validated cleanly (SPEC §7)."""
        ...

    def remember_valid_settings(self, email: str, values: MappingABC[str, Any]) -> None:
        """Keep `values` as the last valid settings of the org (`email` "") or of a user."""
        ...

    def set_org_settings(self, values: MappingABC[str, Any]) -> None:
        """Merge these values into the org settings document."""
        ...

    def org_status(self) -> dict[str, Any]:
        """Facts calsync learnt about the org (whether Salesforce has Calsync_Key__c...)."""
        ...

    def set_org_status(self, values: MappingABC[str, Any]) -> None: ...

    def get_user(self, email: str) -> User | None:
        """The user, or None when there is none or the document cannot be read (audit M6)."""
        ...

    def get_users(self, emails: Iterable[str]) -> list[User]:
        """The readable users among these addresses (one batched read)."""
        ...

    def user_for_channel(self, channel_id: str) -> User | None:
        """The user whose stored watch channel has this id (R-34)."""
        ...

    def users_with_sf_ids(self, sf_user_ids: Iterable[str]) -> list[User]:
        """The readable users whose Salesforce User id is one of these (an SF change's owner)."""
        ...

    def list_users(self, problems: list[UserProblem] | None = None) -> list[User]:
        """Every readable user document, enabled or not, ordered by email; unreadable ones are
        left out and, when `problems` is given, listed there."""
        ...

    def enable_user(self, email: str, sf_user_id: str = "") -> User:
        """Create or re-enable a user (idempotent); an empty sf_user_id keeps the stored one."""
        ...

    def disable_user(self, email: str) -> None: ...

    def set_sf_user_id(self, email: str, sf_user_id: str) -> None:
        """Store the matched Salesforce User id, leaving `enabled` as it is (audit L5)."""
        ...

    def remove_user(self, email: str) -> None:
        """Forget a user's document (settings, state); KeyError if the user is unknown."""
        ...

    def unset_org_settings(self, names: Iterable[str]) -> None:
        """Remove these keys from the org settings document (their defaults apply again)."""
        ...

    def unset_user_settings(self, email: str, names: Iterable[str]) -> None:
        """Remove these overrides of a user; KeyError if the user is unknown."""
        ...

    def set_user_settings(self, email: str, values: MappingABC[str, Any]) -> None:
        """Merge overrides into an existing user's settings; KeyError if the user is unknown."""
        ...

    def add_sf_changes(self, email: str, event_ids: Iterable[str]) -> None:
        """R-21..R-23: SF Event ids for the user's next session to read (added, never replaced:
        the poller and the Flow's callout may add at the same time as a session removes)."""
        ...

    def remove_sf_changes(self, email: str, event_ids: Iterable[str], *,
                          fence: Fence | None = None) -> None:  # fmt: skip
        """The ids a session read and settled."""
        ...

    def set_state_fields(self, email: str, values: MappingABC[str, Any], *,
                         fence: Fence | None = None,
                         expect: MappingABC[str, Any] | None = None) -> bool:  # fmt: skip
        """Write only these fields of the user's SyncState (by field name), leaving the others as
        they are (audit M1). Under `fence`, refused with LeaseLost once the lease was taken over.
        With `expect`, written only if those fields still hold those values; False if not."""
        ...


class SessionQueue(Protocol):
    """Queues a user's sync session (Cloud Tasks in production)."""

    def enqueue(self, email: str, now: datetime, reason: str = "push") -> bool:
        """True when a task was created, False when an already queued one covers it."""
        ...


class Lease(Protocol):
    """Mutual exclusion of one user's sessions (R-29), with a fencing generation; expiry is
    judged on the store's clock, never the caller's (audit L9)."""

    def acquire(self, email: str, holder: str, ttl: timedelta) -> Fence | None: ...

    def renew(self, fence: Fence, ttl: timedelta) -> bool:
        """Extend the lease; False when it was taken over meanwhile."""
        ...

    def release(self, fence: Fence) -> None: ...


class MappingStore(Protocol):
    """Item ↔ SF Event mappings (Firestore in production)."""

    def for_user(self, email: str) -> list[Mapping]: ...

    def for_query(self, email: str, query: MappingQuery) -> list[Mapping]:
        """This user's mappings that `query` wants (a session reads no others, issue 14)."""
        ...

    def count_saved(self, email: str) -> int:
        """core.model.saved_count of all this user's mappings, counted by the store."""
        ...

    def for_ical_uids(self, uids: Iterable[str]) -> list[Mapping]:
        """Every user's mappings of these iCalUIDs (R-11: the organiser's)."""
        ...

    def for_sf_events(self, sf_event_ids: Iterable[str]) -> list[Mapping]:
        """Every user's mappings of these SF Event ids (where a Salesforce change goes, R-23)."""
        ...

    def put(self, mappings: Sequence[Mapping], fence: Fence | None = None) -> None: ...

    def delete(self, user_email: str, keys: Sequence[ItemKey],
               fence: Fence | None = None) -> None: ...  # fmt: skip


class IssueStore(Protocol):
    """Open and closed issues (R-31)."""

    def open_for_user(self, email: str) -> list[Issue]: ...

    def record(self, opened: Sequence[Issue], closed: Sequence[Issue], now: datetime,
               fence: Fence | None = None) -> None: ...  # fmt: skip


# --- The two services --------------------------------------------------------------------------


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
    """One user's Google Calendar, acting as that user (domain-wide delegation). Reads raise
    core.errors' typed errors (GoogleRefused for 403/404: a calendar not shared any more)."""

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

    def delete_events(
        self, targets: Sequence[tuple[str, str]], if_match: Sequence[str] = ()
    ) -> list[WriteResult]:
        """Delete (calendar_id, event_id) pairs; an already deleted event counts as success.
        `if_match`, per target: the etag the copy must still have ("" for none); a copy that
        changed is left alone and answered `stale` (WriteResult.stale)."""
        ...

    def insert_events(self, events: Sequence[NewGoogleEvent]) -> list[WriteResult]:
        """R-21: insert these copies with the ids given (sendUpdates=none); an event that
        exists already with that id (a retried insert) counts as success."""
        ...

    def watch(self, calendar_id: str, address: str, channel_id: str, token: str) -> Channel: ...

    def stop(self, channel: Channel) -> None: ...


class Salesforce(Protocol):
    """The org's Salesforce, as calsync's integration user."""

    def search_people(self, emails: Iterable[str]) -> dict[str, ResolvedPerson]:
        """The initial search: Users, Contacts and Leads of these addresses (lower-case keys)."""
        ...

    def search_people_and_events(
        self, emails: Iterable[str], event_ids: Sequence[str]
    ) -> tuple[dict[str, ResolvedPerson], list[SfEventState]]:
        """`search_people` and `event_states` in one call where they fit (R-26: the mapped
        Events a session is about to update, read as they are now)."""
        ...

    def user_ids(self, emails: Iterable[str]) -> dict[str, str]:
        """Active SF User ids of these addresses (lower-case keys)."""
        ...

    def accounts_by_domain(self, domains: Iterable[str]) -> dict[str, str]: ...

    def create_people(self, people: Sequence[NewPerson]) -> list[WriteResult]:
        """R-07: create Contacts/Leads; `ref` is the email."""
        ...

    def create_events(self, creates: Sequence[SfCreate]) -> list[WriteResult]:
        """Create (or, with Calsync_Key__c, upsert) Events; `ref` is the sync key. A create
        retried from an intent finds what an earlier attempt made instead of repeating it."""
        ...

    def update_events(self, updates: Sequence[SfUpdate]) -> list[WriteResult]: ...

    def delete_events(self, deletes: Sequence[SfDelete]) -> list[WriteResult]:
        """An already deleted Event counts as success; a delete by key finds its Event first."""
        ...

    def has_key_field(self) -> bool:
        """Whether the org has Calsync_Key__c (R-39): then create_events upserts on the sync
        key, and a retried create finds what an earlier attempt made by itself."""
        ...

    def event_states(self, event_ids: Sequence[str]) -> list[SfEventState]:
        """These Events as they are now, deleted ones included (R-21..R-23: the user's inbox of
        SF changes); ids Salesforce no longer knows at all come back deleted, without owner."""
        ...

    def event_summaries(self, event_ids: Sequence[str]) -> dict[str, tuple[str, datetime | None]]:
        """Subject and start of these Events (what an admin is shown before a delete, R-37)."""
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

    def run(
        self, email: str, items: Sequence[Item], dry_run: bool, bounds: tuple[datetime, datetime]
    ) -> BatchResult:
        """`bounds`: the backfill's range, [since, until) as instants."""
        ...


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
