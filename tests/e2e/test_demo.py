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
    """The demo, run while a `make up` stack is up in the same state directory (F3)."""
    env = {k: v for k, v in os.environ.items() if k not in STACK_KEYS}
    state = tmp_path_factory.mktemp("demo-state")
    env["CALSYNC_STATE_DIR"] = str(state)

    def stack(*argv):
        return subprocess.run([sys.executable, "-m", "emulators.stack", *argv], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=400)  # fmt: skip

    assert stack("up", "--seed", "demo").returncode == 0
    before = {p: p.read_bytes() for p in sorted((state / "keys").iterdir())}
    try:
        done = stack("demo")
        done.kept_keys = before == {p: p.read_bytes() for p in sorted((state / "keys").iterdir())}
        done.up_still_answers = subprocess.run(
            [sys.executable, "main.py", "sync", "alice@example.com"], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        stack("down")
    return done


def test_demo_leaves_a_running_stack_alone(demo_output):
    assert demo_output.kept_keys
    answer = demo_output.up_still_answers
    assert answer.returncode == 0, answer.stderr
    assert "alice@example.com:" in answer.stdout


def row(output: str, user: str, scenario: str) -> list[str]:
    for line in output.splitlines():
        if line.strip().startswith(user) and scenario in line:
            return re.split(r"\s{2,}", line.split(scenario, 1)[1].strip())
    raise AssertionError(f"no row for {user} / {scenario}:\n{output}")


def test_demo_succeeds(demo_output):
    assert demo_output.returncode == 0, demo_output.stdout[-3000:] + demo_output.stderr[-3000:]
    assert "summary: every scenario played through" in demo_output.stdout


@pytest.mark.parametrize(
    ("user", "scenario", "decision", "owner", "linked", "label", "issue"),
    [
        pytest.param("alice", "saved by giving it colour 9 [R-01]", "saved", "alice",
                     "Jane / Acme", "saved", "-", id="R-01"),
        pytest.param("alice", "autosaved, then renamed [R-05, R-15]", "saved", "alice", "Jane, Joe / Acme",
                     "saved", "-", id="R-05"),
        pytest.param("alice", "private: not autosaved [R-06]", "not saved", "-", "-", "-", "-",
                     id="R-06"),
        pytest.param("bob", "nobody known in Salesforce [R-07]", "failed", "-", "-", "error",
                     "CS-002", id="R-07"),
        pytest.param("carol", "declined, then tagged [R-08]", "failed", "-", "-", "error",
                     "ISE-013", id="R-08"),
        pytest.param("bob", "attendee waits for organiser [R-11]", "invited to their Event",
                     "alice", "Joe / Acme", "saved", "-", id="R-11"),
        pytest.param("carol", "outside organiser: own Event [R-12]", "saved", "carol", "Lee",
                     "saved", "-", id="R-12"),
    ],
)  # fmt: skip
def test_R27_each_scenario_through_push_task_session(
    demo_output, user, scenario, decision, owner, linked, label, issue
):
    cells = row(demo_output.stdout, user, scenario)
    assert cells[:5] == [decision, owner, linked, label, issue]


def test_R18_cancelled_item_lost_its_sf_event(demo_output):
    cells = row(demo_output.stdout, "carol", "saved, then cancelled [R-18]")
    assert cells[:5] == ["cancelled, SF Event deleted", "-", "-", "-", "-"]


def test_demo_says_how_to_explore_further(demo_output):
    assert "make up SEED=demo" in demo_output.stdout
    assert "{'queued'" not in demo_output.stdout  # no raw data structures


def test_R32_demo_prints_the_dashboard_and_how_to_sign_in(demo_output):
    out = demo_output.stdout
    assert re.search(r"sync-issues dashboard \(R-32\): http://127\.0\.0\.1:\d+/dashboard", out)
    assert 'choose "Sign in with Google (local stack)" and type admin@example.com' in out
