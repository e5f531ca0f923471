"""The README's "Try it yourself", run as written: every command of its `sh` blocks in a shell,
in order, each one exiting 0, and each `# shows: TEXT` found in the output of the command above
it (asked again for a while: the sync runs a second after a change, through push → task →
session). The stack runs in a state directory of its own, not the checkout's `.calsync/`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
STACK_KEYS = ("FIRESTORE_EMULATOR_HOST", "CALSYNC_TASKS_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")
PATIENCE = 30.0  # seconds a `# shows:` line may take to come true


@dataclass(frozen=True)
class Step:
    command: str
    shows: tuple[str, ...] = ()


def steps(part: str) -> list[Step]:
    """The commands of the README walkthrough's `part` ("main" or "deletes")."""
    text = README.read_text()
    body = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    main, deletes = body.split("<!-- walkthrough:deletes -->", 1)
    found: list[Step] = []
    for block in re.findall(r"```sh\n(.*?)```", main if part == "main" else deletes, re.S):
        for line in block.splitlines():
            if line.startswith("# shows: "):
                last = found.pop()
                found.append(Step(last.command, (*last.shows, line.removeprefix("# shows: "))))
            elif line.strip() and not line.startswith("#"):
                found.append(Step(line.strip()))
    return found


def test_the_walkthrough_is_what_the_readme_says():
    assert steps("main")[0].command == "make up SEED=demo"
    assert steps("deletes")[-1].command == "make down"
    assert all(s.command.startswith((".venv/bin/python ", "make ")) for s in steps("main"))


@pytest.fixture(scope="module")
def shell(tmp_path_factory) -> Iterator[object]:
    env = {k: v for k, v in os.environ.items() if k not in STACK_KEYS}
    env["CALSYNC_STATE_DIR"] = str(tmp_path_factory.mktemp("walkthrough"))

    def run(step: Step) -> str:
        deadline = time.monotonic() + PATIENCE
        while True:
            done = subprocess.run(step.command, shell=True, executable="/bin/bash", cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
            said = done.stdout + done.stderr
            assert done.returncode == 0, f"`{step.command}` exited {done.returncode}:\n{said}"
            assert "Traceback" not in said
            missing = [s for s in step.shows if s not in said]
            if not missing:
                return said
            assert time.monotonic() < deadline, f"`{step.command}` never showed {missing}:\n{said}"
            time.sleep(0.5)

    yield run
    subprocess.run([sys.executable, "-m", "emulators.stack", "down"], cwd=ROOT, env=env,
                   capture_output=True, timeout=120)  # fmt: skip


def test_R01_R07_a_rep_event_reaches_salesforce_then_an_issue_and_its_fix(shell):
    for step in steps("main"):
        shell(step)


def test_R37_a_held_delete_shown_and_confirmed(shell):
    for step in steps("deletes"):
        shell(step)
