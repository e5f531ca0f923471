"""Queues sync sessions on Cloud Tasks, coalescing a burst of push notifications into one session (R-27).

A task is named after the user and a short time bucket, and scheduled at the end of that bucket.
Every notification inside the bucket maps to the same name, so the second and later ones get
ALREADY_EXISTS and count as queued; and since the task cannot run before its bucket ends, no
notification can arrive after "its" session started and be dropped. The per-user lease
(infra/lease.py), not the task name, is what keeps sessions from overlapping.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import timestamp_pb2

from core.users import normalise_email
from infra.config import Config

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Calsync-Secret"


def task_id(email: str, bucket: int, reason: str = "push") -> str:
    """`sync-<hash of the email>-<bucket>`: no address in task names (they show in the console).
    A sweep's task has a name of its own: coalesced with a push it would lose the sweep's work
    (retrying waiting items, audit L5)."""
    digest = hashlib.sha256(normalise_email(email).encode()).hexdigest()[:20]
    kind = "sweep" if reason == "sweep" else "sync"
    return f"{kind}-{digest}-{bucket}"


def http_request(config: Config, function: str, payload: dict) -> dict:
    """A task's HTTP request to one of calsync's functions, carrying the invoker's OIDC token
    (or, on a local stack without one, the shared secret that stands in for it, R-34)."""
    target = f"{config.functions_url}/{function}"
    request: dict = {
        "url": target,
        "http_method": tasks_v2.HttpMethod.POST,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload).encode(),
    }
    if config.tasks_service_account:
        request["oidc_token"] = {
            "service_account_email": config.tasks_service_account,
            "audience": target,
        }
    else:
        request["headers"][SECRET_HEADER] = config.shared_secret
    return request


def client_for(config: Config) -> tasks_v2.CloudTasksClient:
    if config.tasks_emulator_host:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        channel = grpc.insecure_channel(config.tasks_emulator_host)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    return tasks_v2.CloudTasksClient()


class CloudTasksSessionQueue:
    """Implements core.ports.SessionQueue."""

    def __init__(self, config: Config, client: tasks_v2.CloudTasksClient, bucket_ms: int = 1000):
        self._config = config
        self._client = client
        self._bucket_ms = bucket_ms

    def enqueue(self, email: str, now: datetime, reason: str = "push") -> bool:
        """Queue a session for `email`; False when a queued one already covers it (coalesced)."""
        bucket = int(now.timestamp() * 1000) // self._bucket_ms
        run_at = timestamp_pb2.Timestamp()
        run_at.FromMilliseconds((bucket + 1) * self._bucket_ms)
        request = http_request(
            self._config, "sync_user", {"user": normalise_email(email), "reason": reason}
        )
        name = f"{self._config.tasks_queue_path}/tasks/{task_id(email, bucket, reason)}"
        try:
            self._client.create_task(
                parent=self._config.tasks_queue_path,
                task={"name": name, "schedule_time": run_at, "http_request": request},
                timeout=10,
            )
        except gexc.AlreadyExists:
            log.info("session already queued", extra={"task": name.rsplit("/", 1)[-1]})
            return False
        return True
