"""Queues backfill slices on Cloud Tasks (R-38): implements core.ports.BackfillQueue.

A slice is a task to the `backfill_slice` function, named after the user (hashed), the chain
and the slice number: a slice retried by Cloud Tasks that queues its successor again gets
ALREADY_EXISTS, so a chain never forks. The queue is the backfill queue where Terraform made one
(few concurrent dispatches, so backfills never hold up the sessions' queue), else the sessions'.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import timestamp_pb2

from core.users import normalise_email
from infra.config import Config
from infra.tasks import already_exists, http_request

log = logging.getLogger(__name__)


def slice_task_id(email: str, chain: str, slice_no: int) -> str:
    digest = hashlib.sha256(normalise_email(email).encode()).hexdigest()[:20]
    return f"backfill-{digest}-{chain}-{slice_no}"


class CloudTasksBackfillQueue:
    def __init__(self, config: Config, client: tasks_v2.CloudTasksClient) -> None:
        self._config = config
        self._client = client

    def enqueue_slice(self, email: str, chain: str, slice_no: int, at: datetime) -> bool:
        """Queue slice `slice_no` of `chain` to run at `at`; False if it is queued already."""
        payload = {"user": normalise_email(email), "chain": chain, "slice": slice_no}
        run_at = timestamp_pb2.Timestamp()
        run_at.FromDatetime(at)
        queue = self._config.backfill_queue_path
        name = f"{queue}/tasks/{slice_task_id(email, chain, slice_no)}"
        task = {"name": name, "schedule_time": run_at,
                "http_request": http_request(self._config, "backfill_slice", payload)}  # fmt: skip
        try:
            self._client.create_task(parent=queue, task=task, timeout=10)
        except gexc.GoogleAPICallError as exc:
            if not already_exists(exc):  # over REST a duplicate is a 409 Conflict
                raise
            log.info("backfill slice already queued", extra={"task": name.rsplit("/", 1)[-1]})
            return False
        return True
