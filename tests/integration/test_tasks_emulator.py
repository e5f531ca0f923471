"""What the Cloud Tasks emulator does, checked with the real client (LOCAL-STACK.md lists it as unchecked).

These tests pin the emulator behaviour that calsync's local stack relies on, so a new emulator
release that changes it is noticed here rather than as a flaky end-to-end test.
"""

import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from google.cloud import tasks_v2
from google.protobuf import timestamp_pb2

from tests.fixtures.tasks import QUEUE

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver():
    """A local HTTP server that records each request's headers and body; answers with `status`."""
    received: queue.Queue = queue.Queue()
    state = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            # self.headers is case-insensitive: the emulator sends `X-cloudtasks-queuename`
            received.put((time.monotonic(), self.headers, body))
            self.send_response(state["status"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/sync_user", received, state
    server.shutdown()


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


def test_http_task_is_dispatched_with_cloud_tasks_headers(tasks_client, receiver):
    url, received, _ = receiver
    tasks_client.create_task(parent=QUEUE, task=http_task(url, b'{"user": "ann@example.com"}'))
    _, headers, body = received.get(timeout=10)
    assert body == b'{"user": "ann@example.com"}'
    # the real service sends the short queue id; the emulator sends the full path
    assert headers["X-CloudTasks-QueueName"].rsplit("/", 1)[-1] == "calsync-sync"
    assert headers["X-CloudTasks-TaskRetryCount"] == "0"


def test_schedule_time_delays_dispatch(tasks_client, receiver):
    url, received, _ = receiver
    created = time.monotonic()
    tasks_client.create_task(parent=QUEUE, task=http_task(url, b"{}", delay=2))
    dispatched, _, _ = received.get(timeout=15)
    assert dispatched - created >= 1.0


def test_failed_dispatch_is_retried(tasks_client, receiver):
    url, received, state = receiver
    state["status"] = 503
    tasks_client.create_task(parent=QUEUE, task=http_task(url, b"{}"))
    _, first, _ = received.get(timeout=10)
    state["status"] = 200
    _, second, _ = received.get(timeout=30)
    assert first["X-CloudTasks-TaskRetryCount"] == "0"
    assert int(second["X-CloudTasks-TaskRetryCount"]) >= 1
