"""The org's Salesforce API budget (infra/budget.py): read from every Salesforce answer's
Sforce-Limit-Info, stored in Firestore, shown by `python main.py status`, and the gate that
pauses bulk work before it takes more than `api_budget_share` of what remains."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from functions.cli import run
from infra.budget import BUDGET_DOC, BudgetRecorder, bulk_may_proceed, read_budget
from infra.firestore_store import FirestoreSettingsStore
from infra.salesforce import SalesforceAdapter

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_every_salesforce_answer_feeds_the_budget_stored_once_a_minute(salesforce_org,
                                                                      firestore_client):  # fmt: skip
    salesforce_org.admin("POST", "limits", json={"max": 15_000, "used": 1_000})
    clock = Clock()
    recorder = BudgetRecorder(firestore_client, clock=clock)
    adapter = SalesforceAdapter.from_client(salesforce_org.client())
    adapter.limit_listener = recorder.observe
    adapter.search_people(["jane@acme.example"])  # one call: used 1,001 when it answered
    stored = read_budget(firestore_client)
    assert stored is not None and (stored.remaining, stored.max) == (13_999, 15_000)
    adapter.user_ids(["ann@example.com"])
    assert read_budget(firestore_client).remaining == 13_999  # a minute has not passed
    assert recorder.latest is not None and recorder.latest.remaining == 13_998
    clock.now += 61
    adapter.user_ids(["bob@example.com"])
    assert read_budget(firestore_client).remaining == 13_997


def test_no_document_means_the_budget_is_unknown(firestore_client):
    assert read_budget(firestore_client) is None
    assert bulk_may_proceed(firestore_client, 10_000, 0.5, datetime.now(UTC)).allowed


def test_bulk_work_pauses_before_it_takes_more_than_its_share(salesforce_org, firestore_client):
    """Share 0.5 of 10,000 calls left: bulk steps go on until 5,000 remain; the reference is
    stored, so every instance and job counts against the same one."""
    salesforce_org.admin("POST", "limits", json={"max": 100_000, "used": 90_000})
    recorder = BudgetRecorder(firestore_client)
    adapter = SalesforceAdapter.from_client(salesforce_org.client())
    adapter.limit_listener = recorder.observe
    adapter.user_ids(["ann@example.com"])
    now = datetime.now(UTC)
    assert bulk_may_proceed(firestore_client, 4_000, 0.5, now).allowed
    stored = read_budget(firestore_client)
    assert stored is not None and stored.reference == 9_999
    ref = firestore_client.collection(BUDGET_DOC[0]).document(BUDGET_DOC[1])
    ref.set({"remaining": 5_500}, merge=True)  # bulk work spent 4,499 calls
    paused = bulk_may_proceed(firestore_client, 1_000, 0.5, now)
    assert not paused.allowed and "kept for saves" in paused.reason
    assert bulk_may_proceed(firestore_client, 1_000, 0.9, now).allowed  # a larger share


def test_status_command_shows_users_and_the_budget(firestore_client):
    store = FirestoreSettingsStore(firestore_client)
    store.enable_user("ann@example.com")
    store.enable_user("bob@example.com")
    store.disable_user("bob@example.com")

    def status(*flags: str) -> str:
        out = io.StringIO()
        code = run(["status", *flags], lambda: store, out=out,
                   budget_factory=lambda: read_budget(firestore_client))  # fmt: skip
        assert code == 0
        return out.getvalue()

    assert "users: 1 enabled of 2" in status()
    assert "not known yet" in status()
    BudgetRecorder(firestore_client).observe("api-usage=25000/100000")
    assert "75,000 of 100,000 daily calls left (25.0% used)" in status()
    view = json.loads(status("--json"))
    assert view["salesforce_api"]["remaining"] == 75_000 and view["enabled_users"] == 1


def test_R38_the_backfill_slows_then_stops_at_its_share(firestore_client):
    """The backfill asks the same gate before each batch (core.ports.ApiBudget): going on,
    then slowing down within the last fifth of its share, then stopped with what to do."""
    from core.ports import BudgetCheck
    from infra.budget import BulkBudget

    ref = firestore_client.collection(BUDGET_DOC[0]).document(BUDGET_DOC[1])
    ref.set({"remaining": 10_000, "max": 15_000, "read_at": datetime.now(UTC)})
    budget = BulkBudget(firestore_client, share=lambda: 0.5, planned_calls=10)
    assert budget.check() == BudgetCheck(True)  # reference 10,000: bulk may take 5,000
    ref.set({"remaining": 6_000}, merge=True)
    slow = budget.check()
    assert slow.ok and slow.pause_seconds > 0
    ref.set({"remaining": 5_005}, merge=True)
    stop = budget.check()
    assert not stop.ok and "5000 kept for saves" in stop.message and "again later" in stop.message
    ref.delete()
    assert budget.check() == BudgetCheck(True)  # no document: unknown, no limit
