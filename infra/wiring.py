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


@lru_cache(maxsize=4)
def choice_signer(cfg: Config | None = None):  # -> infra.choices.ChoiceSigner | None
    """The key that signs the sidebar's choices and the dashboard's sessions, read once per
    process; None when it is not configured (then no sidebar choice is trusted)."""
    from infra.choices import ChoiceSigner
    from infra.credentials import read_secret

    name = (cfg or config()).signing_key_secret
    return ChoiceSigner.from_text(read_secret(name)) if name else None


@cache
def settings_store() -> FirestoreSettingsStore:
    return FirestoreSettingsStore(client_for(config()))


@cache
def history():  # -> infra.history.FirestoreHistory (R-26: what `history` prints)
    from infra.history import FirestoreHistory

    return FirestoreHistory(client_for(config()))


ORG_SETTINGS_TTL = 60.0  # seconds a warm instance reuses the org settings for a sweep's look


def services():  # -> infra.session.Services (imported late: the CLI's light commands skip it)
    """The ports of a sync session on the real services (or the local stack's emulators)."""
    from infra.history import FirestoreHistory
    from infra.lease import FirestoreLease
    from infra.session import Services
    from infra.sf_ledger import FirestoreLedger, recorder
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
        drive_for=drive_for,
        files=salesforce_files,
        bulk_gate=bulk_budget().allows,
        org_settings_ttl=ORG_SETTINGS_TTL,
        sf_writes=recorder(FirestoreLedger(db)),
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
def bulk_budget():  # -> infra.budget.BulkBudget: the gate of initial syncs and backfills
    from core.settings import resolve
    from infra.budget import BulkBudget

    def refresh() -> None:  # one call; its answer's Sforce-Limit-Info is stored at once
        _salesforce().read_limits()
        budget_recorder().flush()

    share = lambda: resolve(settings_store().org_settings())[0].api_budget_share  # noqa: E731
    return BulkBudget(client_for(config()), share, refresh=refresh)


@cache
def budget_recorder():  # -> infra.budget.BudgetRecorder
    from infra.budget import BudgetRecorder

    return BudgetRecorder(client_for(config()))


def _calendar_for(email: str):  # -> infra.google_calendar.GoogleCalendar
    """One client per user, thread and warm instance: its token is reused, and no two threads
    share one (httplib2 is not thread-safe; the sweep looks at users while sessions run)."""
    return _calendar_of(email, threading.get_ident())


@lru_cache(maxsize=4096)
def _calendar_of(email: str, thread: int):  # noqa: ARG001 - the thread is part of the key
    from infra.google_calendar import GoogleCalendar

    return GoogleCalendar(config(), email)


@cache
def session_queue():  # -> infra.tasks.CloudTasksSessionQueue
    from infra.coalesce import FirestoreCoalescer
    from infra.tasks import CloudTasksSessionQueue
    from infra.tasks import client_for as tasks_client_for

    cfg = config()
    return CloudTasksSessionQueue(cfg, tasks_client_for(cfg), FirestoreCoalescer(client_for(cfg)))


def sidebar_services():  # -> infra.sidebar.SidebarServices
    """What the add-on's cards and actions run on (R-33)."""
    from infra.sidebar import SidebarServices
    from infra.sync_store import FirestoreIssueStore, FirestoreMappingStore

    cfg = config()
    db = client_for(cfg)
    return SidebarServices(
        store=settings_store(),
        mappings=FirestoreMappingStore(db),
        issues=FirestoreIssueStore(db),
        calendar_for=_calendar_for,
        salesforce=_salesforce,
        queue=session_queue,
        signer=choice_signer(cfg),
        functions_url=cfg.functions_url,
        sf_instance_url=cfg.sf_instance_url,
    )


def dashboard_services():  # -> infra.dashboard_page.DashboardServices
    """What the admin dashboard reads and acts on (R-32)."""
    from infra.admin_auth import AdminAuth
    from infra.dashboard_page import DashboardServices

    cfg = config()
    signer = choice_signer(cfg)
    auth = AdminAuth(signer, verifier(), cfg.dashboard_client_id) if signer else None
    return DashboardServices(
        store=settings_store(),
        db=client_for(cfg),
        auth=auth,
        queue=session_queue,
        calendar_for=_calendar_for,
        functions_url=cfg.functions_url,
        identity_url=cfg.identity_url,
        client_id=cfg.dashboard_client_id,
    )


# --- R-21..R-26: Salesforce changes (the poller, the Flow's callout) ----------------------


def poller():  # -> infra.sf_poll.Poller
    """The org's poller of Salesforce changes, on the process's adapters."""
    from infra.public_calendars import FirestoreCopyStore, PublicCopies
    from infra.sf_ledger import FirestoreLedger
    from infra.sf_poll import FirestorePollStore, Poller
    from infra.sync_store import FirestoreIssueStore, FirestoreMappingStore

    cfg = config()
    db = client_for(cfg)
    issues = FirestoreIssueStore(db)
    copies = PublicCopies(FirestoreCopyStore(db), _copy_calendar_for, _salesforce, issues)
    return Poller(FirestorePollStore(db), settings_store(), FirestoreMappingStore(db), issues,
                  session_queue(), _salesforce, cfg.sf_username, copies,
                  FirestoreLedger(db))  # fmt: skip


@lru_cache(maxsize=64)
def _copy_calendar_for(email: str):  # one writer per entry and warm instance
    from infra.public_calendars import CopyCalendar

    return CopyCalendar(config(), email)


@cache
def flow_verifier():  # -> infra.flow_callout.FlowVerifier | None (None: not configured)
    """The check of the Flow's calls: the org's certificate, read once per process."""
    from infra.credentials import read_secret
    from infra.flow_callout import FlowVerifier, public_keys

    cfg = config()
    if not cfg.sf_flow_cert_secret or not cfg.sf_org_id:
        return None
    keys = public_keys(read_secret(cfg.sf_flow_cert_secret))
    return FlowVerifier(keys, cfg.sf_org_id, f"{cfg.functions_url}/salesforce_webhook")


def callouts():  # -> infra.flow_callout.Callouts
    from infra.flow_callout import Callouts
    from infra.sf_poll import FirestorePollStore
    from infra.sync_store import FirestoreMappingStore

    db = client_for(config())
    poll = FirestorePollStore(db)
    return Callouts(settings_store(), FirestoreMappingStore(db), session_queue(),
                    lambda: poll.read().integration_user)  # fmt: skip


# --- attachments (built only while `save_attachments` is on) -----------------------


def drive_for(email: str):  # -> infra.drive.GoogleDrive; asks for drive.readonly as `email`
    """One user's Drive reader: only ever built for an org with `save_attachments` on, so the
    Drive scope is never requested otherwise (docs/deploy.md, step 4)."""
    from infra.drive import GoogleDrive

    return GoogleDrive(config(), email)


@cache
def salesforce_files():  # -> infra.salesforce_files.SalesforceFiles (the adapter's login)
    from infra.salesforce_files import SalesforceFiles

    return SalesforceFiles(_salesforce())


# --- backfill ----------------------------------------------------------------------


def batch_runner():  # -> core.ports.BatchRunner
    """The session's per-batch work: the autosave rules without the window (R-38)."""
    from infra.backfill_runner import SessionBatchRunner

    return SessionBatchRunner(services())


@cache
def backfill_store():
    from infra.backfill_store import FirestoreBackfillStore

    return FirestoreBackfillStore(client_for(config()))


class _LazyRunner:
    """The batch runner built on its first batch: `backfill status` never builds the session."""

    def __init__(self) -> None:
        self._runner = None

    def run(self, email, items, dry_run, bounds):  # noqa: ANN001 - core.ports.BatchRunner
        if self._runner is None:
            self._runner = batch_runner()
        return self._runner.run(email, items, dry_run, bounds)


def backfill(needs_runner: bool = True):  # -> infra.backfill.Backfill
    """The backfill engine; `needs_runner` False for what only reads or writes checkpoints
    (`backfill status`): its batch runner is then built only if a batch runs."""
    from infra.backfill import Backfill

    runner = batch_runner() if needs_runner else _LazyRunner()
    return Backfill(
        store=backfill_store(),
        pages_for=_calendar_for,
        runner=runner,
        budget=bulk_budget(),
    )


@cache
def backfill_queue():
    from infra.backfill_queue import CloudTasksBackfillQueue
    from infra.tasks import client_for as tasks_client_for

    cfg = config()
    return CloudTasksBackfillQueue(cfg, tasks_client_for(cfg))
