"""The local stack's Cloud Tasks queue is the one Terraform makes (terraform/tasks.tf with its
variables' defaults), and its identities are the ones calsync uses: the local stack runs what
production runs."""

from __future__ import annotations

from emulators import stack
from infra.tasks import emulator_caller
from tests.test_terraform import block, resources, unquote, variables


def default(name: str):
    return unquote(variables()[name]["default"])


def test_the_local_queue_has_terraforms_rate_limits_and_retries():
    assert {
        "max_dispatches_per_second": float(default("tasks_max_dispatches_per_second")),
        "max_concurrent_dispatches": default("tasks_max_concurrent_dispatches"),
    } == stack.QUEUE_RATE_LIMITS
    assert {
        "max_attempts": default("tasks_max_attempts"),
        "min_backoff": default("tasks_min_backoff"),
        "max_backoff": default("tasks_max_backoff"),
        "max_doublings": block(resources("google_cloud_tasks_queue")["sync"]["retry_config"])[
            "max_doublings"
        ],
    } == stack.QUEUE_RETRY

    backfill = resources("google_cloud_tasks_queue")["backfill"]
    limits = block(backfill["rate_limits"])
    assert {
        "max_dispatches_per_second": float(unquote(limits["max_dispatches_per_second"])),
        "max_concurrent_dispatches": default("backfill_max_concurrent_dispatches"),
    } == stack.BACKFILL_RATE_LIMITS
    assert "var.backfill_max_concurrent_dispatches" in str(limits["max_concurrent_dispatches"])


def test_the_local_runtime_account_is_the_one_calsync_calls_cloud_tasks_as():
    assert emulator_caller(stack.PROJECT) == stack.RUNTIME_SA
    assert stack.INVOKER_SA.endswith(f"@{stack.PROJECT}.iam.gserviceaccount.com")
