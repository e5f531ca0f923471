"""`make up` / `make down`: the whole local stack starts, writes its endpoints, answers, and stops clean."""

import os
import subprocess
import sys
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


def alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("mode", ["keyless", "key"])
def test_up_then_down_leaves_nothing_behind(tmp_path, mode):
    """Both ways of domain-wide delegation run the whole stack; `doctor` then passes every check
    against it, delegation for a real user included (R-34)."""
    env = {**os.environ, "CALSYNC_STATE_DIR": str(tmp_path), "CALSYNC_LOCAL_DWD": mode}
    for key in KEYS:  # the stack must not reuse emulators this test session started
        env.pop(key, None)

    def stack(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "emulators.stack", command],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip

    started = stack("up")
    try:
        assert started.returncode == 0, started.stderr
        endpoints = read_env_file(tmp_path / "local.env")
        assert set(endpoints) >= KEYS
        status = requests.get(endpoints["CALSYNC_FUNCTIONS_URL"] + "/status", timeout=10)
        assert status.json()["service"] == "calsync"
        if mode == "keyless":  # no key file anywhere; the metadata server's identity signs
            assert "CALSYNC_GOOGLE_SA_KEY_SECRET" not in endpoints
            assert endpoints["GCE_METADATA_HOST"] and endpoints["CALSYNC_RUNTIME_SERVICE_ACCOUNT"]
            assert not (tmp_path / "keys" / "google-sa.json").exists()
        else:
            assert endpoints["CALSYNC_GOOGLE_SA_KEY_SECRET"].startswith("file:")
            assert "GCE_METADATA_HOST" not in endpoints
        cli = [sys.executable, "main.py"]
        enabled = subprocess.run([*cli, "users", "enable", "alice@example.com"], cwd=ROOT,
                                 env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert enabled.returncode == 0, enabled.stderr
        assert "watching their calendar" in enabled.stdout
        doctor = subprocess.run([*cli, "doctor"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "read alice@example.com's calendar" in doctor.stdout
        assert "FAIL" not in doctor.stdout
        pids = [
            int(line.split("pid")[1].split()[0])
            for line in started.stdout.splitlines()
            if " pid " in line
        ]
        assert len(pids) == 6  # Firestore, Cloud Tasks, Calendar, Salesforce, identity, functions
    finally:
        stopped = stack("down")
    assert stopped.returncode == 0
    assert not (tmp_path / "local.env").exists()
    assert [pid for pid in pids if alive(pid)] == []
