"""`python main.py` as an admin runs it, in a process of its own: a message and a documented exit
code (README, "Exit codes") for each thing that can be wrong before any service is reached, and
never a traceback. No emulator is needed: what these tests point the CLI at does not answer."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.version import VERSION
from functions.cli import run
from functions.cli.common import EXIT_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]


def clean_env(state: Path, **extra: str) -> dict[str, str]:
    """No project, no emulator, no local stack, no credentials: only what the test adds."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GOOGLE_", "GCLOUD_", "FIRESTORE_", "CALSYNC_"))
    }
    return {**env, "CALSYNC_STATE_DIR": str(state), "HOME": str(state), **extra}


def main_py(env: dict[str, str], *argv: str, python: tuple[str, ...] = (sys.executable,)):
    done = subprocess.run([*python, "main.py", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr
    return done


def test_version(tmp_path):
    done = main_py(clean_env(tmp_path), "--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"calsync {VERSION}")


def test_changelog_names_the_version():
    first = next(
        line for line in (ROOT / "CHANGELOG.md").read_text().splitlines() if line.startswith("## ")
    )
    assert first.startswith(f"## {VERSION} ")


def test_outside_the_virtualenv_it_says_how_to_run_it(tmp_path):
    # -S: no site-packages, as with a system Python that lacks calsync's libraries
    done = main_py(clean_env(tmp_path), "users", "list", python=(sys.executable, "-S"))
    assert done.returncode == EXIT_CONFIG
    assert "lacks calsync's libraries" in done.stderr
    assert ".venv/bin/python main.py" in done.stderr


def test_help_lists_commands_and_exit_codes(tmp_path):
    done = main_py(clean_env(tmp_path), "--help")
    assert done.returncode == 0
    for word in ("users", "settings", "sync", "issues", "deletes", "Exit codes"):
        assert word in done.stdout
    enable = main_py(clean_env(tmp_path), "users", "enable", "--help")
    assert "examples:" in enable.stdout and "watch" in enable.stdout


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param((), "the following arguments are required: COMMAND", id="no command"),
        pytest.param(("users", "lst"), "did you mean 'list'?", id="command typo"),
        pytest.param(("isues",), "did you mean 'issues'?", id="group typo"),
        pytest.param(("issues", "--jsn"), "did you mean '--json'?", id="flag typo"),
        pytest.param(
            ("settings", "unset"),
            "the following arguments are required: KEY",
            id="missing argument",
        ),  # fmt: skip
    ],
)
def test_usage_errors_exit_2_with_the_commands_own_usage(tmp_path, argv, says):
    done = main_py(clean_env(tmp_path), *argv)
    assert done.returncode == EXIT_USAGE
    assert says in done.stderr
    if argv[:1] == ("issues",):
        assert done.stderr.startswith("usage: python main.py issues")


def test_no_project_configured(tmp_path):
    done = main_py(clean_env(tmp_path), "users", "list")
    assert done.returncode == EXIT_CONFIG
    assert done.stderr.startswith("error: GOOGLE_CLOUD_PROJECT is not set")


def test_a_project_without_credentials_names_the_target_and_the_fix(tmp_path):
    env = clean_env(tmp_path, GOOGLE_CLOUD_PROJECT="my-proj", NO_GCE_CHECK="True")
    done = main_py(env, "users", "list")
    assert done.returncode == EXIT_CONFIG
    lines = done.stderr.splitlines()
    assert lines[0] == "target: project my-proj, Firestore database (default)"
    assert "no Google credentials" in lines[1]
    assert "gcloud auth application-default login" in lines[1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_stale_local_stack_gives_a_message_in_seconds_not_a_hang(tmp_path):
    port = _closed_port()
    (tmp_path / "local.env").write_text(
        f"GOOGLE_CLOUD_PROJECT=demo-calsync\nFIRESTORE_EMULATOR_HOST=127.0.0.1:{port}\n"
        f"CALSYNC_CALENDAR_URL=http://127.0.0.1:{port}/calendar/v3/\n"
    )
    started = time.monotonic()
    done = main_py(clean_env(tmp_path), "users", "list")
    assert time.monotonic() - started < 20
    assert done.returncode == EXIT_CONFIG
    assert done.stderr.splitlines()[0] == f"target: local stack ({tmp_path / 'local.env'})"
    assert f"is not answering (the Firestore emulator at 127.0.0.1:{port})" in done.stderr
    assert "run `make up`, or `make down` to forget it" in done.stderr


def _boom():
    raise RuntimeError("a bug")


def test_an_unexpected_failure_is_one_line_and_its_traceback_is_kept(monkeypatch):
    monkeypatch.delenv("CALSYNC_DEBUG", raising=False)
    err = io.StringIO()
    assert run(["users", "list"], _boom, out=io.StringIO(), err=err) == EXIT_FAILED
    first, second = err.getvalue().splitlines()
    assert first == "error: unexpected RuntimeError: a bug"
    kept = Path(second.split("the traceback is in ", 1)[1].split(";")[0])
    assert "RuntimeError: a bug" in kept.read_text()
    kept.unlink()


def test_ctrl_c_exits_130():
    def interrupted():
        raise KeyboardInterrupt

    err = io.StringIO()
    assert run(["users", "list"], interrupted, err=err) == EXIT_INTERRUPTED
    assert "interrupted" in err.getvalue()
