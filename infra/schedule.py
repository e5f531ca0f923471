"""The Cloud Scheduler jobs: which function each calls, and when. terraform/scheduler.tf creates
them in Google Cloud and `emulators/scheduler.py` plays them on the local stack; a test keeps the
two equal. A new job is one more line here (and its resource in scheduler.tf)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    name: str  # the job's name after the deployment's prefix (`calsync-sweep`)
    function: str  # the HTTP function it POSTs to (main.HTTP_FUNCTIONS)
    schedule: str  # unix-cron, as Cloud Scheduler reads it
    time_zone: str = "Etc/UTC"


JOBS: tuple[Job, ...] = (
    Job("sweep", "sweep", "*/10 * * * *"),  # every user's session, channel renewals
)
