"""One user's Google Calendar through domain-wide delegation: implements core.ports.Calendar.

Reads are incremental (sync tokens; 410 → full sync of the window, R-30), writes are patches of
the user's own copy with sendUpdates=none (R-03) sent in batches of at most 50 calls, watch
channels start sessions (R-27). Every call carries `quotaUser` so that Google charges the per-user
quota to the user, not to the service account (API-FACTS A6). Only rate limits (403
rateLimitExceeded / userRateLimitExceeded, 429) and 5xx are retried, with truncated exponential
backoff; single calls and batch sub-requests alike.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.discovery import build
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest

from core.actions import WriteResult
from core.downsync import NewGoogleEvent
from core.errors import CalsyncError, GoogleRefused, classify_google
from core.fields import GooglePatch
from core.labels import LabelPatch
from core.model import Item, ItemKey
from core.ports import CalendarChanges, Channel, ItemPage
from infra.choices import ChoiceSigner
from infra.config import Config
from infra.credentials import google_credentials
from infra.google_events import (
    EventParseError,
    label_body,
    new_event_body,
    parse_event,
    patch_body,
    unusable,
)

log = logging.getLogger(__name__)

BATCH_LIMIT = 50  # Google recommends at most 50 calls per Calendar batch (API-FACTS A6)
PAGE_SIZE = 2500  # events.list maximum (API-FACTS A4)
CHANNEL_TTL_SECONDS = 7 * 24 * 3600  # Google's default; the returned expiration is what counts
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
TRANSPORT_ERRORS = (httplib2.HttpLib2Error, OSError, TransportError)


def quota_user(email: str) -> str:
    """`quotaUser` for `email`: at most 40 characters (API-FACTS A4), stable, no address in it."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:40]


def batch_uri_for(calendar_url: str) -> str:
    """The batch endpoint next to `calendar_url` (…/calendar/v3/ → …/batch/calendar/v3)."""
    suffix = "/calendar/v3/"
    if not calendar_url.endswith(suffix):
        raise ValueError(f"calendar_url must end with {suffix} (got {calendar_url!r})")
    return calendar_url[: -len(suffix)] + "/batch/calendar/v3"


def _instance_start(text: str) -> datetime | None:
    """An ItemKey's instance text (`20260504T090000Z` or `20260504`) as a UTC moment."""
    for pattern in ("%Y%m%dT%H%M%SZ", "%Y%m%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _rfc3339(moment: datetime) -> str:
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A Google error answer, reduced to what decides retrying and reporting."""

    status: int
    reason: str
    message: str

    @property
    def retryable_now(self) -> bool:
        """Retry in this session: 5xx, 429, and 403 rate limits. Never 400/404/409/410 nor 403
        quotaExceeded (Google's abuse limit: back off for long, API-FACTS A6)."""
        return (
            self.status >= 500
            or self.status == 429
            or (self.status == 403 and self.reason in _RATE_REASONS)
        )

    def error(self) -> CalsyncError:
        return classify_google(self.status, self.reason, self.message)


def failure_of(exc: BaseException) -> Failure:
    """A Google client failure (HTTP error, refused token, transport) as a Failure."""
    if isinstance(exc, BatchError):
        # An unreadable batch answer (not multipart, parts without ids): a server fault.
        return Failure(getattr(exc.resp, "status", 0) or 502, "batchError", str(exc.reason))
    if isinstance(exc, HttpError):
        details = exc.error_details if isinstance(exc.error_details, list) else []
        reason = next(
            (d.get("reason", "") for d in details if isinstance(d, dict) and d.get("reason")), ""
        )
        message = next(
            (d.get("message", "") for d in details if isinstance(d, dict) and d.get("message")),
            "",
        )
        return Failure(exc.status_code or 0, reason, message or str(exc.reason or ""))
    if isinstance(exc, RefreshError) and not getattr(exc, "retryable", False):
        # Delegation refused (unauthorized_client, invalid_grant): an admin must fix it.
        return Failure(401, "authError", f"token refused: {exc}")
    return Failure(503, "transport", f"{type(exc).__name__}: {exc}")


def _is_gone(failure: Failure) -> bool:
    return failure.status in (404, 410)


# --- retries --------------------------------------------------------------------------------


@dataclass
class Backoff:
    """Truncated exponential backoff with full jitter: sleep rand()·min(cap, base·2^n)."""

    attempts: int = 5  # tries in all, the first one included
    base: float = 1.0
    cap: float = 32.0
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = field(default=random.random)

    def pause(self, attempt: int) -> None:
        self.sleep(self.rand() * min(self.cap, self.base * 2**attempt))


class GaveUp(Exception):
    """A Google call failed for good (not retryable, or out of attempts)."""

    def __init__(self, failure: Failure, cause: BaseException) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.cause = cause


def execute(make: Callable[[], HttpRequest], backoff: Backoff, user: str) -> Any:
    """Execute one request (`make` builds it afresh each time), retrying rate limits, 5xx and
    transport errors with `backoff`; raises GaveUp with the last failure."""
    for attempt in range(backoff.attempts):
        try:
            return make().execute()
        except (HttpError, RefreshError, *TRANSPORT_ERRORS) as exc:
            failure = failure_of(exc)
            if not failure.retryable_now or attempt + 1 >= backoff.attempts:
                raise GaveUp(failure, exc) from exc
            log.info("google call retried", extra={"user": user, "status": failure.status})
            backoff.pause(attempt)
    raise AssertionError("unreachable")


@dataclass
class _Op:
    """One call of a batch: `make` builds a fresh request (a sent one cannot be re-added)."""

    ref: str
    make: Callable[[], HttpRequest]
    outcome: Any = None
    failure: Failure | None = None
    done: bool = False


# --- the adapter ----------------------------------------------------------------------------


def _conditional(request: HttpRequest, if_match: str) -> HttpRequest:
    """The write only if the copy still has this etag: Google answers 412 conditionNotMet
    otherwise (API-FACTS A6), in a batch's part too (each part carries its own headers)."""
    if if_match:
        request.headers["If-Match"] = if_match
    return request


class GoogleCalendar:
    """One user's calendars, acting as that user (implements core.ports.Calendar).

    Not thread-safe (httplib2): one instance per session.
    """

    def __init__(self, config: Config, email: str, *, backoff: Backoff | None = None) -> None:
        from infra.wiring import choice_signer  # the process's signer (one secret read)

        service = build(
            "calendar",
            "v3",
            credentials=google_credentials(config, email),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": config.calendar_url},
        )
        self._setup(service, batch_uri_for(config.calendar_url), email, backoff,
                    choice_signer(config))  # fmt: skip

    @classmethod
    def from_service(
        cls, service: Any, batch_uri: str, email: str, *, backoff: Backoff | None = None,
        choices: ChoiceSigner | None = None,
    ) -> GoogleCalendar:  # fmt: skip
        """An adapter around a ready google-api-python-client service (tests, tools)."""
        adapter = cls.__new__(cls)
        adapter._setup(service, batch_uri, email, backoff, choices)
        return adapter

    def _setup(self, service: Any, batch_uri: str, email: str, backoff: Backoff | None,
               choices: ChoiceSigner | None) -> None:  # fmt: skip
        self._choices = choices  # None: every sidebar choice is dropped (R-33, audit L3)
        self._service = service
        # Building the events resource costs about 1.6 ms (discovery parsing): build it once.
        self._events_resource = service.events()
        self._batch_uri = batch_uri
        self.email = email
        self.quota_user = quota_user(email)
        self.backoff = backoff or Backoff()
        self.channel_ttl = CHANNEL_TTL_SECONDS
        self.page_size = PAGE_SIZE

    # -- plumbing -------------------------------------------------------------------------

    def _events(self) -> Any:
        return self._events_resource

    def _call(self, make: Callable[[], HttpRequest]) -> Any:
        """Execute one request with retries; raise the typed error (core.errors) of the last
        failure."""
        try:
            return execute(make, self.backoff, self.email)
        except GaveUp as gave_up:
            raise self._typed(gave_up.failure, gave_up.cause) from gave_up.cause

    @staticmethod
    def _typed(failure: Failure, exc: BaseException) -> CalsyncError:
        error = failure.error()
        error.payload = getattr(exc, "content", None)
        return error

    def _run_batch(self, ops: Sequence[_Op]) -> None:
        """Run `ops` in batches of BATCH_LIMIT; sub-requests that fail with a retryable answer
        are sent again (in a later batch), at most `backoff.attempts` times in all."""
        pending = list(ops)
        for attempt in range(self.backoff.attempts):
            for start in range(0, len(pending), BATCH_LIMIT):
                self._send_batch(pending[start : start + BATCH_LIMIT])
            pending = [op for op in pending if not op.done]
            retry = [op for op in pending if op.failure is not None and op.failure.retryable_now]
            if not retry or attempt + 1 >= self.backoff.attempts:
                return
            log.info("google batch retried", extra={"user": self.email, "count": len(retry)})
            self.backoff.pause(attempt)
            pending = retry

    def _send_batch(self, chunk: Sequence[_Op]) -> None:
        by_id = {str(i): op for i, op in enumerate(chunk)}

        def collect(request_id: str, response: Any, exception: BaseException | None) -> None:
            op = by_id[request_id]
            if exception is None:
                op.outcome, op.failure, op.done = response, None, True
            else:
                op.failure = failure_of(exception)
                op.done = not op.failure.retryable_now

        batch = BatchHttpRequest(callback=collect, batch_uri=self._batch_uri)
        for request_id, op in by_id.items():
            batch.add(op.make(), request_id=request_id)
        try:
            batch.execute()
        except (HttpError, RefreshError, *TRANSPORT_ERRORS) as exc:
            # The whole batch failed (no per-call answers): every call shares its failure.
            failure = failure_of(exc)
            for op in chunk:
                if not op.done:
                    op.failure = failure
                    op.done = not failure.retryable_now

    @staticmethod
    def _result(op: _Op, gone_ok: bool = False) -> WriteResult:
        if op.failure is None:
            outcome = op.outcome if isinstance(op.outcome, dict) else {}
            return WriteResult(op.ref, True, id=str(outcome.get("id") or op.ref),
                               etag=str(outcome.get("etag") or ""))  # fmt: skip
        if gone_ok and _is_gone(op.failure):
            return WriteResult(op.ref, True, id=op.ref)
        error = op.failure.error()
        return WriteResult(
            op.ref,
            False,
            error_code=op.failure.reason or str(op.failure.status),
            message=op.failure.message,
            retryable=error.retryable,
        )

    def _parse_all(self, raw: Sequence[Any], calendar_id: str) -> Iterator[Item]:
        """Every event as an Item; one calsync cannot use carries its `problem`, so that the
        planner fails it alone with an issue instead of losing its change silently (audit H3)."""
        for data in raw:
            try:
                item = parse_event(data, calendar_id, self._choices)
            except EventParseError as exc:  # not an event at all: nothing to key an issue on
                log.warning("event skipped: %s", type(exc).__name__, extra={"user": self.email})
                continue
            problem = unusable(item)
            if problem:
                log.warning("event not usable", extra={"user": self.email, "item": item.id})
                item = replace(item, problem=problem)
            yield item

    # -- reads (R-30) ---------------------------------------------------------------------

    def changes(
        self, calendar_id: str, sync_token: str, time_min: datetime, time_max: datetime
    ) -> CalendarChanges:
        """Incremental changes since `sync_token` (deletions as cancelled items, not filtered by
        the window: Google cannot), or a full sync of [time_min, time_max) when there is no
        token or Google answers 410 (expired token: API-FACTS A4)."""
        if sync_token:
            try:
                raw, token = self._list_all(calendar_id, syncToken=sync_token)
            except GoogleRefused as exc:
                if exc.status != 410:
                    raise
                log.info("sync token refused: full sync", extra={"user": self.email, "code": 410})
            else:
                return CalendarChanges(tuple(self._parse_all(raw, calendar_id)), token, False)
        # showDeleted: an item cancelled while the token was invalid is seen as cancelled, so
        # its issue closes (and a saved one is deleted) even when no mapping points at it.
        raw, token = self._list_all(
            calendar_id, timeMin=_rfc3339(time_min), timeMax=_rfc3339(time_max), showDeleted=True
        )
        return CalendarChanges(tuple(self._parse_all(raw, calendar_id)), token, True)

    def _list_all(self, calendar_id: str, **query: Any) -> tuple[list[Any], str]:
        """Every page of one events.list query; the sync token comes with the last page only."""
        params = dict(calendarId=calendar_id, singleEvents=False, **query)
        return self._pages(self._events().list, params)

    def _pages(
        self, method: Callable[..., HttpRequest], params: dict[str, Any]
    ) -> tuple[list[Any], str]:
        """Follow nextPageToken to the end; return every item and the last page's sync token."""
        items: list[Any] = []
        page_token: str | None = None
        while True:
            call = dict(params, maxResults=self.page_size, quotaUser=self.quota_user)
            if page_token:
                call["pageToken"] = page_token
            page = self._call(partial(method, **call))
            items.extend(page.get("items") or [])
            page_token = page.get("nextPageToken")
            if not page_token:
                return items, str(page.get("nextSyncToken") or "")

    # -- reads in pages over a range, without sync tokens (R-38, core.ports.CalendarPages) --

    def page(
        self, calendar_id: str, time_min: datetime, time_max: datetime, page_token: str,
        page_size: int,
    ) -> ItemPage:  # fmt: skip
        """One page of the items over [time_min, time_max) (series as one item, as sessions
        read them); `page_token` "" for the first page."""
        call: dict[str, Any] = dict(
            calendarId=calendar_id, singleEvents=False, timeMin=_rfc3339(time_min),
            timeMax=_rfc3339(time_max), maxResults=min(page_size, PAGE_SIZE),
            quotaUser=self.quota_user,
        )  # fmt: skip
        if page_token:
            call["pageToken"] = page_token
        answer = self._call(partial(self._events().list, **call))
        items = tuple(self._parse_all(answer.get("items") or [], calendar_id))
        return ItemPage(items, str(answer.get("nextPageToken") or ""))

    def count(self, calendar_id: str, time_min: datetime, time_max: datetime) -> int:
        """How many items `page` will return over the range: ids only, 2,500 a call."""
        params = dict(
            calendarId=calendar_id, singleEvents=False, timeMin=_rfc3339(time_min),
            timeMax=_rfc3339(time_max), fields="items(id),nextPageToken",
        )  # fmt: skip
        items, _ = self._pages(self._events().list, params)
        return len(items)

    def get_items(self, calendar_id: str, event_ids: Sequence[str]) -> list[Item]:
        """These events, cancelled ones included, in the order asked; missing ones (404, 410)
        are left out. Raises the typed error of any other failure."""
        ops = [
            _Op(
                event_id,
                partial(
                    self._events().get,
                    calendarId=calendar_id,
                    eventId=event_id,
                    quotaUser=self.quota_user,
                ),
            )
            for event_id in dict.fromkeys(event_ids)
        ]
        self._run_batch(ops)
        found: list[Any] = []
        for op in ops:
            if op.failure is None:
                found.append(op.outcome)
            elif not _is_gone(op.failure):
                raise op.failure.error()
        return list(self._parse_all(found, calendar_id))

    def find(self, calendar_id: str, key: ItemKey) -> Item | None:
        """The copy with this mapping key (iCalUID, and the original start of an instance), or
        None: how the dashboard finds an item that its issue names only by key."""
        params: dict[str, Any] = dict(calendarId=calendar_id, iCalUID=key.ical_uid)
        moment = _instance_start(key.instance)
        if moment is not None:  # one instance: expand around its original start only
            params.update(singleEvents=True, timeMin=_rfc3339(moment - timedelta(days=1)),
                          timeMax=_rfc3339(moment + timedelta(days=2)))  # fmt: skip
        raw, _ = self._pages(self._events().list, params)
        return next((i for i in self._parse_all(raw, calendar_id) if i.key == key), None)

    def instances(
        self, calendar_id: str, series_id: str, time_min: datetime, time_max: datetime
    ) -> list[Item]:
        """The live instances of a series that start in [time_min, time_max) (Google's own
        expansion; cancelled occurrences are left out)."""
        params = dict(
            calendarId=calendar_id,
            eventId=series_id,
            timeMin=_rfc3339(time_min),
            timeMax=_rfc3339(time_max),
        )
        raw, _ = self._pages(self._events().instances, params)
        return list(self._parse_all(raw, calendar_id))

    # -- writes (R-03, R-22, R-30) --------------------------------------------------------

    def _patch_op(self, calendar_id: str, event_id: str, body: dict[str, Any], send: str,
                  if_match: str = "") -> _Op:  # fmt: skip
        # Always patch, never update: PUT on an attendee's copy is 403 forbiddenForNonOrganizer
        # and would reset organiser-only fields (API-FACTS A2).
        return _Op(
            event_id,
            lambda: _conditional(
                self._events().patch(
                    calendarId=calendar_id,
                    eventId=event_id,
                    body=body,
                    sendUpdates=send,
                    quotaUser=self.quota_user,
                ),
                if_match,
            ),
        )

    def _write(self, ops: Sequence[_Op | WriteResult], gone_ok: bool = False) -> list[WriteResult]:
        self._run_batch([op for op in ops if isinstance(op, _Op)])
        return [op if isinstance(op, WriteResult) else self._result(op, gone_ok) for op in ops]

    def apply_labels(self, patches: Sequence[LabelPatch]) -> list[WriteResult]:
        """R-03: patch each copy's colour and private properties, sendUpdates=none, batched.
        One result per patch, in order; `ref` and `id` are the event id."""
        ops: list[_Op | WriteResult] = []
        for patch in patches:
            body = label_body(patch)
            if not body:
                ops.append(WriteResult(patch.event_id, True, id=patch.event_id))
            else:
                ops.append(self._patch_op(patch.calendar_id, patch.event_id, body,
                                          patch.send_updates, patch.if_match))  # fmt: skip
        return self._write(ops)

    def apply_patches(self, patches: Sequence[GooglePatch]) -> list[WriteResult]:
        """R-22: patch fields of the user's copy, sendUpdates=none, batched; one result per
        patch, in order."""
        ops: list[_Op | WriteResult] = []
        for patch in patches:
            body = patch_body(patch)
            if not body:
                ops.append(WriteResult(patch.event_id, True, id=patch.event_id))
            else:
                ops.append(self._patch_op(patch.calendar_id, patch.event_id, body,
                                          patch.send_updates, patch.if_match))  # fmt: skip
        return self._write(ops)

    def delete_events(
        self, targets: Sequence[tuple[str, str]], if_match: Sequence[str] = ()
    ) -> list[WriteResult]:
        """Delete (calendar_id, event_id) pairs without notifying anyone; an event already
        deleted (410 deleted) or missing (404) counts as success. `if_match`, per target: the
        etag the copy must still have ("" for none; 412 conditionNotMet otherwise)."""
        conditions = list(if_match) + [""] * (len(targets) - len(if_match))
        ops: list[_Op | WriteResult] = [
            _Op(
                event_id,
                partial(self._delete_request, calendar_id, event_id, etag),
            )
            for (calendar_id, event_id), etag in zip(targets, conditions, strict=True)
        ]
        return self._write(ops, gone_ok=True)

    def _delete_request(self, calendar_id: str, event_id: str, if_match: str) -> HttpRequest:
        request = self._events().delete(
            calendarId=calendar_id, eventId=event_id, sendUpdates="none",
            quotaUser=self.quota_user,
        )  # fmt: skip
        return _conditional(request, if_match)

    def insert_events(self, events: Sequence[NewGoogleEvent]) -> list[WriteResult]:
        """R-21: insert copies with calsync's ids, without notifying anyone; a copy that exists
        already (409 duplicate: a retried insert after a lost answer) counts as success."""
        ops: list[_Op | WriteResult] = [
            _Op(
                ev.event_id,
                partial(
                    self._events().insert,
                    calendarId=ev.calendar_id,
                    body=new_event_body(ev),
                    sendUpdates="none",
                    quotaUser=self.quota_user,
                ),
            )
            for ev in events
        ]
        self._run_batch([op for op in ops if isinstance(op, _Op)])
        out = []
        for op in ops:
            assert isinstance(op, _Op)
            if op.failure is not None and op.failure.status == 409:
                out.append(WriteResult(op.ref, True, id=op.ref))
            else:
                out.append(self._result(op))
        return out

    # -- push (R-27) ----------------------------------------------------------------------

    def probe(self) -> None:
        """One small read of the user's primary calendar, so that an admin learns at once when
        Google has no calendar for the address or refuses to act as the user (typed errors)."""
        self._call(
            lambda: self._events().list(
                calendarId=self.email, maxResults=1, quotaUser=self.quota_user
            )
        )

    def watch(self, calendar_id: str, address: str, channel_id: str, token: str) -> Channel:
        """Open a push channel on `calendar_id`'s events; Google's returned expiration (ms)
        is the one to renew by (API-FACTS A5)."""
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "params": {"ttl": str(self.channel_ttl)},
        }
        answer = self._call(
            lambda: self._events().watch(
                calendarId=calendar_id, body=body, quotaUser=self.quota_user
            )
        )
        try:
            expiration = int(answer.get("expiration") or 0)
        except (TypeError, ValueError):
            expiration = 0
        return Channel(
            id=str(answer.get("id") or channel_id),
            token=str(answer.get("token") or token),
            resource_id=str(answer.get("resourceId") or ""),
            expiration_ms=expiration,
        )

    def stop(self, channel: Channel) -> None:
        """Stop a channel; one Google no longer knows (404) is stopped already."""
        body = {"id": channel.id, "resourceId": channel.resource_id}
        try:
            self._call(lambda: self._service.channels().stop(body=body, quotaUser=self.quota_user))
        except GoogleRefused as exc:
            if exc.status != 404:
                raise
