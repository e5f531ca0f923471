"""The local stack's stand-in for Cloud Scheduler: POSTs to each job's function on the job's
schedule (infra/schedule.py), as Cloud Scheduler does in Google Cloud, with an OIDC token that
IAM (the identity emulator) issues to Cloud Scheduler's agent for the invoker account (R-34).
`make up` runs it.

    python -m emulators.scheduler            # run every job on its schedule, until stopped
    python -m emulators.scheduler run sweep  # run one job now (like `gcloud scheduler jobs run`)

It reads CALSYNC_FUNCTIONS_URL, CALSYNC_TASKS_SERVICE_ACCOUNT and the identity emulator's
CALSYNC_IDENTITY_URL (the local stack sets them; a stack without an invoker account would need
CALSYNC_SHARED_SECRET instead) from the environment, or from the local stack's .calsync/local.env. Like Cloud Scheduler with retry_count 0, a failed call is not
retried: the next run makes good for it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import requests
from cronsim import CronSim

from infra.schedule import JOBS, Job

ATTEMPT_DEADLINE = 300.0  # seconds; the sweep function's timeout (terraform/functions.tf)


def next_run(job: Job, after: datetime) -> datetime:
    """The first time after `after` that the job's schedule names, read in its time zone."""
    local = after.astimezone(ZoneInfo(job.time_zone))
    return next(iter(CronSim(job.schedule, local))).astimezone(UTC)


def scheduler_agent(project: str) -> str:
    """Cloud Scheduler's service agent, which signs the jobs' calls as the invoker account."""
    return f"service-{project}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"


def _id_token(env: Mapping[str, str], account: str, audience: str) -> str:
    """An OIDC token for `audience` as `account`, asked of IAM (the local identity emulator) the
    way Cloud Scheduler's agent asks for it; the agent needs Token Creator on the account."""
    agent = scheduler_agent(env.get("GOOGLE_CLOUD_PROJECT", ""))
    answer = requests.post(
        f"{env['CALSYNC_IDENTITY_URL'].rstrip('/')}/v1/projects/-/serviceAccounts/"
        f"{account}:generateIdToken",
        json={"audience": audience, "includeEmail": True},
        headers={"Authorization": f"Bearer dev:{agent}"},
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def post(job: Job, env: Mapping[str, str]) -> requests.Response:
    """The POST Cloud Scheduler makes for one run of the job: with an OIDC token for the
    function's URL when the stack has an invoker account (as terraform/scheduler.tf sets
    oidc_token), else with the local shared secret that stands in for it (R-34)."""
    from infra.tasks import SECRET_HEADER

    url = f"{env['CALSYNC_FUNCTIONS_URL'].rstrip('/')}/{job.function}"
    account = env.get("CALSYNC_TASKS_SERVICE_ACCOUNT", "")
    if account:
        headers = {"Authorization": f"Bearer {_id_token(env, account, url)}"}
    else:
        headers = {SECRET_HEADER: env.get("CALSYNC_SHARED_SECRET", "")}
    return requests.post(url, headers=headers, timeout=ATTEMPT_DEADLINE)


def call(job: Job, env: Mapping[str, str]) -> str:
    """One run of the job, as a line for the log."""
    try:
        answer = post(job, env)
    except requests.RequestException as exc:
        url = f"{env['CALSYNC_FUNCTIONS_URL'].rstrip('/')}/{job.function}"
        return f"{job.name}: no answer from {url} ({type(exc).__name__})"
    return f"{job.name}: {answer.status_code} {answer.text.strip()[:200]}"


def serve(env: Mapping[str, str], now: Callable[[], datetime] = lambda: datetime.now(UTC),
          sleep: Callable[[float], None] = time.sleep, runs: int | None = None,
          jobs: tuple[Job, ...] = JOBS) -> None:  # fmt: skip
    """Run every job on its schedule; `runs` stops after that many calls (tests)."""
    due = {job.name: next_run(job, now()) for job in jobs}
    for job in jobs:
        print(f"{job.name}: {job.schedule} ({job.time_zone}), next at {due[job.name]:%H:%M:%S}Z",
              flush=True)  # fmt: skip
    done = 0
    while runs is None or done < runs:
        job = min(jobs, key=lambda j: due[j.name])
        wait = (due[job.name] - now()).total_seconds()
        if wait > 0:
            sleep(min(wait, 30.0))
            continue
        print(f"{now():%Y-%m-%dT%H:%M:%S}Z {call(job, env)}", flush=True)
        due[job.name] = next_run(job, max(now(), due[job.name]))
        done += 1


def _env() -> dict[str, str]:
    from infra.config import load_local_env

    if "CALSYNC_FUNCTIONS_URL" not in os.environ and not load_local_env():
        raise SystemExit("error: no local stack: run `make up` first")
    return dict(os.environ)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.scheduler",
                                     description="the local stand-in for Cloud Scheduler")  # fmt: skip
    sub = parser.add_subparsers(dest="command")
    once = sub.add_parser("run", help="run one job now")
    once.add_argument("job", choices=[j.name for j in JOBS])
    args = parser.parse_args(argv)
    env = _env()
    if args.command == "run":
        job = next(j for j in JOBS if j.name == args.job)
        line = call(job, env)
        print(line)
        return 0 if f"{job.name}: 200" in line else 1
    print(f"ready {json.dumps([j.name for j in JOBS])}", flush=True)
    serve(env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
