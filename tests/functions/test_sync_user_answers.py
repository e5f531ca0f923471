"""`sync_user`'s answer to Cloud Tasks (audit H3, item 9 of its missing tests; R-31): Cloud Tasks
retries every answer outside 2xx, so a session that fails for good answers 200 with an admin
issue (CS-020), and only a failure a retry can mend answers 503. The real session runs over the
in-memory fakes (tests/session_kit.py); only the entry point's wiring is replaced."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from core import coalesce
from functions import sync_user as entry
from tests.session_kit import ALICE, JANE, Kit


class MemoryQueue:
    """The session queue's coalescing state in memory (core.coalesce's own rules)."""

    def __init__(self) -> None:
        self.states: dict[str, coalesce.QueueState] = {}

    def _step(self, email, move):
        after, out = move(self.states.get(email, coalesce.QueueState()))
        self.states[email] = after
        return out

    def begin(self, email, task, now):
        return self._step(email, lambda s: coalesce.on_begin(s, now, task, "n"))

    def finish(self, email, task, now, own_writes):
        return self._step(email, lambda s: coalesce.on_finish(s, now, task, "n", own_writes))


@pytest.fixture
def kit(monkeypatch):
    kit = Kit()
    kit.user(ALICE)
    kit.contact(JANE)
    monkeypatch.setattr(entry, "from_google_infra", lambda *a: True)
    queue = MemoryQueue()
    monkeypatch.setattr(entry, "wiring", SimpleNamespace(
        config=lambda: None, verifier=lambda: None, services=lambda: kit.services,
        session_queue=lambda: queue))  # fmt: skip
    return kit


def call(body):
    text, status, _ = entry.sync_user(SimpleNamespace(get_json=lambda silent=False: body))
    return status, json.loads(text)


def test_H3_R31_a_session_that_works_answers_200_with_its_counts(kit):
    kit.meeting(ALICE, "Saved")
    assert call({"user": ALICE}) == (200, {"user": ALICE, "created": 1, "failed": 0})


def test_H3_R31_a_permanent_failure_answers_200_and_is_an_admin_issue(kit):
    """Old code: sync_user caught RetryableError only; a GoogleRefused (delegation revoked, the
    user's calendar gone) became a 500, which Cloud Tasks retried 10 times per task and every
    sweep queued again, with no issue for the admin."""
    kit.google.unreadable.add(ALICE)  # the user's own calendar answers 404
    status, body = call({"user": ALICE})
    assert status == 200 and body["failed"] is True
    assert kit.codes(ALICE) == ["CS-020"]


def test_H3_R29_a_session_already_running_answers_503_to_be_retried(kit):
    kit.lease.acquire(ALICE, "another instance", entry_ttl())
    status, body = call({"user": ALICE})
    assert status == 503 and body["retry"] is True
    assert kit.open_issues() == []  # nothing failed: the other session does the work


def test_H3_a_bad_body_is_not_retried(kit):
    assert call({"user": "not an address"})[0] == 200
    assert call({})[0] == 200


def entry_ttl():
    from infra.session import LEASE_TTL

    return LEASE_TTL
