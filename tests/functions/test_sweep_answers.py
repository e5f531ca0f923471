"""`sweep` (R-28, issue 14): it looks at every enabled user in-process and queues a session only
for those with something to do. The real sweep and sessions run over the in-memory fakes
(tests/session_kit.py); only the entry point's wiring (queue, poll, config) is replaced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from functions import sweep as entry
from tests.session_kit import ALICE, BOB, JANE, Kit


class Queue:
    def __init__(self) -> None:
        self.queued: list[tuple[str, str]] = []

    def enqueue(self, email, now, reason="push"):
        self.queued.append((email, reason))
        return True


@pytest.fixture
def kit(monkeypatch):
    kit = Kit()
    for user in (ALICE, BOB):
        kit.user(user)
    kit.contact(JANE)
    kit.queue = Queue()
    monkeypatch.setattr(entry, "from_google_infra", lambda *a: True)
    monkeypatch.setattr(entry, "_poll", lambda now: "ok")
    monkeypatch.setattr(entry, "needs_renewal", lambda user, now: False)
    monkeypatch.setattr(entry, "datetime", SimpleNamespace(now=lambda tz=None: kit.now))
    monkeypatch.setattr(entry, "wiring", SimpleNamespace(
        config=lambda: SimpleNamespace(functions_url="https://f.example"),
        verifier=lambda: None, services=lambda: kit.services,
        settings_store=lambda: kit.store, session_queue=lambda: kit.queue))  # fmt: skip
    return kit


def sweep():
    text, status, _ = entry.sweep(SimpleNamespace(get_json=lambda silent=False: {}))
    assert status == 200
    return json.loads(text)


def test_issue14_R28_the_sweep_queues_only_users_with_something_to_do(kit):
    item = kit.meeting(ALICE, "Saved")
    kit.meeting(BOB, "Also saved")
    for user in (ALICE, BOB):
        kit.sync(user)
        kit.sync(user)
    kit.later(minutes=10)
    assert sweep()["quiet"] == 2 and kit.queue.queued == []
    kit.edit(item, title="Renamed, its push lost")
    answer = sweep()
    assert answer["quiet"] == 1 and answer["queued"] == 1 and kit.queue.queued == [
        (ALICE, "sweep")]  # fmt: skip


@pytest.mark.parametrize(("ago", "polled"), [(60, "fresh"), (120, "ran")])
def test_R21_R28_the_sweep_polls_unless_the_polls_own_job_just_did(monkeypatch, ago, polled):
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    state = SimpleNamespace(last_poll_at=now - timedelta(seconds=ago))
    poller = SimpleNamespace(store=SimpleNamespace(read=lambda: state))
    monkeypatch.setattr(entry, "wiring", SimpleNamespace(poller=lambda: poller))
    import functions.sf_poll

    monkeypatch.setattr(functions.sf_poll, "poll_now", lambda: ("{}", 200, {}))
    assert entry._poll(now) == ("fresh" if polled == "fresh" else "ok")
