"""The Cloud Scheduler jobs (R-28): one list in Python (infra/schedule.py) that Terraform's
scheduler jobs match, and the local stack's stand-in that calls each job's function on its
schedule with the local shared secret (R-34), as Cloud Scheduler does in Google Cloud."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

import main
from emulators.scheduler import call, next_run, scheduler_agent, serve
from infra.schedule import JOBS, Job
from infra.tasks import SECRET_HEADER
from tests.fixtures.identity import INVOKER
from tests.test_terraform import resources, unquote, variables


def _variable_default(expression: str) -> str:
    name = re.fullmatch(r"\$\{var\.(\w+)\}", expression)
    assert name, f"expected a variable, got {expression}"
    return str(unquote(variables()[name.group(1)]["default"]))


def test_R28_every_job_is_a_terraform_scheduler_job_with_the_same_function_and_schedule():
    deployed = resources("google_cloud_scheduler_job")
    assert set(deployed) == {job.name for job in JOBS}
    for job in JOBS:
        body = deployed[job.name]
        assert f'name == "{job.function}"' in body["for_each"]  # the function it calls
        assert unquote(body["name"]) == "${var.name_prefix}-" + job.name
        assert _variable_default(body["schedule"]) == job.schedule
        assert _variable_default(body["time_zone"]) == job.time_zone
        assert job.function in main.HTTP_FUNCTIONS


def test_next_run_follows_the_cron_schedule_in_the_jobs_time_zone():
    sweep = Job("sweep", "sweep", "*/10 * * * *")
    assert next_run(sweep, datetime(2026, 12, 1, 21, 53, 10, tzinfo=UTC)) == datetime(
        2026, 12, 1, 22, 0, tzinfo=UTC
    )
    morning = Job("report", "status", "0 7 * * *", time_zone="Europe/Berlin")
    assert next_run(morning, datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == datetime(
        2026, 12, 2, 6, 0, tzinfo=UTC
    )


def test_R28_R34_the_local_scheduler_posts_to_the_function_with_the_shared_secret(http_receiver):
    clock = [datetime(2026, 12, 1, 21, 59, 58, tzinfo=UTC)]

    def sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)

    env = {"CALSYNC_FUNCTIONS_URL": http_receiver.url, "CALSYNC_SHARED_SECRET": "s3cret"}
    serve(env, now=lambda: clock[0], sleep=sleep, runs=2)
    first, second = http_receiver.next(), http_receiver.next()
    assert (first.path, second.path) == ("/sweep", "/sweep")
    assert first.headers[SECRET_HEADER] == "s3cret"
    assert clock[0] >= datetime(2026, 12, 1, 22, 10, tzinfo=UTC)  # the second run waited
    assert http_receiver.nothing_within(0.2)


def test_a_job_whose_function_does_not_answer_is_logged_not_retried():
    line = call(
        JOBS[0], {"CALSYNC_FUNCTIONS_URL": "http://127.0.0.1:9", "CALSYNC_SHARED_SECRET": ""}
    )
    assert line.startswith("sweep: no answer from http://127.0.0.1:9/sweep")


@pytest.mark.integration
def test_R34_with_an_invoker_account_the_job_carries_an_oidc_token_for_the_function(
    http_receiver, identity
):
    """As terraform/scheduler.tf's oidc_token: Cloud Scheduler's agent asks IAM for an ID token
    of the invoker account, audience the function's URL; the production verifier accepts it."""
    project = "calsync-test"
    identity.http.post(f"{identity.url}/_admin/grants", timeout=10, json={
        "caller": scheduler_agent(project), "service_account": INVOKER}).raise_for_status()  # fmt: skip
    env = {"CALSYNC_FUNCTIONS_URL": http_receiver.url, "CALSYNC_SHARED_SECRET": "s3cret",
           "CALSYNC_TASKS_SERVICE_ACCOUNT": INVOKER, "CALSYNC_IDENTITY_URL": identity.url,
           "GOOGLE_CLOUD_PROJECT": project}  # fmt: skip
    assert call(JOBS[0], env).startswith("sweep: 200")
    got = http_receiver.next()
    assert SECRET_HEADER not in got.headers
    token = got.headers["Authorization"].removeprefix("Bearer ")
    claims = identity.verifier().verify(token, f"{http_receiver.url}/sweep", emails=[INVOKER])
    assert claims["email"] == INVOKER
