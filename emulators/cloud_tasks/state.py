"""The emulator's state (queues, tasks, recently used task names) and its dispatcher thread.

One lock guards everything; the dispatcher wakes when a task becomes due, a token comes back to
a queue's bucket, or anything changes, and starts each attempt on a thread of its own, so a queue
dispatches up to `max_concurrent_dispatches` tasks at once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests
from google.cloud import tasks_v2
from google.rpc import code_pb2

from . import dispatch, queues
from .errors import ApiError, invalid, not_found
from .tasks import Record, prepare, task_id_of

NAME_REUSE_SECONDS = 3600.0  # how long a used task name stays refused (see docs)
RETENTION = timedelta(days=31)  # a task is dropped this long after it was created
GONE_MESSAGE = (
    "The task no longer exists, though a task with this name existed recently. The task either "
    "successfully completed or was deleted."
)
# google.rpc codes for an attempt's response_status, by HTTP status class
RPC_CODE = {400: code_pb2.INVALID_ARGUMENT, 401: code_pb2.UNAUTHENTICATED,
            403: code_pb2.PERMISSION_DENIED, 404: code_pb2.NOT_FOUND, 409: code_pb2.ABORTED,
            429: code_pb2.RESOURCE_EXHAUSTED, 499: code_pb2.CANCELLED,
            500: code_pb2.INTERNAL, 501: code_pb2.UNIMPLEMENTED, 503: code_pb2.UNAVAILABLE,
            504: code_pb2.DEADLINE_EXCEEDED}  # fmt: skip


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class QueueState:
    queue: tasks_v2.Queue
    records: dict[str, Record] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0  # the most attempts seen at once (stats)
    bucket: queues.Bucket | None = None

    def __post_init__(self) -> None:
        self.reset_bucket()

    def reset_bucket(self) -> None:
        rates = self.queue.rate_limits
        self.bucket = queues.Bucket(rates.max_dispatches_per_second, rates.max_burst_size)


class CloudTasks:
    def __init__(self, signer: dispatch.Signer | None = None,
                 act_as: set[tuple[str, str]] | None = None,
                 name_reuse_seconds: float = NAME_REUSE_SECONDS) -> None:  # fmt: skip
        self.signer = signer
        self.act_as = {(c.lower(), s.lower()) for c, s in (act_as or set())}
        self.name_reuse_seconds = name_reuse_seconds
        self.log_attempts = False  # one line per attempt on stdout (the emulator's log)
        self.queues: dict[str, QueueState] = {}
        self.used_names: dict[str, float] = {}  # task name → when its task left the queue
        self.deleted_queues: dict[str, float] = {}
        self.stats: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.cond = threading.Condition()
        self._local = threading.local()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._thread.start()

    # -- queues -----------------------------------------------------------------------------

    def _queue(self, name: str) -> QueueState:
        queues.check_name(name)
        found = self.queues.get(name)
        if found is None:
            raise not_found("Queue does not exist.")
        return found

    def create_queue(self, parent: str, queue: tasks_v2.Queue) -> tasks_v2.Queue:
        with self.cond:
            if not queue.name.startswith(parent + "/queues/"):
                raise invalid(f"Queue.name must be in {parent}")
            queues.check_name(queue.name)
            if queue.name in self.queues:
                raise ApiError("ALREADY_EXISTS", "Requested entity already exists")
            if self.deleted_queues.get(queue.name, 0) > time.time():
                raise ApiError("FAILED_PRECONDITION", "The queue cannot be created because a "
                               "queue with this name existed too recently.")  # fmt: skip
            state = QueueState(queues.normalise(queue))
            self.queues[queue.name] = state
            self.cond.notify_all()
            return state.queue

    def update_queue(self, queue: tasks_v2.Queue, mask: list[str]) -> tasks_v2.Queue:
        """UpdateQueue: changes the named fields (all when there is no mask); creates the queue
        when it does not exist, as the reference says."""
        with self.cond:
            queues.check_name(queue.name)
            current = self.queues.get(queue.name)
            if current is None:
                state = QueueState(queues.normalise(queue))
                self.queues[queue.name] = state
                return state.queue
            merged = tasks_v2.Queue(current.queue)
            if mask:
                for path in mask:
                    _copy_path(queue, merged, path)
            else:
                for name in ("rate_limits", "retry_config", "http_target",
                             "stackdriver_logging_config"):  # fmt: skip
                    setattr(merged, name, getattr(queue, name))
            merged.rate_limits.max_burst_size = 0
            current.queue = queues.normalise(merged)
            current.reset_bucket()
            self.cond.notify_all()
            return current.queue

    def get_queue(self, name: str) -> tasks_v2.Queue:
        with self.cond:
            return self._queue(name).queue

    def list_queues(self, parent: str) -> list[tasks_v2.Queue]:
        with self.cond:
            return [s.queue for n, s in sorted(self.queues.items()) if n.startswith(parent + "/")]

    def delete_queue(self, name: str) -> None:
        with self.cond:
            state = self._queue(name)
            for record in state.records.values():
                self._forget(record.task.name)
            del self.queues[name]
            self.deleted_queues[name] = time.time() + queues.QUEUE_NAME_REUSE

    def set_state(self, name: str, value: tasks_v2.Queue.State) -> tasks_v2.Queue:
        with self.cond:
            state = self._queue(name)
            state.queue.state = value
            self.cond.notify_all()
            return state.queue

    def purge(self, name: str) -> tasks_v2.Queue:
        with self.cond:
            state = self._queue(name)
            for task_name in list(state.records):
                self._forget(task_name)
            state.records.clear()
            state.queue.purge_time = utcnow()
            return state.queue

    # -- tasks ------------------------------------------------------------------------------

    def create_task(self, parent: str, task: tasks_v2.Task, caller: str) -> tasks_v2.Task:
        with self.cond:
            state = self._queue(parent)
            if state.queue.state == tasks_v2.Queue.State.DISABLED:
                raise ApiError("FAILED_PRECONDITION", "The queue is disabled.")
            prepared = prepare(parent, task, utcnow())
            self._check_identity(parent, prepared, caller)
            if prepared.name in state.records or self._recently_used(prepared.name):
                self.stats["already_exists"] += 1
                raise ApiError("ALREADY_EXISTS", "Requested entity already exists")
            state.records[prepared.name] = Record(prepared, caller)
            self.stats["created"] += 1
            self.cond.notify_all()
            return prepared

    def _check_identity(self, parent: str, task: tasks_v2.Task, caller: str) -> None:
        """An OIDC token's account must be in the queue's project, and the caller needs
        iam.serviceAccounts.actAs on it (roles/iam.serviceAccountUser)."""
        if "oidc_token" not in task.http_request:
            return
        account = task.http_request.oidc_token.service_account_email.lower()
        project = parent.split("/")[1]
        if not account.endswith(f"@{project}.iam.gserviceaccount.com"):
            raise invalid(f"The service account {account} must be in the queue's project "
                          f"{project}.")  # fmt: skip
        if (caller.lower(), account) not in self.act_as:
            raise ApiError("PERMISSION_DENIED", f"The principal ({caller}) lacks IAM permission "
                           f'"iam.serviceAccounts.actAs" for the resource "{account}" (or the '
                           "resource may not exist).")  # fmt: skip

    def _recently_used(self, name: str) -> bool:
        left = self.used_names.get(name)
        if left is None:
            return False
        if time.time() - left >= self.name_reuse_seconds:
            del self.used_names[name]
            return False
        return True

    def _forget(self, name: str) -> None:
        """A task left its queue (done, deleted, dropped): its name stays refused a while."""
        self.used_names[name] = time.time()

    def _record(self, name: str) -> tuple[QueueState, Record]:
        parent, sep, _ = name.rpartition("/tasks/")
        if not sep:
            raise invalid(f"Task name {name!r} is invalid")
        state = self._queue(parent)
        record = state.records.get(name)
        if record is None:
            raise not_found(GONE_MESSAGE if self._recently_used(name) else
                            "Requested entity was not found.")  # fmt: skip
        return state, record

    def get_task(self, name: str) -> tasks_v2.Task:
        with self.cond:
            return self._record(name)[1].task

    def list_tasks(self, parent: str) -> list[tasks_v2.Task]:
        with self.cond:
            state = self._queue(parent)
            return [r.task for _, r in sorted(state.records.items())]

    def delete_task(self, name: str) -> None:
        with self.cond:
            state, _ = self._record(name)
            del state.records[name]
            self._forget(name)

    def run_task(self, name: str) -> tasks_v2.Task:
        """RunTask: dispatch now, even when the queue is paused or out of tokens."""
        with self.cond:
            _, record = self._record(name)
            if not record.dispatching:
                record.forced = True
                record.task.schedule_time = utcnow()
            self.cond.notify_all()
            return record.task

    # -- the dispatcher -----------------------------------------------------------------------

    def stop(self) -> None:
        with self.cond:
            self._stopped = True
            self.cond.notify_all()

    def _loop(self) -> None:
        with self.cond:
            while not self._stopped:
                wait = self._start_due()
                self.cond.wait(timeout=min(wait, 1.0))

    def _start_due(self) -> float:
        """Start every attempt that may start now; seconds until the next one might."""
        now, wake = utcnow(), 1.0
        mono = time.monotonic()
        for state in self.queues.values():
            running = state.queue.state == tasks_v2.Queue.State.RUNNING
            limit = state.queue.rate_limits.max_concurrent_dispatches
            pending = sorted((r for r in state.records.values() if not r.dispatching),
                             key=lambda r: r.task.schedule_time)  # fmt: skip
            blocked = False  # paused, at its concurrency or out of tokens: RunTask only
            for record in pending:
                if record.task.create_time + RETENTION < now:
                    del state.records[record.task.name]
                    self._forget(record.task.name)
                    continue
                due = (record.task.schedule_time - now).total_seconds()
                if due > 0:
                    wake = min(wake, due)
                    break
                if not record.forced:
                    if blocked or not running or state.in_flight >= limit:
                        blocked = True
                        continue
                    assert state.bucket is not None
                    if not state.bucket.take(mono):
                        wake = min(wake, state.bucket.next_token_in(mono))
                        blocked = True
                        continue
                self._start(state, record, now)
        return max(wake, 0.001)

    def _start(self, state: QueueState, record: Record, now: datetime) -> None:
        record.dispatching, record.forced = True, False
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        if record.first_attempt_at is None:
            record.first_attempt_at = now
        out = dispatch.outgoing(record.task, state.queue)
        headers = self._cloud_tasks_headers(state, record)
        threading.Thread(target=self._attempt, args=(state, record, out, headers, now),
                         daemon=True).start()  # fmt: skip

    def _cloud_tasks_headers(self, state: QueueState, record: Record) -> dict[str, str]:
        task = record.task
        headers = {
            "X-CloudTasks-QueueName": state.queue.name.rsplit("/", 1)[-1],
            "X-CloudTasks-TaskName": task_id_of(task.name),
            "X-CloudTasks-TaskRetryCount": str(task.dispatch_count),
            "X-CloudTasks-TaskExecutionCount": str(record.executions),
            "X-CloudTasks-TaskETA": f"{task.schedule_time.timestamp():.6f}",
        }
        if record.previous_status:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(record.previous_status)
        if record.previous_reason:
            headers["X-CloudTasks-TaskRetryReason"] = record.previous_reason
        return headers

    def _http(self) -> requests.Session:
        http = getattr(self._local, "http", None)
        if http is None:
            http = requests.Session()
            http.trust_env = False  # the targets are local; no proxy, no CA bundle override
            self._local.http = http
        return http

    def _attempt(self, state: QueueState, record: Record, out: dispatch.Outgoing,
                 headers: dict[str, str], started: datetime) -> None:  # fmt: skip
        outcome = dispatch.send(out, headers, self.signer, self._http())
        if self.log_attempts:
            finished = utcnow()
            print(f"{started.isoformat(timespec='milliseconds')} {task_id_of(record.task.name)} "
                  f"attempt {record.task.dispatch_count + 1}: {outcome.status or outcome.reason} "
                  f"in {(finished - started).total_seconds() * 1000:.0f} ms", flush=True)  # fmt: skip
        with self.cond:
            self._settle(state, record, outcome, started)
            self.cond.notify_all()

    def _settle(self, state: QueueState, record: Record, outcome: dispatch.Outcome,
                started: datetime) -> None:  # fmt: skip
        now = utcnow()
        state.in_flight -= 1
        record.dispatching = False
        task = record.task
        status = outcome.status
        ok = status is not None and 200 <= status < 300
        self.stats["attempts"] += 1
        self.statuses[str(status) if status is not None else outcome.reason.split(":")[0]] += 1
        rpc = code_pb2.OK if ok else RPC_CODE.get(status or 0, code_pb2.UNKNOWN)
        if status is None:
            rpc = (code_pb2.DEADLINE_EXCEEDED if outcome.reason == "DEADLINE_EXCEEDED"
                   else code_pb2.UNAVAILABLE if outcome.dispatched else code_pb2.PERMISSION_DENIED)  # fmt: skip
        attempt = tasks_v2.Attempt(schedule_time=task.schedule_time, dispatch_time=started,
                                   response_time=now if status is not None else None,
                                   response_status={"code": rpc, "message": outcome.reason})  # fmt: skip
        task.dispatch_count += 1
        if status is not None:
            task.response_count += 1
            if status < 500:
                record.executions += 1
        if not task.first_attempt:
            task.first_attempt = tasks_v2.Attempt(dispatch_time=started)
        task.last_attempt = attempt
        if state.records.get(task.name) is not record:
            return  # deleted (or its queue purged) while it ran
        if ok:
            del state.records[task.name]
            self._forget(task.name)
            self.stats["succeeded"] += 1
            return
        retry = queues.normalise_retry(task.retry_config or None, state.queue.retry_config)
        elapsed = (now - (record.first_attempt_at or now)).total_seconds()
        limit = queues.seconds(retry.max_retry_duration)
        attempts_done = retry.max_attempts != -1 and task.dispatch_count >= retry.max_attempts
        time_done = limit > 0 and elapsed >= limit
        if (attempts_done and (limit == 0 or time_done)) or (
            retry.max_attempts == -1 and time_done
        ):
            del state.records[task.name]
            self._forget(task.name)
            self.stats["dropped"] += 1
            return
        wait = max(queues.backoff(retry, task.dispatch_count), outcome.retry_after)
        task.schedule_time = now + timedelta(seconds=wait)
        record.previous_status = status or 0
        record.previous_reason = outcome.reason

    # -- admin ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to no tasks and no used names; queues stay, with their configuration."""
        with self.cond:
            for state in self.queues.values():
                state.records.clear()
                state.max_in_flight = state.in_flight
                state.reset_bucket()
            self.used_names.clear()
            self.deleted_queues.clear()
            self.stats.clear()
            self.statuses.clear()

    def snapshot(self) -> dict[str, object]:
        with self.cond:
            return {
                "stats": dict(self.stats),
                "attempt_statuses": dict(self.statuses),
                "tokens_minted": self.signer.minted if self.signer else 0,
                "queues": {
                    name: {
                        "tasks": len(s.records),
                        "in_flight": s.in_flight,
                        "max_in_flight": s.max_in_flight,
                        "state": s.queue.state.name,
                    }
                    for name, s in self.queues.items()
                },
            }


def _copy_path(source: tasks_v2.Queue, target: tasks_v2.Queue, path: str) -> None:
    """One update_mask path (`rate_limits`, `retry_config.max_attempts`, ...)."""
    head, _, rest = path.partition(".")
    known = {"rate_limits", "retry_config", "http_target", "stackdriver_logging_config", "state"}
    if head not in known or head == "state":
        raise invalid(f"update_mask path {path!r} is not updatable")
    if not rest:
        setattr(target, head, getattr(source, head))
        return
    inner_source, inner_target = getattr(source, head), getattr(target, head)
    setattr(inner_target, _snake(rest), getattr(inner_source, _snake(rest)))
    setattr(target, head, inner_target)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)
