"""Our Cloud Tasks emulator (emulators/cloud_tasks), through the real google-cloud-tasks REST client:
the semantics calsync relies on (R-27, R-29, R-34), each as the API reference states it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.oauth2.credentials import Credentials
from google.protobuf import duration_pb2, timestamp_pb2

from infra.tasks import already_exists
from tests.fixtures.identity import INVOKER
from tests.fixtures.tasks import QUEUE, RUNTIME

pytestmark = pytest.mark.integration


def http_task(url: str, body: bytes = b"{}", name: str = "", delay: float = 0.0,
              **request: object) -> dict:  # fmt: skip
    task: dict = {"http_request": {"url": url, "http_method": tasks_v2.HttpMethod.POST,
                                   "headers": {"Content-Type": "application/json"},
                                   "body": body, **request}}  # fmt: skip
    if name:
        task["name"] = f"{QUEUE}/tasks/{name}"
    if delay:
        when = timestamp_pb2.Timestamp()
        when.FromDatetime(datetime.now(UTC) + timedelta(seconds=delay))
        task["schedule_time"] = when
    return task


def test_R27_a_task_is_dispatched_with_google_spelt_headers(tasks_client, http_receiver):
    url = http_receiver.url + "/sync_user"
    created = tasks_client.create_task(
        parent=QUEUE, task=http_task(url, b'{"user": "ann@example.com"}', name="t-1")
    )
    got = http_receiver.next()
    assert got.path == "/sync_user" and got.body == b'{"user": "ann@example.com"}'
    headers = got.headers
    assert headers["User-Agent"] == "Google-Cloud-Tasks"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-CloudTasks-QueueName"] == "calsync-sync"  # the short id, as Google sends it
    assert headers["X-CloudTasks-TaskName"] == "t-1"
    assert headers["X-CloudTasks-TaskRetryCount"] == "0"
    assert headers["X-CloudTasks-TaskExecutionCount"] == "0"
    assert abs(float(headers["X-CloudTasks-TaskETA"]) - created.schedule_time.timestamp()) < 1e-3
    assert created.dispatch_deadline == timedelta(minutes=10)  # the default for HTTP tasks


def test_R34_each_dispatch_carries_an_oidc_token_the_production_verifier_accepts(
    tasks_client, tasks_queue, http_receiver, identity
):
    """The token is IAM's generateIdToken for the task's account (audience: the task URL unless
    the task names one), obtained as the Cloud Tasks service agent."""
    tasks_queue.queue(invoker=None)  # no queue-level override: the task's own token
    url = http_receiver.url + "/sync_user"
    tasks_client.create_task(parent=QUEUE, task=http_task(
        url, oidc_token={"service_account_email": INVOKER}))  # fmt: skip
    token = http_receiver.next().headers["Authorization"].removeprefix("Bearer ")
    claims = identity.verifier().verify(token, url, emails=[INVOKER])
    assert claims["email"] == INVOKER
    tasks_client.create_task(parent=QUEUE, task=http_task(
        url, oidc_token={"service_account_email": INVOKER, "audience": "https://aud.example"}))  # fmt: skip
    other = http_receiver.next().headers["Authorization"].removeprefix("Bearer ")
    assert identity.verifier().verify(other, "https://aud.example", emails=[INVOKER])


def test_R34_the_queues_http_target_puts_its_token_on_every_task(tasks_client, http_receiver,
                                                                  identity):  # fmt: skip
    """terraform/tasks.tf: the queue sends the invoker's token whatever the task says."""
    url = http_receiver.url + "/sync_user"
    tasks_client.create_task(parent=QUEUE, task=http_task(url))
    token = http_receiver.next().headers["Authorization"].removeprefix("Bearer ")
    assert identity.verifier().verify(token, url, emails=[INVOKER])["email"] == INVOKER


def test_R34_no_token_creator_grant_means_no_dispatch(tasks_client, tasks_queue, http_receiver,
                                                       identity):  # fmt: skip
    """A token for an account the service agent may not sign as: IAM refuses, the attempt
    fails before it reaches the target, and is retried (the target never sees a call)."""
    other = "someone@demo-calsync.iam.gserviceaccount.com"
    requests.post(f"{identity.url}/_admin/grants", json={"caller": "x@example.com",
                  "service_account": other}, timeout=10)  # fmt: skip
    tasks_queue.admin("POST", "act_as", json={"caller": RUNTIME,
                                              "service_account": other})  # fmt: skip
    tasks_queue.queue(invoker=None)
    task = tasks_client.create_task(parent=QUEUE, task=http_task(
        http_receiver.url, oidc_token={"service_account_email": other}))  # fmt: skip
    assert http_receiver.nothing_within(1.0)
    seen = tasks_client.get_task(name=task.name)
    assert seen.dispatch_count >= 1 and seen.response_count == 0
    assert "getOpenIdToken" in seen.last_attempt.response_status.message


def test_R27_a_name_in_use_or_used_recently_is_already_exists(tasks_client, tasks_queue,
                                                               http_receiver):  # fmt: skip
    """Over REST, ALREADY_EXISTS is a 409 `Conflict` whose body says ALREADY_EXISTS."""
    later = http_task(http_receiver.url, name="dup", delay=30)
    tasks_client.create_task(parent=QUEUE, task=later)
    with pytest.raises(gexc.Conflict) as queued:
        tasks_client.create_task(parent=QUEUE, task=later)
    assert already_exists(queued.value)
    tasks_client.delete_task(name=f"{QUEUE}/tasks/dup")
    with pytest.raises(gexc.Conflict):  # deleted: the name stays taken
        tasks_client.create_task(parent=QUEUE, task=later)
    tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, name="done"))
    http_receiver.next()
    time.sleep(0.2)
    with pytest.raises(gexc.NotFound, match="existed recently"):
        tasks_client.get_task(name=f"{QUEUE}/tasks/done")
    with pytest.raises(gexc.Conflict):  # ran: the name stays taken
        tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, name="done"))
    tasks_queue.admin("POST", "config", json={"name_reuse_seconds": 0})
    tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, name="done"))
    assert http_receiver.next()  # once the reuse time passed, the name is free again


def test_R27_schedule_time_delays_the_dispatch(tasks_client, http_receiver):
    created = time.monotonic()
    tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, delay=1.5))
    assert http_receiver.nothing_within(1.0)
    assert http_receiver.next(timeout=5).at - created >= 1.4


def test_R29_every_answer_outside_2xx_is_retried_with_the_queues_backoff(tasks_client,
                                                                         http_receiver):  # fmt: skip
    """min_backoff 0.2 s doubling: the retries come 0.2 s, 0.4 s, 0.8 s after each failure,
    with the previous answer and the counts in the headers."""
    http_receiver.status = 503
    tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url))
    first = http_receiver.next()
    second = http_receiver.next(timeout=5)
    http_receiver.status = 404  # a 4xx is retried too
    third = http_receiver.next(timeout=5)
    http_receiver.status = 200
    fourth = http_receiver.next(timeout=5)
    assert [r.headers["X-CloudTasks-TaskRetryCount"] for r in (first, second, third, fourth)] == [
        "0", "1", "2", "3"]  # fmt: skip
    assert second.headers["X-CloudTasks-TaskPreviousResponse"] == "503"
    assert second.headers["X-CloudTasks-TaskRetryReason"] == "Service Unavailable"
    assert fourth.headers["X-CloudTasks-TaskPreviousResponse"] == "404"
    # 5xx answers are not executions; the 404 was
    assert second.headers["X-CloudTasks-TaskExecutionCount"] == "0"
    assert fourth.headers["X-CloudTasks-TaskExecutionCount"] == "1"
    starts = http_receiver.started
    assert 0.15 <= starts[1] - starts[0] < 0.6
    assert 0.35 <= starts[2] - starts[1] < 0.9
    assert 0.75 <= starts[3] - starts[2] < 1.4
    assert http_receiver.nothing_within(1.0)  # a 2xx ends it


def test_R29_a_task_is_dropped_after_max_attempts(tasks_client, http_receiver):
    http_receiver.status = 500
    task = tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url))
    for _ in range(5):  # QUICK_RETRY: 5 attempts
        http_receiver.next(timeout=5)
    assert http_receiver.nothing_within(1.5)
    with pytest.raises(gexc.NotFound):
        tasks_client.get_task(name=task.name)


def test_R29_a_task_past_its_dispatch_deadline_is_retried(tasks_client, http_receiver):
    """The first attempt outlives its 15 s deadline (the least the reference allows): Cloud Tasks
    stops waiting and retries, with no previous answer to report."""
    http_receiver.delays = [16.5]
    task = http_task(http_receiver.url)
    task["dispatch_deadline"] = duration_pb2.Duration(seconds=15)
    tasks_client.create_task(parent=QUEUE, task=task)
    answered = [http_receiver.next(timeout=25), http_receiver.next(timeout=25)]
    retry = next(r for r in answered if r.headers["X-CloudTasks-TaskRetryCount"] == "1")
    assert "X-CloudTasks-TaskPreviousResponse" not in retry.headers
    assert retry.headers["X-CloudTasks-TaskRetryReason"] == "DEADLINE_EXCEEDED"
    starts = http_receiver.started
    assert 15.0 <= starts[1] - starts[0] < 16.0  # the deadline, then the 0.2 s backoff


def test_R27_tasks_are_dispatched_concurrently_up_to_max_concurrent_dispatches(
    tasks_client, tasks_queue, http_receiver
):
    tasks_queue.queue(rate_limits={"max_dispatches_per_second": 500,
                                   "max_concurrent_dispatches": 3})  # fmt: skip
    http_receiver.delay = 0.5
    for _ in range(7):
        tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url))
    for _ in range(7):
        http_receiver.next(timeout=10)
    assert http_receiver.max_in_flight == 3


def test_R27_max_dispatches_per_second_spaces_the_dispatches(tasks_client, tasks_queue,
                                                             http_receiver):  # fmt: skip
    """A rate of 2/s with a bucket of 2: two at once, then one every half second."""
    tasks_queue.queue(rate_limits={"max_dispatches_per_second": 2,
                                   "max_concurrent_dispatches": 100})  # fmt: skip
    time.sleep(1.1)  # a full bucket
    for _ in range(6):
        tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url))
    for _ in range(6):
        http_receiver.next(timeout=10)
    starts = sorted(http_receiver.started)
    assert starts[1] - starts[0] < 0.2
    assert starts[5] - starts[0] >= 1.8  # four more tokens at 2/s


def test_create_task_refuses_what_the_reference_refuses(tasks_client, http_receiver):
    url = http_receiver.url
    bad = {
        "name with a dot": http_task(url, name="a.b"),
        "body on GET": {"http_request": {"url": url, "http_method": tasks_v2.HttpMethod.GET,
                                         "body": b"x"}},  # fmt: skip
        "no scheme": {"http_request": {"url": "example.com/x"}},
        "31 days ahead": http_task(url, delay=31 * 86400),
        "deadline under 15 s": {"http_request": {"url": url},
                                "dispatch_deadline": duration_pb2.Duration(seconds=5)},
        "deadline over 30 min": {"http_request": {"url": url},
                                 "dispatch_deadline": duration_pb2.Duration(seconds=1801)},
        "token of another project": {"http_request": {"url": url, "oidc_token": {
            "service_account_email": "x@elsewhere.iam.gserviceaccount.com"}}},
        "no target": {},
    }  # fmt: skip
    for why, task in bad.items():
        with pytest.raises(gexc.BadRequest):
            tasks_client.create_task(parent=QUEUE, task=task)
            pytest.fail(why)
    with pytest.raises(gexc.NotFound):
        tasks_client.create_task(parent=QUEUE.replace("calsync-sync", "nope"), task=http_task(url))


def test_R34_callers_are_authenticated_and_need_act_as(tasks_queue, http_receiver):
    anonymous = requests.post(f"{tasks_queue.url}/v2/{QUEUE}/tasks", timeout=10,
                              json={"task": {"httpRequest": {"url": http_receiver.url}}})  # fmt: skip
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"
    stranger = tasks_v2.CloudTasksClient(
        transport="rest", credentials=Credentials(token="dev:mallory@example.com"),
        client_options={"api_endpoint": tasks_queue.url},
    )  # fmt: skip
    stranger.create_task(parent=QUEUE, task=http_task(http_receiver.url))  # no token: allowed
    with pytest.raises(gexc.Forbidden, match="actAs"):
        stranger.create_task(parent=QUEUE, task=http_task(
            http_receiver.url, oidc_token={"service_account_email": INVOKER}))  # fmt: skip


def test_pause_resume_run_list_and_delete(tasks_client, http_receiver):
    tasks_client.pause_queue(name=QUEUE)
    a = tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, b"a"))
    b = tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, b"b"))
    c = tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, b"c"))
    assert http_receiver.nothing_within(0.5)
    assert {t.name for t in tasks_client.list_tasks(parent=QUEUE)} == {a.name, b.name, c.name}
    tasks_client.run_task(name=a.name)  # RunTask goes even while the queue is paused
    assert http_receiver.next().body == b"a"
    tasks_client.delete_task(name=b.name)
    tasks_client.resume_queue(name=QUEUE)
    assert http_receiver.next().body == b"c"
    assert http_receiver.nothing_within(0.5)
    assert tasks_client.get_queue(name=QUEUE).state == tasks_v2.Queue.State.RUNNING


def test_test_iam_permissions_answers_what_the_emulator_grants(tasks_client):
    """`python main.py doctor` asks it: the emulator keeps no queue IAM, so an authenticated
    caller holds Cloud Tasks' permissions on an existing queue and none on a missing one."""
    asked = ["cloudtasks.tasks.create", "iam.serviceAccounts.actAs"]
    answer = tasks_client.test_iam_permissions(resource=QUEUE, permissions=asked)
    assert list(answer.permissions) == ["cloudtasks.tasks.create"]
    missing = QUEUE.replace("calsync-sync", "nope")
    assert (
        list(tasks_client.test_iam_permissions(resource=missing, permissions=asked).permissions)
        == []
    )
    with pytest.raises(gexc.MethodNotImplemented):
        tasks_client.get_iam_policy(resource=QUEUE)
