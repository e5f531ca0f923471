"""The Salesforce adapter: the `Salesforce` port (core/ports.py) over simple-salesforce.

Reads are SOQL queries with escaped, chunked `IN (...)` lists (R-35, infra/salesforce_query.py);
writes go through sObject Collections, 200 records a call, every per-record result checked
(R-30, API-FACTS B3). Results of a write come back one per input, in input order. A call that
fails as a whole (503, REQUEST_LIMIT_EXCEEDED, network) fails each of its records as retryable;
only authentication errors raise (`SalesforceAuthError`). Reads raise core.errors' typed errors.

R-39: where Event has the External ID field `Calsync_Key__c` (found once by describe), Events are
written by upsert on it, so a retried create never makes a second Event; without it calsync writes
its sync key as a marker line into the Description (infra/salesforce_wire.py) and a retried
create or delete finds its own Event by that marker, the owner and the start the intent recorded,
never by what the item says now; an Event calsync did not make is never adopted.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import requests
from simple_salesforce import Salesforce as SimpleSalesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from simple_salesforce.format import format_soql

from core.actions import SfCreate, SfDelete, SfUpdate, WriteResult
from core.errors import CalsyncError, PermanentError, ServerError, classify_salesforce
from core.fields import LOCATION, PRIVATE, SHOW_AS, SUBJECT, WHEN, NewPerson, SfEventFields
from core.model import PersonKind, ResolvedPerson, SfEventState
from infra.config import Config
from infra.salesforce_query import (
    chunked_in,
    chunked_or,
    parse_date,
    parse_datetime,
    soql_value,
    utc_literal,
)
from infra.salesforce_wire import (
    KEY_FIELD,
    event_values,
    marker_of,
    strip_marker,
    with_marker,
)

log = logging.getLogger(__name__)

API_VERSION = "62.0"  # Recurrence2PatternText is creatable from v52.0 (API-FACTS B1)
BATCH = 200  # sObject Collections' record limit
# What a retried create writes again on the Event an earlier attempt made (no key field).
REFRESHED = (SUBJECT, WHEN, LOCATION, PRIVATE, SHOW_AS)
_SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_EMAIL_MAX = 254
# Per-record codes that mean "the record is already gone" on delete: success (Protocol).
GONE = frozenset({"ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY"})
# invitees are written as EventRelation rows, not as the Event's invitee id lists (see
# _invite), with the status of their answer.
INVITEE_STATUS = {
    "AcceptedEventInviteeIds": "Accepted",
    "DeclinedEventInviteeIds": "Declined",
    "UndecidedEventInviteeIds": "New",
}
EVENT_FIELDS = (
    "Id", "OwnerId", "Subject", "StartDateTime", "EndDateTime", "IsAllDayEvent", "ActivityDate",
    "DurationInMinutes", "Location", "IsPrivate", "ShowAs", "Description", "LastModifiedDate",
    "IsRecurrence2",
)  # fmt: skip
# Precedence of the initial search when one address matches several records (documented in
# search_people): a Salesforce User makes the address internal, whatever else matches.
PRECEDENCE = (PersonKind.USER, PersonKind.CONTACT, PersonKind.LEAD)
COMPOSITE_QUERIES = 5  # query subrequests one Composite request may hold (REST API limits)
PEOPLE_TTL = 120.0  # seconds a person found stays in an instance's cache (docs/decisions.md)

T = TypeVar("T")


class SalesforceAuthError(PermanentError):
    """The session was refused and a fresh login did not help (or there is no way to log in)."""


@dataclass(frozen=True)
class _Failure:
    code: str
    message: str
    retryable: bool


def _failure_of(exc: Exception) -> _Failure:
    """A whole call's failure, as the code/message/retryable every record of it gets."""
    if isinstance(exc, requests.RequestException):
        return _Failure("NETWORK_ERROR", type(exc).__name__, True)
    assert isinstance(exc, SalesforceError)
    code, message = _error_of(exc)
    return _Failure(code, message, classify_salesforce(exc.status, code, message).retryable)


def _error_of(exc: SalesforceError) -> tuple[str, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    return f"HTTP_{exc.status}", str(content)[:200]


def _typed(exc: Exception) -> CalsyncError:
    """A read's failure as core.errors' typed error (retryable or permanent)."""
    if isinstance(exc, requests.RequestException):
        return ServerError(f"Salesforce unreachable: {type(exc).__name__}")
    assert isinstance(exc, SalesforceError)
    code, message = _error_of(exc)
    return classify_salesforce(exc.status, code, message)


def _chunks(items: Sequence[T], size: int = BATCH) -> Iterable[Sequence[T]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _norm_email(email: str) -> str:
    return email.strip().lower()


def valid_id(value: str) -> bool:
    """A Salesforce record id (15 or 18 characters): anything else never reaches SOQL or a REST
    path (audit L2)."""
    return bool(_SF_ID.match(value or ""))


def plausible_email(email: str) -> bool:
    """An address worth searching: one @, not too long, encodable (a lone surrogate or a 14 KB
    "address" must not fail the whole search: audit L2)."""
    if not email or len(email) > _EMAIL_MAX or email.count("@") != 1:
        return False
    try:
        email.encode("utf-8")
    except UnicodeEncodeError:
        return False
    local, _, domain = email.partition("@")
    return bool(local) and "." in domain and not any(c.isspace() for c in email)


@dataclass(frozen=True)
class SalesforceUser:
    """A Salesforce User as the admin command line checks it (`users enable --sf-user-id`)."""

    id: str  # the 18-character form Salesforce answers with
    username: str
    name: str
    email: str
    active: bool


class SalesforceAdapter:
    """The org's Salesforce as calsync's integration user (implements core.ports.Salesforce).

    `calls` counts the REST API calls made (every `/services/data/` response, query pages
    included), so a session can report its cost (R-30).
    """

    def __init__(self, client: SimpleSalesforce,
                 relogin: Callable[[], SimpleSalesforce] | None = None,
                 key_field: bool | None = None, integration_user_id: str = "") -> None:  # fmt: skip
        """`relogin` makes a fresh client after INVALID_SESSION_ID; `key_field` says whether
        Event has Calsync_Key__c (None: describe Event once to find out);
        `integration_user_id`, when known, narrows the marker lookup to Events calsync created."""
        self._sf = client
        self._relogin = relogin
        self._key_field = key_field
        self.integration_user_id = integration_user_id if valid_id(integration_user_id) else ""
        self.calls = 0
        # Every answer's Sforce-Limit-Info goes here (infra/budget.py stores the org's budget).
        self.limit_listener: Callable[[str], None] | None = None
        self._found = PeopleCache()
        self._hook(client)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Config) -> SalesforceAdapter:
        """Production (and the local stack): JWT-bearer login, re-login on INVALID_SESSION_ID."""
        from infra.credentials import salesforce_http, salesforce_login

        http = salesforce_http(config)
        if config.sf_ca_cert:
            # The local emulator's certificate: REQUESTS_CA_BUNDLE in the environment would
            # otherwise replace `verify` on every request (docs/emulators/salesforce.md).
            http.trust_env = False

        sessions = []

        def login() -> SimpleSalesforce:
            session = salesforce_login(config, http)
            sessions.append(session)
            return SimpleSalesforce(instance_url=session.instance_url,
                                    session_id=session.access_token, session=http,
                                    version=API_VERSION)  # fmt: skip

        client = login()
        return cls(client, relogin=login, integration_user_id=sessions[0].user_id)

    @classmethod
    def from_client(cls, client: SimpleSalesforce,
                    relogin: Callable[[], SimpleSalesforce] | None = None,
                    key_field: bool | None = None,
                    integration_user_id: str = "") -> SalesforceAdapter:  # fmt: skip
        """Around a ready simple-salesforce client (tests)."""
        return cls(client, relogin, key_field, integration_user_id)

    def _hook(self, client: SimpleSalesforce) -> None:
        hooks = client.session.hooks.setdefault("response", [])
        if self._count not in hooks:
            hooks.append(self._count)

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/services/data/" in response.url:
            self.calls += 1
            info = response.headers.get("Sforce-Limit-Info")
            if info and self.limit_listener is not None:
                self.limit_listener(info)

    def _call(self, fn: Callable[[SimpleSalesforce], T]) -> T:
        """Run one client call; on INVALID_SESSION_ID log in again once and retry."""
        try:
            return fn(self._sf)
        except SalesforceExpiredSession as exc:
            if self._relogin is None:
                raise SalesforceAuthError("Salesforce session refused", status=401) from exc
            log.info("salesforce session expired; logging in again")
            self._sf = self._relogin()
            self._hook(self._sf)
        try:
            return fn(self._sf)
        except SalesforceExpiredSession as exc:
            raise SalesforceAuthError("Salesforce session refused after a new login",
                                      status=401) from exc  # fmt: skip

    def _query(self, soql: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        try:
            answer = self._call(lambda sf: sf.query_all(soql, include_deleted=include_deleted))
        except (SalesforceError, requests.RequestException) as exc:
            raise _typed(exc) from exc
        return list(answer["records"])

    def query(self, soql: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of one read-only SOQL statement (escaped by the caller, R-35): the
        sidebar's searches and access checks (infra/salesforce_records.py) and the poller's
        reads (infra/sf_changes.py) use it. `include_deleted`: through queryAll, which also
        reads deleted and archived rows (API-FACTS-2 §1.2)."""
        return self._query(soql, include_deleted)

    @property
    def base_url(self) -> str:
        """The REST base of the API version in use (…/services/data/v62.0/)."""
        return str(self._sf.base_url)

    def query_in(self, template: str, values: Iterable[object],
                 include_deleted: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        """`query` of `template` with its `{values}` an escaped IN list, in as few statements
        as fit the URL limit (infra/salesforce_query.chunked_in)."""
        return self._query_in(template, values, include_deleted)

    def deleted_feed(self, start: datetime, end: datetime) -> dict[str, Any]:
        """getDeleted of Event over [start, end), as Salesforce answers it (`deletedRecords`,
        `earliestDateAvailable`, `latestDateCovered`; API-FACTS-2 §1.3); typed errors."""
        try:
            return dict(self._call(lambda sf: sf.Event.deleted(start, end)))
        except (SalesforceError, requests.RequestException) as exc:
            raise _typed(exc) from exc

    def _query_in(self, template: str, values: Iterable[object],
                  include_deleted: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        prefix = self._sf.base_url + ("queryAll/" if include_deleted else "query/")
        out: list[dict[str, Any]] = []
        for soql in chunked_in(template, values, prefix):
            out += self._query(soql, include_deleted)
        return out

    def read_limits(self) -> dict[str, Any]:
        """The org's limits resource (one API call): its answer's Sforce-Limit-Info refreshes
        the stored budget when no other call did lately (infra/budget.py)."""
        try:
            answer = self._call(lambda sf: sf.restful("limits"))
        except (SalesforceError, requests.RequestException) as exc:
            raise _typed(exc) from exc
        return dict(answer or {})

    # -- is the External ID field there? ----------------------------------------------

    def has_key_field(self) -> bool:
        """Whether Event has `Calsync_Key__c` (one describe per adapter, then cached)."""
        if self._key_field is None:
            try:
                described = self._call(lambda sf: sf.Event.describe())
            except (SalesforceError, requests.RequestException) as exc:
                raise _typed(exc) from exc
            names = {f["name"].lower() for f in described.get("fields", [])}
            self._key_field = KEY_FIELD.lower() in names
        return self._key_field

    # -- the initial search ---------------------------------------------------------------

    def search_people(self, emails: Iterable[str]) -> dict[str, ResolvedPerson]:
        """The initial search: active Users, Contacts (with their AccountId) and unconverted
        Leads of these addresses. People found in the last PEOPLE_TTL are taken from this
        instance's cache; the others are searched in one Composite request (one API call for
        up to five queries: the three objects, per URL-sized chunk of addresses).

        Precedence when an address matches several records: User over Contact over Lead (a
        Salesforce User is internal, docs/rules.md, terms; a Contact is a qualified person with an Account;
        a Lead is the weakest match). Among records of one kind, the oldest wins.
        """
        return self.search_people_and_events(emails, ())[0]

    def search_people_and_events(self, emails: Iterable[str], event_ids: Sequence[str]
                                 ) -> tuple[dict[str, ResolvedPerson], list[SfEventState]]:  # fmt: skip
        """`search_people` and `event_states` at once (R-26: a session about to update mapped
        Events reads how they are now): the Event query rides in the people search's Composite
        request, so that both cost one API call while they fit five queries; with every address
        cached, the Events alone are one call."""
        wanted = sorted({_norm_email(e) for e in emails if e and plausible_email(_norm_email(e))})
        found = self._found.get(wanted)
        missing = [e for e in wanted if e not in found]
        ids = sorted({i for i in event_ids if valid_id(i)})
        people = self._people_queries(missing)
        every = self._sf.base_url + "queryAll/"
        events = [(soql, True) for soql in chunked_in(self._states_template(), ids, every)
                  ] if ids else []  # fmt: skip
        answers = self._queries([(soql, False) for _, soql in people] + events)
        fresh: dict[str, ResolvedPerson] = {}
        for (kind, _), rows in zip(people, answers[: len(people)], strict=True):
            for person in _people_of(kind, rows):
                fresh[person.email] = person
        self._found.put(fresh.values())
        found.update(fresh)
        rows = [row for page in answers[len(people) :] for row in page]
        return found, self._states_of(rows, ids)

    def _people_queries(self, emails: Sequence[str]) -> list[tuple[PersonKind, str]]:
        # Later kinds overwrite earlier ones: User last (the precedence of search_people).
        prefix = self._sf.base_url + "query/"
        return [(kind, soql) for kind in reversed(PRECEDENCE)
                for soql in chunked_in(_people_template(kind), emails, prefix)]  # fmt: skip

    def _queries(self, statements: Sequence[tuple[str, bool]]) -> list[list[dict[str, Any]]]:
        """Each statement's rows (`True`: through queryAll), in Composite requests of up to five
        queries each (one API call each)."""
        out: list[list[dict[str, Any]]] = []
        for group in _chunks(statements, COMPOSITE_QUERIES):
            out += self._composite_queries(group)
        return out

    def _composite_queries(
        self, statements: Sequence[tuple[str, bool]]
    ) -> list[list[dict[str, Any]]]:
        """Up to five SOQL queries in one Composite request (one API call); each query's rows,
        following `nextRecordsUrl` past a first page of 2,000. A statement marked True is read
        through queryAll (deleted and archived rows too)."""
        base = f"/services/data/v{self._sf.sf_version}/"
        body = {"allOrNone": False, "compositeRequest": [
            {"method": "GET", "referenceId": f"q{i}",
             "url": f"{base}{'queryAll' if every else 'query'}/?{urlencode({'q': soql})}"}
            for i, (soql, every) in enumerate(statements)]}  # fmt: skip
        try:
            answer = self._call(lambda sf: sf.restful("composite", method="POST", json=body))
        except (SalesforceError, requests.RequestException) as exc:
            raise _typed(exc) from exc
        out: list[list[dict[str, Any]]] = []
        for result in (answer or {}).get("compositeResponse", []):
            status, page = int(result.get("httpStatusCode", 500)), result.get("body")
            if status >= 300 or not isinstance(page, dict):
                errors = page if isinstance(page, list) else [{}]
                code = str(errors[0].get("errorCode", f"HTTP_{status}"))
                raise classify_salesforce(status, code, str(errors[0].get("message", "")))
            rows = list(page.get("records") or [])
            while not page.get("done", True) and page.get("nextRecordsUrl"):
                url = page["nextRecordsUrl"]
                try:
                    page = self._call(
                        lambda sf, url=url: sf.query_more(url, identifier_is_url=True)
                    )
                except (SalesforceError, requests.RequestException) as exc:
                    raise _typed(exc) from exc
                rows += page.get("records") or []
            out.append(rows)
        if len(out) != len(statements):
            raise ServerError("Salesforce answered the composite request incompletely")
        return out

    def _people(self, kind: PersonKind, emails: Sequence[str]) -> list[ResolvedPerson]:
        if not emails:
            return []
        return _people_of(kind, self._query_in(_people_template(kind), emails))

    def user_ids(self, emails: Iterable[str]) -> dict[str, str]:
        """Active SF User ids of these addresses (lower-case keys)."""
        wanted = sorted({_norm_email(e) for e in emails if e and plausible_email(_norm_email(e))})
        return {p.email: p.sf_id for p in self._people(PersonKind.USER, wanted)}

    def find_user(self, sf_id: str) -> SalesforceUser | None:
        """The User with this 15- or 18-character Id, active or not (None: no such User)."""
        rows = self._query(
            format_soql("SELECT Id, Username, Name, Email, IsActive FROM User WHERE Id = {}", sf_id)
        )
        if not rows:
            return None
        row = rows[0]
        return SalesforceUser(
            id=row["Id"],
            username=row.get("Username") or "",
            name=row.get("Name") or "",
            email=_norm_email(row.get("Email") or ""),
            active=bool(row.get("IsActive")),
        )

    def accounts_by_domain(self, domains: Iterable[str]) -> dict[str, str]:
        """R-07: the Account whose Website is on each domain (www. and scheme ignored), else the
        Account of an existing Contact with an address on it. Oldest Account first."""
        wanted = sorted({d.strip().lower().lstrip("@") for d in domains if d and d.strip()})
        if not wanted:
            return {}
        out: dict[str, str] = {}
        clauses = [f"Website LIKE {format_like(d)}" for d in wanted]
        rows = self._query_or("SELECT Id, Website FROM Account WHERE ({clauses}) "
                              "ORDER BY CreatedDate ASC, Id ASC", clauses)  # fmt: skip
        for row in rows:
            host = website_host(row.get("Website") or "")
            if host in wanted:
                out.setdefault(host, row["Id"])
        missing = [d for d in wanted if d not in out]
        clauses = [f"Email LIKE {format_like(d, suffix=True)}" for d in missing]
        rows = self._query_or("SELECT AccountId, Email FROM Contact WHERE AccountId != null "
                              "AND ({clauses}) ORDER BY CreatedDate ASC, Id ASC", clauses)  # fmt: skip
        for row in rows:
            domain = _norm_email(row.get("Email") or "").rpartition("@")[2]
            if domain in missing:
                out.setdefault(domain, row["AccountId"])
        return out

    def _query_or(self, template: str, clauses: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for soql in chunked_or(template, clauses, self._sf.base_url + "query/"):
            out += self._query(soql)
        return out

    # -- writes ---------------------------------------------------------------------------

    def _collection(self, method: str, path: str, refs: Sequence[str],
                    records: Sequence[dict[str, Any]] | None = None,
                    ids: Sequence[str] | None = None) -> list[WriteResult]:  # fmt: skip
        """One sObject Collections call; one WriteResult per ref, in order."""
        try:
            if ids is not None:
                params = {"ids": ",".join(ids), "allOrNone": "false"}
                answer = self._call(lambda sf: sf.restful(path, method=method, params=params))
            else:
                body = {"allOrNone": False, "records": list(records or ())}
                answer = self._call(lambda sf: sf.restful(path, method=method, json=body))
        except (SalesforceError, requests.RequestException) as exc:
            failure = _failure_of(exc)
            if KEY_FIELD.lower() in failure.message.lower():
                self._key_field = None  # the field went away: describe again next time
            log.warning("salesforce %s %s failed as a whole: %s", method, path, failure.code)
            return [WriteResult(ref, False, "", failure.code, failure.message, failure.retryable)
                    for ref in refs]  # fmt: skip
        if not isinstance(answer, list) or len(answer) != len(refs):
            return [WriteResult(ref, False, "", "UNEXPECTED_ANSWER",
                                "collection answer does not match the request", True)
                    for ref in refs]  # fmt: skip
        return [_result(ref, item) for ref, item in zip(refs, answer, strict=True)]

    def create_people(self, people: Sequence[NewPerson]) -> list[WriteResult]:
        """R-07: Contacts under their Account, Leads with their company; `ref` is the email."""
        records = [_person_record(p) for p in people]
        refs = [p.email for p in people]
        out: list[WriteResult] = []
        for start in range(0, len(records), BATCH):
            out += self._collection("POST", "composite/sobjects", refs[start : start + BATCH],
                                    records[start : start + BATCH])  # fmt: skip
        return out

    def create_events(self, creates: Sequence[SfCreate]) -> list[WriteResult]:
        """Create Events, 200 a call; `ref` is the sync key. With `Calsync_Key__c`, plain Events
        are upserted on it (R-39) and series (R-17: Recurrence2PatternText is create-only, so an
        upsert that matches cannot carry it) are created with the key, a duplicate key then
        counting as success with the existing Event's id. Without it, a create retried from an
        intent first looks for the Event an earlier attempt made, by calsync's marker."""
        try:
            keyed = self.has_key_field()
            found = {} if keyed else self._find_by_marker([c for c in creates if c.retry])
        except SalesforceAuthError:
            raise
        except CalsyncError as exc:  # the describe or the lookup failed: so would the writes
            return [_failed(c.sync_key, exc) for c in creates]
        results: dict[int, WriteResult] = self._refresh(creates, found)
        for i, c in enumerate(creates):
            if i in results:
                continue
            if not valid_id(c.fields.owner_id):
                results[i] = _malformed(c.sync_key, "OwnerId", c.fields.owner_id)
        todo = [i for i in range(len(creates)) if i not in results]
        plain = [i for i in todo if not (keyed and creates[i].fields.recurrence_pattern)]
        series = [i for i in todo if keyed and creates[i].fields.recurrence_pattern]
        path = f"composite/sobjects/Event/{KEY_FIELD}" if keyed else "composite/sobjects"
        method = "PATCH" if keyed else "POST"
        for group, how in ((plain, (method, path)), (series, ("POST", "composite/sobjects"))):
            for chunk in _chunks(group):
                records = [_event_record(creates[i], keyed) for i in chunk]
                answer = self._collection(how[0], how[1], [creates[i].sync_key for i in chunk],
                                          records)  # fmt: skip
                results.update(zip(chunk, answer, strict=True))
        self._settle_duplicates(creates, results)
        made = {i: r for i, r in results.items() if creates[i].sync_key not in found}
        self._invite(made, [c.fields for c in creates], [None] * len(creates))
        results.update(made)
        return [results[i] for i in range(len(creates))]

    def _refresh(self, creates: Sequence[SfCreate], found: Mapping[str, str]
                 ) -> dict[int, WriteResult]:  # fmt: skip
        """Without the key field, an Event an earlier attempt made holds the item as it was
        then: the retry writes the synced fields as they are now (an upsert does that with the
        key field), or an edit made between the crash and the retry is lost (audit H1b). The
        Description and the links were written with the Event (R-14) and stay."""
        chosen = [i for i, c in enumerate(creates) if c.sync_key in found]
        if not chosen:
            return {}
        updates = [SfUpdate(creates[i].sync_key, found[creates[i].sync_key], creates[i].fields,
                            REFRESHED, creates[i].rule) for i in chosen]  # fmt: skip
        return dict(zip(chosen, self.update_events(updates), strict=True))

    def _invite(self, results: dict[int, WriteResult], written: Sequence[SfEventFields],
                names: Sequence[tuple[str, ...] | None]) -> None:  # fmt: skip
        """R-10: Salesforce users invited to the Events just written, as EventRelation rows
        (IsInvitee, Status from their answer), 200 rows a call across Events. A row that exists
        already (a retry) is fine; other failures leave the Event written, with a message."""
        rows: list[tuple[int, dict[str, Any]]] = []
        for i, result in sorted(results.items()):
            if not result.ok or not result.id:
                continue
            for field, ids in _invitee_lists(written[i]):
                if names[i] is None or "relations" in (names[i] or ()):
                    rows += [(i, _invitee_row(result.id, uid, field)) for uid in ids]
        failed: dict[int, list[str]] = defaultdict(list)
        for chunk in _chunks(rows):
            answer = self._collection("POST", "composite/sobjects", [results[i].ref for i, _ in chunk],
                                      [row for _, row in chunk])  # fmt: skip
            for (i, _), r in zip(chunk, answer, strict=True):
                if not r.ok and r.error_code != "DUPLICATE_VALUE":
                    failed[i].append(r.error_code)
        for i, codes in failed.items():
            log.warning(
                "salesforce invitees not added to %s: %s", results[i].id, sorted(set(codes))
            )
            results[i] = replace(
                results[i], message="invitees not added: " + ", ".join(sorted(set(codes)))
            )

    def _settle_duplicates(self, creates: Sequence[SfCreate],
                           results: dict[int, WriteResult]) -> None:  # fmt: skip
        """R-39: a series created again after a crash hits DUPLICATE_VALUE on the key: it exists."""
        dupes = [i for i, r in results.items() if r.error_code == "DUPLICATE_VALUE"]
        if not dupes:
            return
        try:
            existing = self._find_by_key([creates[i].sync_key for i in dupes])
        except SalesforceAuthError:
            raise
        except CalsyncError:
            return  # the duplicates stay failures: retried next time
        for i in dupes:
            found = existing.get(creates[i].sync_key)
            if found:
                results[i] = WriteResult(creates[i].sync_key, True, found)

    def update_events(self, updates: Sequence[SfUpdate]) -> list[WriteResult]:
        """Update the named fields; an update of a series occurrence (no id) is resolved to the
        occurrence's Event first (R-17). `ref` is the sync key; `id` the Event updated."""
        ids = self._resolve_occurrences(
            [(u.sf_event_id, u.occurrence_of, u.occurrence_start) for u in updates]
        )
        results: dict[int, WriteResult] = {}
        todo = []
        for i, (u, event_id) in enumerate(zip(updates, ids, strict=True)):
            if isinstance(event_id, CalsyncError):
                results[i] = _failed(u.sync_key, event_id)
            elif event_id and not valid_id(event_id):
                results[i] = _malformed(u.sync_key, "Id", event_id)
            elif event_id:
                todo.append(i)
            else:
                results[i] = WriteResult(u.sync_key, False, "", "NOT_FOUND",
                                         "occurrence of the series not found")  # fmt: skip
        try:
            keyed = self.has_key_field() if todo else True
        except SalesforceAuthError:
            raise
        except CalsyncError as exc:
            for i in todo:
                results[i] = _failed(updates[i].sync_key, exc)
            todo = []
            keyed = True
        for chunk in _chunks(todo):
            records = []
            for i in chunk:
                values = _without_invitees(event_values(updates[i].fields, updates[i].send))
                values.pop(KEY_FIELD, None)
                if "Description" in values and not keyed:
                    values["Description"] = with_marker(
                        str(values["Description"]), updates[i].sync_key
                    )
                records.append({"attributes": {"type": "Event"}, "id": ids[i], **values})
            answer = self._collection("PATCH", "composite/sobjects",
                                      [updates[i].sync_key for i in chunk], records)  # fmt: skip
            results.update(zip(chunk, answer, strict=True))
        self._invite(results, [u.fields for u in updates], [u.send for u in updates])
        return [results[i] for i in range(len(updates))]

    def delete_events(self, deletes: Sequence[SfDelete]) -> list[WriteResult]:
        """Delete Events, 200 ids a call; a whole series (R-17) with `fromThisEventOnwards` on
        its first live occurrence; an already deleted Event counts as success."""
        ids = self._resolve_occurrences(
            [(d.sf_event_id, d.occurrence_of, d.occurrence_start) for d in deletes]
        )
        by_key = [d for d in deletes if d.by_key]
        try:
            found = self._find_intents(by_key) if by_key else {}
        except SalesforceAuthError:
            raise
        except CalsyncError as exc:
            found = {d.sync_key: exc for d in by_key}
        for i, d in enumerate(deletes):
            if d.by_key:
                ids[i] = found.get(d.sync_key, "")
        results: dict[int, WriteResult] = {}
        by_id: dict[str, list[int]] = defaultdict(list)
        for i, (d, event_id) in enumerate(zip(deletes, ids, strict=True)):
            if isinstance(event_id, CalsyncError):
                results[i] = _failed(d.sync_key, event_id)
            elif event_id and not valid_id(event_id):
                results[i] = _malformed(d.sync_key, "Id", event_id)
            elif d.series and event_id:
                results[i] = self._delete_series(d.sync_key, event_id)
            elif event_id:
                by_id[event_id].append(i)
            else:  # an occurrence that no longer exists: already gone
                results[i] = WriteResult(d.sync_key, True, "")
        unique = list(by_id)
        for chunk in _chunks(unique):
            refs = [deletes[by_id[e][0]].sync_key for e in chunk]
            answer = self._collection("DELETE", "composite/sobjects", refs, ids=list(chunk))
            for event_id, result in zip(chunk, answer, strict=True):
                if not result.ok and result.error_code in GONE:
                    result = WriteResult(result.ref, True, event_id)
                for i in by_id[event_id]:
                    results[i] = WriteResult(deletes[i].sync_key, result.ok, result.id or event_id,
                                             result.error_code, result.message, result.retryable)  # fmt: skip
        return [results[i] for i in range(len(deletes))]

    def _delete_series(self, ref: str, first_id: str) -> WriteResult:
        """R-17: DELETE sobjects/Event/{id}/fromThisEventOnwards; when the first occurrence was
        deleted on its own already, from the series' first remaining occurrence."""
        target = first_id
        for _ in range(2):
            path = f"sobjects/Event/{target}/fromThisEventOnwards"
            try:
                self._call(lambda sf, path=path: sf.restful(path, method="DELETE"))
                return WriteResult(ref, True, first_id)
            except (SalesforceError, requests.RequestException) as exc:
                failure = _failure_of(exc)
            if failure.code not in GONE or target != first_id:
                return WriteResult(ref, failure.code in GONE, first_id, "" if failure.code in
                                   GONE else failure.code, failure.message, failure.retryable)  # fmt: skip
            try:
                remaining = self._occurrences(first_id)
            except SalesforceAuthError:
                raise
            except CalsyncError as exc:
                return _failed(ref, exc)
            if not remaining:
                return WriteResult(ref, True, first_id)
            target = min(remaining.items(), key=lambda kv: kv[0])[1]
        return WriteResult(ref, True, first_id)  # pragma: no cover

    # -- series occurrences (R-17) -----------------------------------------------------------

    def _resolve_occurrences(
        self, targets: Sequence[tuple[str, str, datetime | None]]
    ) -> list[str | CalsyncError]:
        """Event ids of (id, series id, occurrence start) targets: the id when given, else the
        series' occurrence starting at that time ("" when there is none, the error when the
        lookup failed). One query per series."""
        found: dict[str, dict[datetime, str] | CalsyncError] = {}
        for event_id, series, start in targets:
            if not event_id and series and start is not None and series not in found:
                try:
                    found[series] = self._occurrences(series)
                except SalesforceAuthError:
                    raise
                except CalsyncError as exc:
                    found[series] = exc
        out: list[str | CalsyncError] = []
        for event_id, series, start in targets:
            if event_id:
                out.append(event_id)
            elif series and start is not None:
                known = found[series]
                moment = start.astimezone(UTC).replace(microsecond=0)
                out.append(known if isinstance(known, CalsyncError) else known.get(moment, ""))
            else:
                out.append("")
        return out

    def _occurrences(self, first_id: str) -> dict[datetime, str]:
        """Live occurrences of the series whose first occurrence is `first_id`: start → id.

        Salesforce series have no series id (API-FACTS B1): the occurrences are the owner's
        Recurrence2 Events with the same pattern start date (the first may itself be deleted:
        queryAll reads it from the Recycle Bin).
        """
        head = self._query(
            "SELECT Id, OwnerId, Recurrence2PatternStartDate, CreatedDate FROM Event "
            f"WHERE Id = {soql_value(first_id)}",
            include_deleted=True,
        )
        if not head or not head[0].get("Recurrence2PatternStartDate"):
            return {}
        pattern_start = parse_datetime(head[0]["Recurrence2PatternStartDate"])
        assert pattern_start is not None
        rows = self._query(
            "SELECT Id, StartDateTime, CreatedDate FROM Event WHERE IsRecurrence2 = true "
            f"AND IsChild = false AND OwnerId = {soql_value(head[0]['OwnerId'])} "
            f"AND Recurrence2PatternStartDate = {utc_literal(pattern_start)} "
            "ORDER BY CreatedDate DESC, Id DESC"
        )
        # Two series of one owner may share a pattern start (a replaced rule, R-17, while the old
        # one is still being deleted): the one created with `first_id` wins.
        created = head[0].get("CreatedDate")
        rows.sort(key=lambda r: r.get("CreatedDate") == created)
        out: dict[datetime, str] = {}
        for row in rows:
            start = parse_datetime(row.get("StartDateTime"))
            if start is not None:
                out[start] = row["Id"]
        return out

    # -- finding what an earlier attempt created ------------------------------------------

    def _find_intents(self, deletes: Sequence[SfDelete]) -> dict[str, str | CalsyncError]:
        """sync key → id of the Event an intent's create made, for deletes by key (audit M3)."""
        if self.has_key_field():
            return dict(self._find_by_key([d.sync_key for d in deletes]))
        wanted = [(d.sync_key, d.owner_id, (d.intent_start, *d.tried_starts)) for d in deletes]
        return dict(self._marker_lookup(wanted))

    def _find_by_key(self, keys: Sequence[str]) -> dict[str, str]:
        """sync key → Event id, by Calsync_Key__c (R-39)."""
        wanted = {k.lower(): k for k in keys if k}
        if not wanted:
            return {}
        rows = self._query_in(f"SELECT Id, {KEY_FIELD} FROM Event WHERE IsChild = false AND "
                              f"{KEY_FIELD} IN {{values}}", sorted(wanted))  # fmt: skip
        return {
            wanted[k]: r["Id"] for r in rows if (k := (r.get(KEY_FIELD) or "").lower()) in wanted
        }

    def _find_by_marker(self, creates: Sequence[SfCreate]) -> dict[str, str]:
        """Without Calsync_Key__c: the Events earlier attempts of these creates made, at the
        start the intent recorded, at a start an earlier retry moved it to (its answer lost),
        or at this create's start."""
        wanted = [(c.sync_key, c.fields.owner_id,
                   (c.intent_start, *c.tried_starts, c.fields.start_utc)) for c in creates]  # fmt: skip
        return self._marker_lookup(wanted)

    def _marker_lookup(self, wanted: Sequence[tuple[str, str, Any]]) -> dict[str, str]:
        """(sync key, owner, start or starts) → the Event of that owner, starting at one of the
        starts the intent recorded, created by calsync (its integration user, when known), whose
        Description carries the sync key's marker. Never by subject or by the item as it is now
        (audit H1b, M8): an Event a person made is never found."""
        by_owner: dict[str, dict[str, set[datetime]]] = defaultdict(lambda: defaultdict(set))
        for key, owner, start in wanted:
            starts = start if isinstance(start, tuple) else (start,)
            moments = {m for m in map(_instant, starts) if m is not None}
            if key and valid_id(owner) and moments:
                by_owner[owner][key] |= moments
        out: dict[str, str] = {}
        created_by = (
            f" AND CreatedById = {soql_value(self.integration_user_id)}"
            if self.integration_user_id
            else ""
        )
        for owner, keys in sorted(by_owner.items()):
            starts = sorted(set().union(*keys.values()))
            template = ("SELECT Id, Description FROM Event WHERE IsChild = false AND "
                        f"OwnerId = {soql_value(owner)}{created_by} AND StartDateTime IN "
                        "{values} ORDER BY CreatedDate ASC, Id ASC")  # fmt: skip
            rows = self._query_in(template, starts)
            for row in rows:
                key = marker_of(row.get("Description"))
                if key in keys:
                    out.setdefault(key, row["Id"])
        return out

    def event_states(self, event_ids: Sequence[str]) -> list[SfEventState]:
        """These Events as they are now, deleted ones included (queryAll), one query per
        URL-sized chunk of ids; an id no longer readable at all (purged) comes back deleted."""
        ids = sorted({i for i in event_ids if valid_id(i)})
        if not ids:
            return []
        return self._states_of(self._query_in(self._states_template(), ids, include_deleted=True),
                               ids)  # fmt: skip

    def _states_template(self) -> str:
        names = EVENT_FIELDS + ("IsDeleted", "IsChild", "CreatedById",
                                "Recurrence2PatternStartDate")  # fmt: skip
        names += (KEY_FIELD,) if self.has_key_field() else ()
        return f"SELECT {', '.join(names)} FROM Event WHERE Id IN {{values}}"

    def _states_of(self, rows: Iterable[dict[str, Any]], ids: Sequence[str]) -> list[SfEventState]:
        found = {r["Id"]: _state(r, self.integration_user_id) for r in rows}
        return [found.get(i) or SfEventState(i, "", deleted=True) for i in ids]

    def event_summaries(self, event_ids: Sequence[str]) -> dict[str, tuple[str, datetime | None]]:
        """Subject and start of these Events, deleted ones included (R-37: what an admin is
        shown before held deletes go ahead)."""
        ids = sorted({i for i in event_ids if valid_id(i)})
        if not ids:
            return {}
        rows = self._query_in("SELECT Id, Subject, StartDateTime FROM Event WHERE Id IN {values}",
                              ids, include_deleted=True)  # fmt: skip
        return {r["Id"]: (r.get("Subject") or "", parse_datetime(r.get("StartDateTime")))
                for r in rows}  # fmt: skip

    # -- down-sync reads (R-22, R-23) --------------------------------------------------------

    def changed_events(self, owner_ids: Sequence[str], since: datetime,
                       until: datetime) -> tuple[list[SfEventState], datetime]:  # fmt: skip
        """Events of these owners changed or deleted in [since, until), and the next watermark
        (`latestDateCovered`). getUpdated/getDeleted ignore seconds, so a window inside one
        minute asks nothing and keeps `since`. Deleted Events whose owner can no longer be read
        (purged from the Recycle Bin) are returned with an empty owner."""
        if since.utcoffset() is None or until.utcoffset() is None:
            raise ValueError("changed_events needs timezone-aware datetimes")
        lo = since.astimezone(UTC).replace(second=0, microsecond=0)
        hi = until.astimezone(UTC).replace(second=0, microsecond=0)
        owners = sorted(set(owner_ids))
        if hi <= lo or not owners:
            return [], since
        try:
            updated = self._call(lambda sf: sf.Event.updated(lo, hi))
            deleted = self._call(lambda sf: sf.Event.deleted(lo, hi))
        except (SalesforceError, requests.RequestException) as exc:
            raise _typed(exc) from exc
        marks = [parse_datetime(a.get("latestDateCovered")) for a in (updated, deleted)]
        watermark = min((m for m in marks if m is not None), default=hi)
        states = self._live_states(updated.get("ids") or [], owners)
        gone = [r["id"] for r in deleted.get("deletedRecords") or []]
        states += self._deleted_states(gone, owners)
        return states, watermark

    def _owner_clause(self, owners: Sequence[str]) -> str:
        return "OwnerId IN (" + ",".join(soql_value(o) for o in owners) + ")"

    def _live_states(self, ids: Sequence[str], owners: Sequence[str]) -> list[SfEventState]:
        if not ids:
            return []
        names = EVENT_FIELDS + ((KEY_FIELD,) if self.has_key_field() else ())
        template = (f"SELECT {', '.join(names)} FROM Event WHERE IsChild = false AND "
                    f"{self._owner_clause(owners)} AND Id IN {{values}}")  # fmt: skip
        return [_state(row) for row in self._query_in(template, ids)]

    def _deleted_states(self, ids: Sequence[str], owners: Sequence[str]) -> list[SfEventState]:
        if not ids:
            return []
        key = f", {KEY_FIELD}" if self.has_key_field() else ""
        rows = self._query_in(f"SELECT Id, OwnerId, IsChild{key} FROM Event WHERE IsDeleted = true "
                              "AND Id IN {values}", ids, include_deleted=True)  # fmt: skip
        readable = {r["Id"]: r for r in rows}
        wanted = set(owners)
        out = []
        for event_id in dict.fromkeys(ids):
            row = readable.get(event_id)
            if row is None:
                out.append(SfEventState(event_id, "", deleted=True))
            elif row.get("OwnerId") in wanted and not row.get("IsChild"):
                out.append(SfEventState(event_id, row["OwnerId"], deleted=True,
                                        sync_key=row.get(KEY_FIELD) or ""))  # fmt: skip
        return out


# -- the initial search's queries and cache ----------------------------------------------------


def _people_template(kind: PersonKind) -> str:
    extra = {
        PersonKind.USER: ("", "IsActive = true AND "),
        PersonKind.CONTACT: (", AccountId", ""),
        PersonKind.LEAD: ("", "IsConverted = false AND "),
    }[kind]
    return (f"SELECT Id, Email, Name{extra[0]} FROM {kind.value} "
            f"WHERE {extra[1]}Email IN {{values}} ORDER BY CreatedDate DESC, Id DESC")  # fmt: skip


def _people_of(kind: PersonKind, rows: Iterable[dict[str, Any]]) -> list[ResolvedPerson]:
    out: dict[str, ResolvedPerson] = {}
    for row in rows:  # newest first, so the oldest stays
        email = _norm_email(row.get("Email") or "")
        out[email] = ResolvedPerson(email, kind, row["Id"], row.get("AccountId") or "",
                                    row.get("Name") or "")  # fmt: skip
    return list(out.values())


class PeopleCache:
    """People found by the initial search, kept PEOPLE_TTL seconds by address. Only people
    found: an address nobody matched is searched again next time, so a Contact created for it
    links at once (R-07)."""

    def __init__(self, ttl: float = PEOPLE_TTL, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, ResolvedPerson]] = {}
        self._lock = threading.Lock()

    def get(self, emails: Iterable[str]) -> dict[str, ResolvedPerson]:
        now = self._clock()
        with self._lock:
            hits = {e: hit[1] for e in emails if (hit := self._entries.get(e)) and hit[0] > now}
        return hits

    def put(self, people: Iterable[ResolvedPerson]) -> None:
        until = self._clock() + self._ttl
        with self._lock:
            for person in people:
                self._entries[person.email] = (until, person)
            if len(self._entries) > 50_000:  # a bound for very large orgs: drop what expired
                now = self._clock()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}

    def forget(self, ids: Iterable[str]) -> None:
        """Drop people whose record Salesforce refused (deleted, merged, converted)."""
        gone = set(ids)
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if v[1].sf_id not in gone}


# -- records and results ----------------------------------------------------------------------


def _failed(ref: str, exc: CalsyncError) -> WriteResult:
    code = getattr(exc, "sf_code", "") or type(exc).__name__
    return WriteResult(ref, False, "", code, exc.message, exc.retryable)


def _result(ref: str, item: dict[str, Any]) -> WriteResult:
    if item.get("success"):
        return WriteResult(ref, True, item.get("id") or "")
    errors = item.get("errors") or [{}]
    code = str(errors[0].get("statusCode", "")) or "UNKNOWN_ERROR"
    message = "; ".join(str(e.get("message", "")) for e in errors)
    retryable = classify_salesforce(200, code, message).retryable
    return WriteResult(ref, False, item.get("id") or "", code, message, retryable)


def _event_record(create: SfCreate, keyed: bool) -> dict[str, Any]:
    """The Event of an SfCreate; relations (WhoId, WhatId, EventWhoIds) go in the record itself,
    which Salesforce turns into EventRelation rows (invitees are added after: _invite). Without
    the key field, the Description carries calsync's marker (R-39)."""
    values = _without_invitees(event_values(create.fields))
    if keyed:
        values[KEY_FIELD] = create.sync_key
    else:
        values.pop(KEY_FIELD, None)
        values["Description"] = with_marker(create.fields.description, create.sync_key)
    return {"attributes": {"type": "Event"}, **values}


def _malformed(ref: str, name: str, value: str) -> WriteResult:
    """An id that is not a Salesforce id is refused here, as Salesforce would (audit L2)."""
    return WriteResult(
        ref, False, "", "MALFORMED_ID", f"{name}: not a Salesforce id: {value[:40]!r}"
    )


def _instant(text: str | datetime | None) -> datetime | None:
    """A mapping's start text (instance_text: yyyyMMddTHHmmssZ or yyyyMMdd) as a UTC instant."""
    if isinstance(text, datetime):
        return text
    for fmt in ("%Y%m%dT%H%M%SZ", "%Y%m%d"):
        try:
            return datetime.strptime(text or "", fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _without_invitees(values: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in values.items() if k not in INVITEE_STATUS}


def _invitee_lists(f: SfEventFields) -> list[tuple[str, tuple[str, ...]]]:
    r = f.relations
    return [("AcceptedEventInviteeIds", r.accepted), ("DeclinedEventInviteeIds", r.declined),
            ("UndecidedEventInviteeIds", r.undecided)]  # fmt: skip


def _invitee_row(event_id: str, user_id: str, field: str) -> dict[str, Any]:
    return {"attributes": {"type": "EventRelation"}, "EventId": event_id, "RelationId": user_id,
            "IsInvitee": True, "Status": INVITEE_STATUS[field]}  # fmt: skip


def _person_record(person: NewPerson) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": person.kind.value},
                              "LastName": person.last_name, "Email": person.email}  # fmt: skip
    if person.first_name:
        record["FirstName"] = person.first_name
    if person.kind is PersonKind.CONTACT and person.account_id:
        record["AccountId"] = person.account_id
    if person.kind is PersonKind.LEAD:
        record["Company"] = person.company or person.email.rpartition("@")[2]
    return record


def _state(row: dict[str, Any], integration_user: str = "") -> SfEventState:
    minutes = row.get("DurationInMinutes")
    description = row.get("Description") or ""
    pattern_start = row.get("Recurrence2PatternStartDate") or ""
    return SfEventState(
        sf_event_id=row["Id"],
        owner_sf_id=row.get("OwnerId") or "",
        subject=row.get("Subject") or "",
        start_utc=parse_datetime(row.get("StartDateTime")),
        end_utc=parse_datetime(row.get("EndDateTime")),
        is_all_day=bool(row.get("IsAllDayEvent")),
        activity_date=parse_date(row.get("ActivityDate")),
        duration_minutes=int(minutes) if minutes is not None else None,
        location=row.get("Location") or "",
        is_private=bool(row.get("IsPrivate")),
        show_as=row.get("ShowAs") or "Busy",
        description=strip_marker(description),
        last_modified=parse_datetime(row.get("LastModifiedDate")),
        sync_key=row.get(KEY_FIELD) or "",
        is_recurrence2=bool(row.get("IsRecurrence2")),
        deleted=bool(row.get("IsDeleted")),
        is_child=bool(row.get("IsChild")),
        # Salesforce series have no id: an occurrence belongs to the series of its owner that
        # starts at its pattern start date (R-24 reports a series once).
        series=f"{row.get('OwnerId') or ''}/{pattern_start}" if row.get("IsRecurrence2") else "",
        marker_key=marker_of(description),
        made_by_calsync=bool(integration_user) and row.get("CreatedById") == integration_user,
    )


def format_like(domain: str, suffix: bool = False) -> str:
    """A LIKE pattern for a domain, escaped for LIKE (R-35): `%domain%`, or `%@domain`."""
    return format_soql("'%@{:like}'" if suffix else "'%{:like}%'", domain)


def website_host(website: str) -> str:
    """`https://www.Acme.example/about` → `acme.example`."""
    host = website.strip().lower().split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return host[4:] if host.startswith("www.") else host


# The poller parses its rows as the session does (infra/sf_changes.py).
event_state = _state
