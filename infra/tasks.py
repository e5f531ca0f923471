"""Queues sync sessions on Cloud Tasks (R-27): a quiet user's session at once, what arrives while
one is queued or running coalesced into it or into one follow-up (core/coalesce.py decides, the
state lives in Firestore: infra/coalesce.py).

The client speaks REST (`transport="rest"`) everywhere, to Google and to the local emulator
(emulators/cloud_tasks), so one code path runs on both. Tasks carry the invoker account's OIDC
token for `sync_user`'s URL (R-34). The per-user lease (infra/lease.py), not the task, is what
keeps one user's sessions from overlapping.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import timestamp_pb2

from core.coalesce import Begin, Start
from core.errors import ServerError
from core.users import normalise_email
from infra.coalesce import FirestoreCoalescer
from infra.config import Config

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Calsync-Secret"
TIMEOUT = 10


def emulator_caller(project: str) -> str:
    """Who the local stack's functions are to the Cloud Tasks emulator (the runtime account)."""
    return f"calsync-runtime@{project}.iam.gserviceaccount.com"


def task_id(email: str, session: str) -> str:
    """`sync-<hash of the email>-<session>`: no address in task names (they show in the
    console), and a hashed prefix, as Cloud Tasks asks of named tasks."""
    digest = hashlib.sha256(normalise_email(email).encode()).hexdigest()[:20]
    return f"sync-{digest}-{session}"


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
    """A REST client: Google's endpoint with the runtime's credentials, or the local emulator
    with a `dev:` token naming the runtime account (the emulator checks actAs on it)."""
    if config.tasks_emulator_host:
        from google.oauth2.credentials import Credentials

        host = config.tasks_emulator_host
        endpoint = host if host.startswith(("http://", "https://")) else f"http://{host}"
        return tasks_v2.CloudTasksClient(
            transport="rest",
            client_options={"api_endpoint": endpoint},
            credentials=Credentials(token=f"dev:{emulator_caller(config.project)}"),
        )
    return tasks_v2.CloudTasksClient(transport="rest")


def already_exists(exc: gexc.GoogleAPICallError) -> bool:
    """Over REST an ALREADY_EXISTS answer is a 409 that google-api-core raises as `Conflict`
    (gRPC raises `AlreadyExists`); ABORTED is a 409 too, so the status in the body decides."""
    if isinstance(exc, gexc.AlreadyExists):
        return True
    if not isinstance(exc, gexc.Conflict):
        return False
    response = getattr(exc, "response", None)
    try:
        status = response.json()["error"]["status"] if response is not None else ""
    except (ValueError, KeyError, TypeError):
        status = ""
    return status in ("ALREADY_EXISTS", "")


class CloudTasksSessionQueue:
    """Implements core.ports.SessionQueue, and the begin/finish hooks sync_user calls."""

    def __init__(self, config: Config, client: Any, coalescer: FirestoreCoalescer):
        self._config = config
        self._client = client
        self._coalescer = coalescer

    def enqueue(self, email: str, now: datetime, reason: str = "push") -> bool:
        """Queue a session for `email`; False when a queued or running one covers it.

        The sweep's sessions (R-28) are not coalesced: each sweep gives every user a task of
        its own (named after the sweep's minute, so a repeated sweep call queues nothing new),
        which costs no Firestore operation here and is never folded into a push's session."""
        email = normalise_email(email)
        if reason == "sweep":
            slot = int(now.timestamp()) // 60
            return self._create(email, Start(f"sweep-{slot}", now), reason)
        start = self._coalescer.push(email, now)
        if start is None:
            return False
        try:
            self._create(email, start, reason)
        except Exception:
            self._coalescer.start_failed(email, start.task)  # the next push queues anew
            raise
        return True

    def begin(self, email: str, session: str, now: datetime) -> Begin:
        """Before a queued session reads anything; it may snooze (its successor is queued here,
        and the task ends without a session)."""
        begun = self._coalescer.begin(email, session, now)
        if begun.snooze is not None:
            self._create(email, begun.snooze, "snoozed")
        return begun

    def finish(self, email: str, session: str, now: datetime, own_writes: int) -> bool:
        """After a session ended (2xx); queues its follow-up when pushes came meanwhile."""
        start = self._coalescer.finish(email, session, now, own_writes)
        if start is not None:
            self._create(email, start, "follow-up")
        return start is not None

    def _create(self, email: str, start: Start, reason: str) -> bool:
        """Create the task; False when it exists already (a repeated create of the same one)."""
        run_at = timestamp_pb2.Timestamp()
        run_at.FromDatetime(start.run_at)
        body = {"user": email, "reason": reason, "session": start.task}
        request = http_request(self._config, "sync_user", body)
        name = f"{self._config.tasks_queue_path}/tasks/{task_id(email, start.task)}"
        try:
            self._client.create_task(
                parent=self._config.tasks_queue_path,
                task={"name": name, "schedule_time": run_at, "http_request": request},
                timeout=TIMEOUT,
            )
        except gexc.GoogleAPICallError as exc:
            if already_exists(exc):  # a name made for this session alone: it is there already
                return False
            raise ServerError(f"Cloud Tasks refused the session task: {exc.code}") from exc
        log.info("session queued", extra={"user": email, "task": name.rsplit("/", 1)[-1]})
        return True
