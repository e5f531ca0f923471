"""Builds the adapters from the configuration, once per process (Cloud Functions reuse warm instances)."""

from __future__ import annotations

import threading
from functools import cache, lru_cache

from infra.config import Config
from infra.firestore_store import FirestoreSettingsStore, client_for


@cache
def config() -> Config:
    return Config.from_env()


@cache
def verifier():  # -> infra.identity.Verifier; its certificates cache lives as long as the instance
    from infra.identity import Verifier

    return Verifier(config().google_certs_url)


@cache
def settings_store() -> FirestoreSettingsStore:
    return FirestoreSettingsStore(client_for(config()))


def services():  # -> infra.session.Services (imported late: the CLI's light commands skip it)
    """The ports of a sync session on the real services (or the local stack's emulators)."""
    from infra.history import FirestoreHistory
    from infra.lease import FirestoreLease
    from infra.session import Services
    from infra.sync_store import FirestoreIssueStore, FirestoreMappingStore

    cfg = config()
    db = client_for(cfg)
    return Services(
        settings=settings_store(),
        mappings=FirestoreMappingStore(db),
        issues=FirestoreIssueStore(db),
        lease=FirestoreLease(db),
        calendar_for=_calendar_for,
        salesforce=_salesforce,
        history=FirestoreHistory(db).record,
    )


_SALESFORCE_LOCK = threading.Lock()


@cache
def _salesforce():  # one per warm instance: its login, describe of Event and people cache reused
    # `cache` lets concurrent first callers each build one (sessions run on threads); the lock
    # makes it exactly one, so its people cache is the instance's, not a thread's.
    with _SALESFORCE_LOCK:
        return _one_salesforce()


@cache
def _one_salesforce():
    from infra.salesforce import SalesforceAdapter

    adapter = SalesforceAdapter.from_config(config())
    adapter.limit_listener = budget_recorder().observe  # the org's API budget (infra/budget.py)
    return adapter


def budget():  # -> core.budget.Budget | None: the org's Salesforce API budget, as last stored
    from infra.budget import read_budget

    return read_budget(client_for(config()))


@cache
def budget_recorder():  # -> infra.budget.BudgetRecorder
    from infra.budget import BudgetRecorder

    return BudgetRecorder(client_for(config()))


@lru_cache(maxsize=512)
def _calendar_for(email: str):  # one client per user and warm instance: its token is reused
    from infra.google_calendar import GoogleCalendar

    return GoogleCalendar(config(), email)


@cache
def session_queue():  # -> infra.tasks.CloudTasksSessionQueue
    from infra.coalesce import FirestoreCoalescer
    from infra.tasks import CloudTasksSessionQueue
    from infra.tasks import client_for as tasks_client_for

    cfg = config()
    return CloudTasksSessionQueue(cfg, tasks_client_for(cfg), FirestoreCoalescer(client_for(cfg)))
