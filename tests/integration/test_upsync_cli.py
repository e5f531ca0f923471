"""The admin CLI's session commands on the emulators: sync (R-36 dry run), issues (R-32),
and watch channels opened by `users enable`, renewed by the sweep (R-27)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from functions.cli import run
from infra.channels import needs_renewal, open_channel
from tests.fixtures.upsync import ALICE, JANE, NOBODY, CliConfig, RecordingQueue

pytestmark = pytest.mark.integration


def cli(org, *argv, queue=None):
    out = io.StringIO()
    code = run(
        list(argv), lambda: org.store, out=out,
        services_factory=lambda: org.services, queue_factory=lambda: queue or RecordingQueue(),
        config_factory=CliConfig,
    )  # fmt: skip
    return code, out.getvalue()


def test_R36_sync_dry_run_prints_the_plan_and_writes_nothing(org):
    org.enable(ALICE)
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, JANE), colorId="9")
    code, out = cli(org, "sync", ALICE, "--dry-run")
    assert code == 0
    assert "dry run, nothing written" in out and "[R-10] create SF Event" in out
    assert org.events() == []
    code, out = cli(org, "sync", ALICE)
    assert code == 0 and "1 created" in out
    assert len(org.events()) == 1


def test_R32_issues_lists_open_issues_by_user_and_code(org):
    org.enable(ALICE)
    org.insert(ALICE, "Who is this", attendees=(ALICE, NOBODY), colorId="9")
    cli(org, "sync", ALICE)
    code, out = cli(org, "issues", "--user", ALICE, "--json")
    assert code == 0
    [issue] = json.loads(out)
    assert (issue["code"], issue["item"], issue["count"]) == ("CS-002", "Who is this", 1)
    assert cli(org, "issues", "--code", "ISE-013")[1].strip() == "no open issues with code ISE-013"


def test_R27_users_enable_opens_a_watch_channel(org):
    code, out = cli(org, "users", "enable", ALICE)
    assert code == 0 and "watching their calendar" in out
    state = org.store.get_user(ALICE).state
    assert state.channel_id and state.channel_token and state.channel_resource_id
    live = [c["id"] for c in org.gcal.admin("GET", "channels")["channels"]]
    assert live == [state.channel_id]


def test_R27_channel_is_renewed_before_expiry_and_the_old_one_stopped(org):
    org.enable(ALICE)
    user = org.store.get_user(ALICE)
    first = open_channel(org.store, org.services.calendar_for(ALICE), user, CliConfig.functions_url)
    user = org.store.get_user(ALICE)
    now = datetime.now(UTC)
    assert not needs_renewal(user, now)
    assert needs_renewal(user, now + timedelta(days=6))  # within two days of the 7-day expiry
    second = open_channel(
        org.store, org.services.calendar_for(ALICE), user, CliConfig.functions_url
    )
    assert second.id != first.id
    assert org.store.get_user(ALICE).state.channel_id == second.id
    live = [c["id"] for c in org.gcal.admin("GET", "channels")["channels"]]
    assert live == [second.id]  # the old channel was stopped


def test_M1_opening_a_channel_keeps_what_a_session_wrote_meanwhile(org):
    """open_channel writes only the channel's fields: a sync token saved by a session after the
    user was read (and before the channel was stored) survives."""
    org.enable(ALICE)
    user = org.store.get_user(ALICE)  # read before the session's write below
    org.store.set_state_fields(ALICE, {"calendar_sync_token": "token-from-a-session"})
    open_channel(org.store, org.services.calendar_for(ALICE), user, CliConfig.functions_url)
    state = org.store.get_user(ALICE).state
    assert state.calendar_sync_token == "token-from-a-session"
    assert state.channel_id and state.channel_resource_id
