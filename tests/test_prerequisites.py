"""`make test` / `make demo` on a machine without Java or the Cloud CLI stop at once, saying what
to install, instead of waiting for a port that never opens."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", ["test", "demo", "up"])
def test_missing_java_and_gcloud_are_named(tmp_path, command):
    env = {**os.environ, "PATH": str(tmp_path), "CALSYNC_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "emulators.stack", command],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Java 17+ is not installed" in done.stderr + done.stdout


def test_missing_gcloud_is_named_when_java_is_there(tmp_path):
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(0o755)
    env = {**os.environ, "PATH": str(tmp_path), "CALSYNC_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "emulators.stack", "test"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Google Cloud CLI (gcloud) is not installed" in done.stderr
    assert "cloud-firestore-emulator" in done.stderr
