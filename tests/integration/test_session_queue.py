"""R-27: sessions queued on Cloud Tasks (our emulator, through the real REST client) and coalesced
in Firestore: at once for a quiet user, one follow-up for what arrives while a session runs, and
every change read by a session that begins after its push."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from unittest import mock

import pytest
from google.api_core import exceptions as gexc

from core.coalesce import Phase
from infra.coalesce import FirestoreCoalescer, counting
from infra.config import Config
from infra.session import Session
from infra.tasks import SECRET_HEADER, CloudTasksSessionQueue, client_for, task_id
from tests.fixtures.identity import INVOKER
from tests.fixtures.tasks import QUEUE
from tests.fixtures.upsync import ALICE, JANE

pytestmark = pytest.mark.integration


def config_for(tasks_host: str, functions_url: str, **extra: str) -> Config:
    return Config.from_env({
        "GOOGLE_CLOUD_PROJECT": QUEUE.split("/")[1],
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1",  # a local stack (the client is passed in)
        "CALSYNC_TASKS_EMULATOR_HOST": tasks_host,
        "CALSYNC_FUNCTIONS_URL": functions_url,
        "CALSYNC_TASKS_SERVICE_ACCOUNT": INVOKER,
        **extra,
    })  # fmt: skip


@pytest.fixture
def sessions(tasks_queue, http_receiver, firestore_client):
    tasks_queue.queue(invoker=None)  # the tasks' own OIDC token, as infra/tasks.py sets it
    config = config_for(tasks_queue.host, http_receiver.url)
    return CloudTasksSessionQueue(config, client_for(config), FirestoreCoalescer(firestore_client))


def now() -> datetime:
    return datetime.now(UTC)


def test_R27_R34_a_quiet_users_session_reaches_sync_user_at_once_with_oidc(
    sessions, http_receiver, identity
):
    pushed = now()
    assert sessions.enqueue("Ann@Example.com", pushed)
    got = http_receiver.next(timeout=5)
    assert got.path == "/sync_user"
    body = json.loads(got.body)
    assert body["user"] == "ann@example.com" and body["reason"] == "push" and body["session"]
    assert got.headers["X-CloudTasks-TaskName"] == task_id("ann@example.com", body["session"])
    assert "ann" not in got.headers["X-CloudTasks-TaskName"]  # no address in task names
    token = got.headers["Authorization"].removeprefix("Bearer ")
    audience = http_receiver.url + "/sync_user"
    assert identity.verifier().verify(token, audience, emails=[INVOKER])
    assert SECRET_HEADER not in got.headers


def test_R27_pushes_while_a_session_is_queued_join_it(sessions, http_receiver, firestore_client):
    results = [sessions.enqueue("ann@example.com", now()) for _ in range(10)]
    assert results == [True] + [False] * 9
    assert http_receiver.next(timeout=5)
    assert http_receiver.nothing_within(1.0)  # one session for the ten pushes


def test_R27_a_push_that_lands_while_the_session_runs_gets_a_follow_up(
    org, sessions, http_receiver, firestore_client
):
    """The real thing in one process: the task arrives, the session begins and reads; during its
    read Alice changes another event and its push is enqueued; the session ends without that
    change; its finish queues a follow-up, which begins after the push and saves the change."""
    org.enable(ALICE)
    first = org.insert(ALICE, "Before the session", attendees=(ALICE, JANE), colorId="9")
    assert sessions.enqueue(ALICE, now())
    body = json.loads(http_receiver.next(timeout=5).body)
    late: dict = {}
    real_calendar = org.services.calendar_for

    def calendar_for(email):
        calendar = real_calendar(email)
        changes = calendar.changes

        def read_then_change(*args, **kwargs):
            answer = changes(*args, **kwargs)
            if not late:  # a change after the session read: the webhook enqueues its push
                late.update(org.insert(ALICE, "During the session", attendees=(ALICE, JANE),
                                       colorId="9"))  # fmt: skip
                late["queued"] = sessions.enqueue(ALICE, now())
            return answer

        calendar.changes = read_then_change
        return calendar

    org.services.calendar_for = calendar_for
    run_session(sessions, org, body)
    assert late["queued"] is False  # coalesced into a follow-up, not a task of its own
    assert [e["Subject"] for e in org.events()] == ["Before the session"]
    follow_up = json.loads(http_receiver.next(timeout=5).body)
    assert follow_up["session"] != body["session"]
    org.services.calendar_for = real_calendar
    run_session(sessions, org, follow_up)
    assert sorted(e["Subject"] for e in org.events()) == ["Before the session",
                                                           "During the session"]  # fmt: skip
    assert first["id"] != late["id"]
    assert FirestoreCoalescer(firestore_client).state(ALICE).phase is Phase.IDLE


def run_session(sessions, org, body):
    """What sync_user does with a task's body (functions/sync_user.py)."""
    begun = sessions.begin(body["user"], body["session"], now())
    assert begun.snooze is None
    services, writes = counting(org.services)
    Session(services, body["user"], now()).run()
    sessions.finish(body["user"], body["session"], now(), writes.count)
    return writes.count


def test_R27_a_session_without_pushes_meanwhile_leaves_the_user_idle(sessions, http_receiver,
                                                                      firestore_client, org):  # fmt: skip
    org.enable(ALICE)
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    assert sessions.enqueue(ALICE, now())
    body = json.loads(http_receiver.next(timeout=5).body)
    assert run_session(sessions, org, body) == 1  # the label on Alice's copy
    assert http_receiver.nothing_within(1.0)
    assert FirestoreCoalescer(firestore_client).state(ALICE).phase is Phase.IDLE
    assert sessions.enqueue(ALICE, now())  # quiet again: the next push starts at once


def test_R28_L5_the_sweeps_sessions_are_never_coalesced_into_a_push(sessions, http_receiver,
                                                                    firestore_client):  # fmt: skip
    """Audit L5: a push queued just before the sweep used to take the sweep's place (and its
    work: slid-in and waiting items). Now the sweep's session is a task of its own, costs no
    coalescing state, and a repeated sweep in the same minute queues nothing new."""
    when = now()
    assert sessions.enqueue("ann@example.com", when, reason="push")
    assert sessions.enqueue("ann@example.com", when, reason="sweep")
    assert not sessions.enqueue("ann@example.com", when, reason="sweep")  # the same sweep
    bodies = sorted((json.loads(http_receiver.next(timeout=5).body) for _ in range(2)),
                    key=lambda b: b["reason"])  # fmt: skip
    assert [b["reason"] for b in bodies] == ["push", "sweep"]
    state = FirestoreCoalescer(firestore_client).state("ann@example.com")
    assert state.seq == 1  # only the push went through the coalescing state


def test_R27_a_failed_create_leaves_the_user_idle_for_the_next_push(firestore_client):
    client = mock.Mock()
    client.create_task.side_effect = gexc.ServiceUnavailable("down")
    config = config_for("127.0.0.1:1", "https://f.example")
    queue = CloudTasksSessionQueue(config, client, FirestoreCoalescer(firestore_client))
    with pytest.raises(Exception, match="Cloud Tasks refused"):
        queue.enqueue("ann@example.com", now())
    assert FirestoreCoalescer(firestore_client).state("ann@example.com").phase is Phase.IDLE
    client.create_task.side_effect = None
    assert queue.enqueue("ann@example.com", now())


def test_R34_without_an_invoker_account_tasks_carry_the_local_secret(firestore_client):
    client = mock.Mock()
    config = Config.from_env({"GOOGLE_CLOUD_PROJECT": "p", "FIRESTORE_EMULATOR_HOST": "h:1",
                              "CALSYNC_FUNCTIONS_URL": "http://f",
                              "CALSYNC_SHARED_SECRET": "s3cret"})  # fmt: skip
    CloudTasksSessionQueue(config, client, FirestoreCoalescer(firestore_client)).enqueue(
        "ann@example.com", now()
    )
    request = client.create_task.call_args.kwargs["task"]["http_request"]
    assert request["headers"][SECRET_HEADER] == "s3cret" and "oidc_token" not in request
