"""R-27: sessions are queued on Cloud Tasks (the emulator, through the real client), coalesced per bucket."""

import json
from datetime import UTC, datetime
from unittest import mock

import pytest
from google.api_core import exceptions as gexc

from infra.config import Config
from infra.tasks import SECRET_HEADER, CloudTasksSessionQueue, task_id
from tests.fixtures.tasks import QUEUE

pytestmark = pytest.mark.integration


def config_for(tasks_emulator: str, functions_url: str) -> Config:
    project = QUEUE.split("/")[1]
    return Config.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": project,
            "CALSYNC_TASKS_EMULATOR_HOST": tasks_emulator,
            "CALSYNC_FUNCTIONS_URL": functions_url,
            "CALSYNC_SHARED_SECRET": "s3cret",
        }
    )


def test_R27_queued_session_reaches_sync_user_with_the_secret(
    tasks_client, tasks_emulator, http_receiver
):
    sessions = CloudTasksSessionQueue(config_for(tasks_emulator, http_receiver.url), tasks_client)
    assert sessions.enqueue("Ann@Example.com", datetime.now(UTC))
    got = http_receiver.next(timeout=15)
    assert got.path == "/sync_user"
    assert json.loads(got.body) == {"user": "ann@example.com", "reason": "push"}
    assert got.headers[SECRET_HEADER] == "s3cret"


def test_R27_already_exists_counts_as_queued(tasks_emulator):
    """The emulator accepts duplicate names (LOCAL-STACK.md), so the real service's answer is simulated."""
    client = mock.Mock()
    client.create_task.side_effect = gexc.AlreadyExists("task exists")
    sessions = CloudTasksSessionQueue(config_for(tasks_emulator, "http://127.0.0.1:1"), client)
    assert sessions.enqueue("ann@example.com", datetime.now(UTC)) is False


def test_R27_a_burst_shares_one_task_name_scheduled_after_it():
    client = mock.Mock()
    config = Config.from_env({"GOOGLE_CLOUD_PROJECT": "p", "CALSYNC_FUNCTIONS_URL": "https://f"})
    sessions = CloudTasksSessionQueue(config, client, bucket_ms=1000)
    base = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    for ms in (0, 300, 999):
        sessions.enqueue("ann@example.com", base.replace(microsecond=ms * 1000))
    sessions.enqueue("ann@example.com", base.replace(second=1))
    tasks = [call.kwargs["task"] for call in client.create_task.call_args_list]
    names = [t["name"].rsplit("/", 1)[-1] for t in tasks]
    assert len(set(names[:3])) == 1 and names[3] != names[0]
    bucket_end = int(base.timestamp()) + 1
    assert all(t["schedule_time"].seconds == bucket_end for t in tasks[:3])
    assert "ann" not in names[0]  # no address in task names
    assert names[0] == task_id("ann@example.com", int(base.timestamp()))


def test_R34_production_tasks_carry_oidc_not_the_secret():
    client = mock.Mock()
    config = Config.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "p",
            "CALSYNC_FUNCTIONS_URL": "https://f.example",
            "CALSYNC_TASKS_SERVICE_ACCOUNT": "invoker@p.iam.gserviceaccount.com",
        }
    )
    CloudTasksSessionQueue(config, client).enqueue("ann@example.com", datetime.now(UTC))
    request = client.create_task.call_args.kwargs["task"]["http_request"]
    assert request["oidc_token"]["service_account_email"] == "invoker@p.iam.gserviceaccount.com"
    assert request["oidc_token"]["audience"] == "https://f.example/sync_user"
    assert SECRET_HEADER not in request["headers"]
