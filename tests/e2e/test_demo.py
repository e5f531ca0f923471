"""`make demo` end to end: the whole local stack, every change driven by push → Cloud Task →
sync_user, as in Google Cloud (R-27), and the per-item result it prints."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
STACK_KEYS = ("FIRESTORE_EMULATOR_HOST", "CALSYNC_TASKS_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if k not in STACK_KEYS}
    env["CALSYNC_STATE_DIR"] = str(tmp_path_factory.mktemp("demo-state"))
    done = subprocess.run(
        [sys.executable, "-m", "emulators.stack", "demo"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    return done


def row(output: str, user: str, scenario: str) -> list[str]:
    for line in output.splitlines():
        if line.strip().startswith(user) and scenario in line:
            return re.split(r"\s{2,}", line.split(scenario, 1)[1].strip())
    raise AssertionError(f"no row for {user} / {scenario}:\n{output}")


def test_demo_succeeds(demo_output):
    assert demo_output.returncode == 0, demo_output.stdout[-3000:] + demo_output.stderr[-3000:]
    assert "summary: every scenario played through" in demo_output.stdout


@pytest.mark.parametrize(
    ("user", "scenario", "decision", "owner", "label", "issue"),
    [
        pytest.param(
            "alice", "R-01 manual save by colour", "saved", "alice", "saved", "-", id="R-01"
        ),
        pytest.param("alice", "R-05 autosaved meeting", "saved", "alice", "saved", "-", id="R-05"),
        pytest.param("alice", "R-06 private, skipped", "skipped", "-", "-", "-", id="R-06"),
        pytest.param(
            "bob", "R-07 nobody known: error label", "failed", "-", "error", "CS-002", id="R-07"
        ),
        pytest.param(
            "carol",
            "R-08 declined then tagged: ISE-013",
            "failed",
            "-",
            "error",
            "ISE-013",
            id="R-08",
        ),
        pytest.param(
            "bob", "R-11 attendee waits, then joins", "invitee", "alice", "saved", "-", id="R-11"
        ),
        pytest.param(
            "carol", "R-12 external organiser: own event", "saved", "carol", "saved", "-", id="R-12"
        ),
    ],
)
def test_R27_each_scenario_through_push_task_session(
    demo_output, user, scenario, decision, owner, label, issue
):
    cells = row(demo_output.stdout, user, scenario)
    assert cells[0] == decision
    assert cells[1] == owner
    assert cells[3] == label
    assert cells[4] == issue


def test_R18_cancelled_item_lost_its_sf_event(demo_output):
    assert (
        row(demo_output.stdout, "carol", "R-18 saved, then cancelled")[0]
        == "cancelled, SF Event deleted"
    )


def test_R32_demo_prints_the_dashboard_and_how_to_sign_in(demo_output):
    out = demo_output.stdout
    assert re.search(r"sync-issues dashboard \(R-32\): http://127\.0\.0\.1:\d+/dashboard", out)
    assert 'choose "Sign in with Google (local stack)" and type admin@example.com' in out
