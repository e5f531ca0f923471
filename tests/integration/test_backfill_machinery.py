"""R-38's machinery on the real services' stand-ins: the Calendar adapter read in pages over a
range (no sync token), checkpoints and holds on the Firestore emulator, a run that crashes and
resumes through them, and slices queued on the Cloud Tasks emulator. The batch runner is the
fake of tests/fakes.py (the session provides the real one)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from google.api_core import exceptions as gexc

from core.backfill import Status, new_checkpoint, start_of
from infra.backfill import Backfill, BackfillBusy
from infra.backfill_queue import CloudTasksBackfillQueue, slice_task_id
from infra.backfill_store import FirestoreBackfillStore
from infra.config import Config
from infra.google_calendar import Backoff, GoogleCalendar
from infra.tasks import SECRET_HEADER
from tests.fakes import FakeBatchRunner, FixedBudget
from tests.fixtures.tasks import QUEUE

pytestmark = pytest.mark.integration

ALICE = "alice@example.com"
SINCE, UNTIL = date(2025, 1, 1), date(2025, 7, 1)


def event(day: date, summary: str, **extra) -> dict:
    start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=10)
    return {"summary": summary, "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": "UTC"},
            **extra}  # fmt: skip


@pytest.fixture
def calendar(gcal):
    events = gcal.service(ALICE).events()
    for n in range(12):  # 12 in range, 2 outside
        events.insert(
            calendarId="primary", body=event(SINCE + timedelta(days=7 * n), f"m{n}")
        ).execute()
    events.insert(calendarId="primary", body=event(date(2024, 12, 1), "before")).execute()
    events.insert(calendarId="primary", body=event(date(2025, 8, 1), "after")).execute()
    weekly = event(date(2025, 2, 3), "weekly", recurrence=["RRULE:FREQ=WEEKLY;COUNT=10"])
    events.insert(calendarId="primary", body=weekly).execute()
    service = gcal.service(ALICE)
    return GoogleCalendar.from_service(service, gcal.batch_uri, ALICE,
                                       backoff=Backoff(2, 0.001, 0.01))  # fmt: skip


def test_R38_the_calendar_is_read_in_pages_over_the_range(calendar):
    lo, hi = start_of(SINCE), start_of(UNTIL)
    assert calendar.count(ALICE, lo, hi) == 13  # a series is one item, as sessions read it
    titles, token, pages = [], "", 0
    while True:
        page = calendar.page(ALICE, lo, hi, token, 5)
        pages += 1
        titles += [i.title for i in page.items]
        token = page.next_page_token
        if not token:
            break
    assert pages == 3 and len(titles) == len(set(titles)) == 13
    assert "before" not in titles and "after" not in titles and "weekly" in titles


def test_R38_checkpoints_and_holds_on_firestore(firestore_client):
    store = FirestoreBackfillStore(firestore_client)
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    cp = new_checkpoint(ALICE, SINCE, UNTIL, (ALICE, "team@group.calendar.google.com"), now)
    assert store.claim(ALICE, "cli:a", now, timedelta(minutes=2))
    assert store.get(ALICE) is None  # a hold alone is no checkpoint
    store.save(cp)
    assert store.get(ALICE) == cp and store.list() == [cp]
    assert not store.claim(ALICE, "task:b", now + timedelta(seconds=30), timedelta(minutes=2))
    assert store.held_until(ALICE) == now + timedelta(minutes=2)
    store.save(cp.with_status(Status.PAUSED, now, "interrupted"))  # saving keeps the hold
    assert store.held_until(ALICE) == now + timedelta(minutes=2)
    store.release(ALICE, "task:b")  # not its hold: nothing happens
    assert store.held_until(ALICE) is not None
    store.release(ALICE, "cli:a")
    assert store.held_until(ALICE) is None
    assert store.claim(ALICE, "task:b", now, timedelta(minutes=2))
    assert store.claim(ALICE, "cli:c", now + timedelta(minutes=3), timedelta(minutes=2))  # lapsed


def test_R38_a_run_crashes_and_a_new_process_resumes_it(calendar, firestore_client):
    """Through the Calendar emulator and Firestore: the second run starts from the saved
    checkpoint (no page read twice but the unfinished one) and saves nothing twice."""
    runner = FakeBatchRunner()
    runner.crash_on = 2

    def engine() -> Backfill:
        return Backfill(FirestoreBackfillStore(firestore_client), lambda e: calendar, runner,
                        FixedBudget(), page_size=5)  # fmt: skip

    first = engine()
    with pytest.raises(RuntimeError):
        first.run(first.prepare(ALICE, SINCE, UNTIL, (ALICE,)), holder="cli:1")
    saved = FirestoreBackfillStore(firestore_client).get(ALICE)
    assert (saved.batches, saved.read, saved.total) == (1, 5, 13) and saved.page_token
    runner.crash_on = None
    second = engine()
    cp = second.run(second.prepare(ALICE, SINCE, UNTIL, (ALICE,)), holder="cli:2")
    assert cp.done and cp.read == 13 and cp.batches == 3
    assert len(runner.saved) == len(set(runner.saved)) == 13
    assert FirestoreBackfillStore(firestore_client).get(ALICE) == cp


def test_R38_a_second_run_waits_for_the_first(calendar, firestore_client):
    store = FirestoreBackfillStore(firestore_client)
    store.claim(ALICE, "task:c1", datetime.now(UTC), timedelta(minutes=5))
    engine = Backfill(store, lambda e: calendar, FakeBatchRunner(), FixedBudget())
    with pytest.raises(BackfillBusy):
        engine.run(engine.prepare(ALICE, SINCE, UNTIL, (ALICE,)), holder="cli:1")


def queue_config(tasks_host: str, functions_url: str, **extra: str) -> Config:
    return Config.from_env({
        "GOOGLE_CLOUD_PROJECT": QUEUE.split("/")[1], "CALSYNC_TASKS_EMULATOR_HOST": tasks_host,
        "CALSYNC_FUNCTIONS_URL": functions_url, "CALSYNC_SHARED_SECRET": "s3cret", **extra,
    })  # fmt: skip


def test_R38_slices_reach_backfill_slice_through_cloud_tasks(tasks_client, tasks_emulator,
                                                             http_receiver):  # fmt: skip
    queue = CloudTasksBackfillQueue(queue_config(tasks_emulator.host, http_receiver.url),
                                    tasks_client)  # fmt: skip
    assert queue.enqueue_slice("Alice@Example.com", "c1", 3, datetime.now(UTC))
    got = http_receiver.next(timeout=15)
    assert got.path == "/backfill_slice"
    assert json.loads(got.body) == {"user": ALICE, "chain": "c1", "slice": 3}
    assert got.headers[SECRET_HEADER] == "s3cret"
    # the same slice again: over REST Cloud Tasks answers 409 ALREADY_EXISTS, not a crash
    assert queue.enqueue_slice("alice@example.com", "c1", 3, datetime.now(UTC)) is False


def test_R38_a_slice_is_queued_once_and_in_the_backfill_queue():
    client = mock.Mock()
    config = Config.from_env({"GOOGLE_CLOUD_PROJECT": "p", "CALSYNC_FUNCTIONS_URL": "https://f",
                              "CALSYNC_BACKFILL_QUEUE": "calsync-backfill",
                              "CALSYNC_TASKS_SERVICE_ACCOUNT": "inv@p.iam.gserviceaccount.com"})  # fmt: skip
    queue = CloudTasksBackfillQueue(config, client)
    at = datetime(2026, 3, 2, 12, 5, tzinfo=UTC)
    assert queue.enqueue_slice(ALICE, "c1", 2, at)
    call = client.create_task.call_args.kwargs
    assert call["parent"] == "projects/p/locations/us-central1/queues/calsync-backfill"
    task = call["task"]
    assert (
        task["name"].endswith("/tasks/" + slice_task_id(ALICE, "c1", 2))
        and "alice" not in task["name"]
    )
    assert task["schedule_time"].seconds == int(at.timestamp())
    assert task["http_request"]["oidc_token"]["audience"] == "https://f/backfill_slice"
    client.create_task.side_effect = gexc.AlreadyExists("exists")
    assert queue.enqueue_slice(ALICE, "c1", 2, at) is False  # a retried slice cannot fork its chain
    assert Config.from_env({"GOOGLE_CLOUD_PROJECT": "p"}).backfill_queue_path.endswith(
        "/calsync-sync"
    )
