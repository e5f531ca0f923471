"""Task validation and the task record the dispatcher works on (CreateTask's rules)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from google.cloud import tasks_v2

from .errors import ApiError, invalid

TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
MAX_TASK_BYTES = 100 * 1024  # "The maximum task size is 100KB" (CreateTask reference)
MAX_URL = 2083
MAX_HEADER_BYTES = 80 * 1024
MAX_SCHEDULE_AHEAD = timedelta(days=30)
DEFAULT_DEADLINE = timedelta(minutes=10)
MIN_DEADLINE, MAX_DEADLINE = timedelta(seconds=15), timedelta(minutes=30)
WITH_BODY = {tasks_v2.HttpMethod.POST, tasks_v2.HttpMethod.PUT, tasks_v2.HttpMethod.PATCH}


@dataclass
class Record:
    """A task in a queue, with what the dispatcher keeps beside the API's view of it."""

    task: tasks_v2.Task
    caller: str  # who created it (for the logs and the stats)
    dispatching: bool = False
    first_attempt_at: datetime | None = None
    previous_status: int = 0  # the HTTP status of the previous attempt's answer, 0 when none
    previous_reason: str = ""
    executions: int = 0  # answers received that were not 5xx (X-CloudTasks-TaskExecutionCount)
    forced: bool = False  # RunTask: dispatch now, whatever the rate limits and the queue's state
    notes: list[str] = field(default_factory=list)


def task_id_of(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def prepare(parent: str, task: tasks_v2.Task, now: datetime) -> tasks_v2.Task:
    """The task as the service stores it: name, times and deadline set; refused when the
    reference says CreateTask refuses it."""
    out = tasks_v2.Task(task)
    if out.app_engine_http_request:
        raise invalid("App Engine tasks are not emulated: use an HTTP request")
    if not out.http_request:
        raise invalid("Task.http_request is required")
    if out.name:
        head, sep, tid = out.name.rpartition("/tasks/")
        if not sep or head != parent or not TASK_ID.match(tid):
            raise invalid(
                f"Task name {out.name!r} is invalid: expected {parent}/tasks/TASK_ID, TASK_ID of "
                "letters, digits, hyphens and underscores, at most 500 characters"
            )
    else:
        out.name = f"{parent}/tasks/{secrets.randbelow(10**19) + 10**19}"
    if any((out.create_time, out.first_attempt, out.last_attempt, out.dispatch_count,
            out.response_count)):  # fmt: skip
        raise invalid("Task output-only fields (create_time, attempts, counts) cannot be set")
    _check_http(out.http_request)
    deadline = out.dispatch_deadline or DEFAULT_DEADLINE
    if not MIN_DEADLINE <= deadline <= MAX_DEADLINE:
        raise invalid("Task.dispatch_deadline must be between 15 seconds and 30 minutes")
    out.dispatch_deadline = deadline
    when = out.schedule_time
    if when is None or when < now:
        when = now
    if when - now > MAX_SCHEDULE_AHEAD:
        raise invalid("Task.schedule_time must not be more than 30 days in the future")
    out.schedule_time = when
    out.create_time = now.replace(microsecond=0)
    if len(tasks_v2.Task.serialize(out)) > MAX_TASK_BYTES:
        raise invalid("Task size is too large: the maximum is 100KB")
    return out


def _check_http(request: tasks_v2.HttpRequest) -> None:
    if not request.url.startswith(("http://", "https://")):
        raise invalid('HttpRequest.url must begin with "http://" or "https://"')
    if len(request.url) > MAX_URL:
        raise invalid(f"HttpRequest.url is longer than {MAX_URL} characters")
    if not request.http_method:
        request.http_method = tasks_v2.HttpMethod.POST
    if request.body and request.http_method not in WITH_BODY:
        raise invalid("A body is allowed only with the HTTP methods POST, PUT and PATCH")
    if sum(len(k) + len(v) for k, v in request.headers.items()) >= MAX_HEADER_BYTES:
        raise invalid("HttpRequest.headers must be smaller than 80KB")
    if "oauth_token" in request:
        raise ApiError("UNIMPLEMENTED", "OAuth tokens are not emulated (for *.googleapis.com)")
