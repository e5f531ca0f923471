"""What the Cloud Tasks emulator does, checked with the real client (LOCAL-STACK.md lists it as unchecked).

These tests pin the emulator behaviour that calsync's local stack relies on, so a new emulator
release that changes it is noticed here rather than as a flaky end-to-end test.
"""

import time

import pytest
from google.cloud import tasks_v2
from google.protobuf import timestamp_pb2

from tests.fixtures.tasks import QUEUE

pytestmark = pytest.mark.integration


def http_task(url: str, body: bytes, name: str = "", delay: float = 0.0) -> dict:
    task: dict = {
        "http_request": {
            "url": url,
            "http_method": tasks_v2.HttpMethod.POST,
            "headers": {"Content-Type": "application/json"},
            "body": body,
        }
    }
    if name:
        task["name"] = f"{QUEUE}/tasks/{name}"
    if delay:
        when = timestamp_pb2.Timestamp()
        when.FromSeconds(int(time.time() + delay))
        task["schedule_time"] = when
    return task


def test_http_task_is_dispatched_with_cloud_tasks_headers(tasks_client, http_receiver):
    url = http_receiver.url + "/sync_user"
    tasks_client.create_task(parent=QUEUE, task=http_task(url, b'{"user": "ann@example.com"}'))
    got = http_receiver.next()
    headers, body = got.headers, got.body
    assert body == b'{"user": "ann@example.com"}'
    # the real service sends the short queue id; the emulator sends the full path
    assert headers["X-CloudTasks-QueueName"].rsplit("/", 1)[-1] == "calsync-sync"
    assert headers["X-CloudTasks-TaskRetryCount"] == "0"


def test_schedule_time_delays_dispatch(tasks_client, http_receiver):
    created = time.monotonic()
    tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, b"{}", delay=2))
    assert http_receiver.next(timeout=15).at - created >= 1.0


def test_failed_dispatch_is_retried(tasks_client, http_receiver):
    http_receiver.status = 503
    tasks_client.create_task(parent=QUEUE, task=http_task(http_receiver.url, b"{}"))
    first = http_receiver.next().headers
    http_receiver.status = 200
    second = http_receiver.next(timeout=30).headers
    assert first["X-CloudTasks-TaskRetryCount"] == "0"
    assert int(second["X-CloudTasks-TaskRetryCount"]) >= 1
