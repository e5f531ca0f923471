"""`make up` / `make down`: the whole local stack starts (empty or with the demo org), writes its
endpoints, answers, notices when it died, and `down` signals only the processes it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.config import read_env_file

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "FIRESTORE_EMULATOR_HOST",
    "CALSYNC_TASKS_EMULATOR_HOST",
    "CALSYNC_CALENDAR_URL",
    "CALSYNC_SF_INSTANCE_URL",
    "CALSYNC_SF_CA_CERT",
    "CALSYNC_FUNCTIONS_URL",
    "GOOGLE_CLOUD_PROJECT",
}
PROCESSES = {
    "firestore",
    "cloud-tasks",
    "google-calendar",
    "salesforce",
    "google-identity",
    "functions",
    "scheduler",
}


def alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stack_env(state: Path) -> dict[str, str]:
    """The caller's environment without the emulators this test session started."""
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env["CALSYNC_STATE_DIR"] = str(state)
    mode = (state / "dwd-mode").read_text() if (state / "dwd-mode").exists() else ""
    if mode:
        env["CALSYNC_LOCAL_DWD"] = mode
    return env


def stack(state: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulators.stack", *argv],
        cwd=ROOT, env=stack_env(state), capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def admin(state: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", *argv],
        cwd=ROOT, env=stack_env(state), capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def recorded(state: Path) -> dict[str, dict[str, object]]:
    return dict(json.loads((state / "stack.json").read_text()))


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    stack(tmp_path, "down")


@pytest.mark.parametrize("mode", ["keyless", "key"])
def test_up_then_down_leaves_nothing_behind(state, mode):
    """Both ways of domain-wide delegation run the whole stack; `doctor` then passes every check
    against it, delegation for a real user included (R-34)."""
    (state / "dwd-mode").write_text(mode)
    started = stack(state, "up")
    assert started.returncode == 0, started.stderr
    assert "the stack is empty. next:" in started.stdout
    endpoints = read_env_file(state / "local.env")
    assert set(endpoints) >= KEYS
    status = requests.get(endpoints["CALSYNC_FUNCTIONS_URL"] + "/status", timeout=10).json()
    assert status["service"] == "calsync" and "enabled_users" not in status  # M7
    assert status["version"]
    if mode == "keyless":  # no key file anywhere; the metadata server's identity signs
        assert "CALSYNC_GOOGLE_SA_KEY_SECRET" not in endpoints
        assert endpoints["GCE_METADATA_HOST"] and endpoints["CALSYNC_RUNTIME_SERVICE_ACCOUNT"]
        assert not (state / "keys" / "google-sa.json").exists()
    else:
        assert endpoints["CALSYNC_GOOGLE_SA_KEY_SECRET"].startswith("file:")
        assert "GCE_METADATA_HOST" not in endpoints
    admin(state, "settings", "set", "internal_domains", '["example.com"]')
    enabled = admin(state, "users", "enable", "alice@example.com")
    assert enabled.returncode == 0, enabled.stderr
    assert "watching their calendar" in enabled.stdout
    doctor = admin(state, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "read alice@example.com's calendar" in doctor.stdout and "FAIL" not in doctor.stdout
    pids = {name: int(entry["pid"]) for name, entry in recorded(state).items()}
    assert set(pids) == PROCESSES
    assert "already up" in stack(state, "up").stdout
    stopped = stack(state, "down")
    assert stopped.returncode == 0
    assert not (state / "local.env").exists() and not (state / "stack.json").exists()
    assert [name for name, pid in pids.items() if alive(pid)] == []


def test_up_with_the_demo_org_says_what_to_do_next(state):
    started = stack(state, "up", "--seed", "demo")
    assert started.returncode == 0, started.stderr
    assert "loaded the demo org" in started.stdout
    assert "python -m emulators.rep alice@example.com add" in started.stdout
    listed = admin(state, "users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [u["email"] for u in json.loads(listed.stdout)] == [
        "alice@example.com", "bob@example.com", "carol@example.com"]  # fmt: skip
    assert listed.stderr.startswith(f"target: local stack ({state / 'local.env'})")
    assert stack(state, "up", "--seed", "other").returncode == 2


def test_a_stack_that_died_is_noticed_and_started_afresh(state):
    assert stack(state, "up").returncode == 0
    firestore = int(recorded(state)["firestore"]["pid"])
    os.killpg(firestore, signal.SIGKILL)
    answer = admin(state, "users", "list")
    assert answer.returncode == 3
    assert "is not answering (the Firestore emulator at" in answer.stderr
    assert "run `make up`, or `make down` to forget it" in answer.stderr
    again = stack(state, "up")
    assert again.returncode == 0, again.stderr
    assert "had stopped (firestore not running); starting it afresh" in again.stdout
    assert "firestore (pid" in again.stdout and "was not running" in again.stdout
    assert admin(state, "users", "list").returncode == 0


def test_down_signals_only_processes_it_started(state):
    assert stack(state, "up").returncode == 0
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        record = recorded(state)
        real = {name: int(entry["pid"]) for name, entry in record.items()}
        # The pid file now names a live process that `up` did not start (a reused pid): its
        # start time differs from the recorded one, so `down` must leave it alone.
        record["firestore"]["pid"] = stranger.pid
        (state / "stack.json").write_text(json.dumps(record))
        stopped = stack(state, "down")
        assert stopped.returncode == 0
        assert f"firestore (pid {stranger.pid}) was not running" in stopped.stdout
        assert stranger.poll() is None  # still running
        assert [n for n, pid in real.items() if n != "firestore" and alive(pid)] == []
    finally:
        stranger.kill()
        stranger.wait()
        os.killpg(real["firestore"], signal.SIGKILL)
