"""functions/backfill_cli.py: `python main.py backfill ...` on fakes of the ports (R-38): the
progress line (honest on a non-TTY), resume, --all as Cloud Tasks chains, status, messages
for bad input. The real services are tested in tests/integration/test_backfill_*.py."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from core.backfill import Status
from functions import backfill_cli
from functions.backfill_cli import Deps, ProgressBar
from infra.backfill import Backfill
from tests.fakes import (
    FakeBackfillQueue,
    FakeBatchRunner,
    FakePages,
    FixedBudget,
    InMemoryBackfillStore,
    InMemorySettingsStore,
)
from tests.infra.test_backfill import ANN, NOW, item

BOB = "bob@corp.example"


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def cli():
    settings = InMemorySettingsStore()
    settings.enable_user(ANN)
    settings.enable_user(BOB)
    settings.set_org_settings({"window_past_days": 14})
    pages = FakePages({ANN: [item(n) for n in range(25)], BOB: [item(n, BOB) for n in range(3)]})
    runner, store, queue = FakeBatchRunner(), InMemoryBackfillStore(), FakeBackfillQueue()
    ticks = iter(range(10_000))
    engine = Backfill(store, lambda e: pages, runner, FixedBudget(), clock=lambda: NOW,
                      timer=lambda: float(next(ticks)), sleep=lambda s: None, page_size=10)  # fmt: skip
    deps = Deps(settings=lambda: settings, engine=lambda needs: engine, queue=lambda: queue,
                clock=lambda: NOW, timer=lambda: 0.0)  # fmt: skip

    def run(*argv: str, err: io.StringIO | None = None) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser()
        backfill_cli.register(parser.add_subparsers(dest="command"))
        out, err = io.StringIO(), err if err is not None else io.StringIO()
        try:
            with contextlib.redirect_stderr(err):  # argparse refuses a malformed date itself
                args = parser.parse_args(["backfill", *argv])
        except SystemExit as exc:
            return int(exc.code or 0), out.getvalue(), err.getvalue()
        code = backfill_cli.handle(args, deps, out, err)
        return code, out.getvalue(), err.getvalue()

    run.runner, run.store, run.queue, run.deps = runner, store, queue, deps
    return run


def test_R38_backfill_one_user_to_the_end(cli):
    code, out, err = cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    assert code == 0
    assert (
        "backfill 2025-01-01 to 2026-01-01 done: 25 items read, 25 saved, 0 skipped, 0 failed"
        in out
    )
    assert len(cli.runner.saved) == 25
    assert "\r" not in err and "\x1b" not in err  # not a terminal: plain lines only
    assert err.strip().splitlines()[-1].startswith("[####################] 100% read 25 of 25")


def test_R38_progress_redraws_one_line_on_a_terminal():
    tty = TTY()
    ticks = iter([0.0, 0.1, 0.5, 0.6])
    bar = ProgressBar(tty, lambda: next(ticks))
    from core.backfill import BatchResult, new_checkpoint

    cp = new_checkpoint(ANN, date(2025, 1, 1), date(2026, 1, 1), (ANN,), NOW)
    cp = type(cp)(**{**cp.__dict__, "total": 20})
    bar(cp)
    cp = cp.after_batch(10, BatchResult(saved=10), "t", NOW, 2.0)
    bar(cp)  # 0.1 s later: held back, shown at close
    cp = cp.after_batch(10, BatchResult(saved=9, failed=1), "", NOW, 2.0)
    bar(cp)
    bar.close()
    text = tty.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and "\n" not in text[:-1]
    assert "read 20 of 20 | saved 19 | skipped 0 | failed 1 | 5.0 items/s | done" in text


def test_R38_progress_on_a_non_tty_is_a_line_every_ten_seconds():
    plain = io.StringIO()
    ticks = iter([0.0, 4.0, 11.0, 12.0])
    bar = ProgressBar(plain, lambda: next(ticks))
    from core.backfill import BatchResult, new_checkpoint

    cp = new_checkpoint(ANN, date(2025, 1, 1), date(2026, 1, 1), (ANN,), NOW)
    for _ in range(4):
        cp = cp.after_batch(10, BatchResult(saved=10), "t", NOW, 1.0)
        bar(cp)
    bar.close()
    lines = plain.getvalue().splitlines()
    assert [line.split(" | ")[0] for line in lines] == ["read 10", "read 30", "read 40"]


def test_R38_interrupted_then_resumed_with_the_same_command(cli):
    cli.runner.interrupt_on = 2
    code, _, err = cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    assert code == 130 and "run the same command again to resume" in err
    assert cli.store.get(ANN).status is Status.PAUSED
    cli.runner.interrupt_on = None
    code, out, err = cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    assert code == 0 and "resuming after 10 items (1 batches)" in err
    assert len(cli.runner.saved) == len(set(cli.runner.saved)) == 25
    code, out, _ = cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    assert code == 0 and "nothing to do: this backfill finished" in out


def test_R38_dry_run_writes_nothing(cli):
    code, out, _ = cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01", "--dry-run")
    assert code == 0 and "dry run, nothing written: 25 items read, would save 25" in out
    assert cli.runner.saved == [] and cli.store.get(ANN) is None


def test_R38_all_queues_one_chain_per_enabled_user(cli):
    code, out, _ = cli("--all", "--since", "2025-01-01", "--until", "2026-01-01")
    assert code == 0 and "2 backfill(s) queued" in out
    assert sorted(s[0] for s in cli.queue.slices) == [ANN, BOB]
    assert all(s[2] == 1 for s in cli.queue.slices)
    assert {cp.status for cp in cli.store.list()} == {Status.QUEUED}
    code, out, _ = cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    assert code == 2  # a backfill queued in Cloud Tasks is not also run here


def test_R38_status_shows_each_backfill(cli):
    cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    code, out, _ = cli("status")
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split() == ["USER", "RANGE", "STATUS", "READ", "SAVED", "SKIPPED", "FAILED",
                              "RATE", "LEFT", "UPDATED"]  # fmt: skip
    assert row.split()[:8] == [ANN, "2025-01-01", "to", "2026-01-01", "done", "25/25", "25", "0"]
    code, out, _ = cli("status", "--json")
    [entry] = json.loads(out)
    assert entry["user"] == ANN and entry["saved"] == 25 and entry["runs_in"] == "command line"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([ANN], "--since DATE is needed", id="no since"),
        pytest.param([ANN, "--since", "soon"], "--since 'soon' is not a date", id="bad date"),
        pytest.param([ANN, "--since", "2026-03-01"], "must be before --until", id="inside the window"),
        pytest.param(["--since", "2025-01-01"], "name one user", id="nobody"),
        pytest.param([ANN, "--all", "--since", "2025-01-01"], "name one user", id="both"),
        pytest.param(["nobody@corp.example", "--since", "2025-01-01"], "not an enabled user", id="unknown user"),
        pytest.param(["not-an-address", "--since", "2025-01-01"], "is not an email address", id="not an address"),
        pytest.param(["status", ANN, BOB], "usage: backfill status", id="status takes one user"),
        pytest.param(["--all", "--dry-run", "--since", "2025-01-01"], "--dry-run runs one user", id="all dry"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_message_and_exit_code_2(cli, argv, message):
    code, out, err = cli(*argv)
    assert code == 2 and message in err and out == ""


def test_other_dates_while_one_is_unfinished(cli):
    cli.runner.interrupt_on = 2
    cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    cli.runner.interrupt_on = None
    code, _, err = cli(ANN, "--since", "2024-01-01", "--until", "2026-01-01")
    assert code == 2 and "unfinished backfill from 2025-01-01 to 2026-01-01" in err
    code, _, _ = cli(ANN, "--since", "2024-01-01", "--until", "2026-01-01", "--restart")
    assert code == 0 and cli.store.get(ANN).since == date(2024, 1, 1)


def test_a_stopped_backfill_exits_1_with_its_reason(cli):
    from core.ports import BudgetCheck

    engine = cli.deps.engine(True)
    engine.budget = FixedBudget(
        BudgetCheck(True), BudgetCheck(False, "stopped to spare the budget")
    )
    code, out, _ = cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    assert code == 1 and "stopped: stopped to spare the budget" in out
    assert cli.store.get(ANN).read == 10


def test_held_elsewhere(cli):
    cli.store.claim(ANN, "task:x", NOW, timedelta(minutes=2))
    code, _, err = cli(ANN, "--since", "2025-01-01", "--until", "2026-01-01")
    assert code == 2 and "holds it until 12:02:00 UTC" in err
    assert datetime(2026, 3, 2, 12, 2, tzinfo=UTC) == cli.store.held_until(ANN)


def test_main_py_backfill_answers_bad_input_and_no_target_without_a_traceback(tmp_path):
    """Through `python main.py` as an admin runs it: a bad date is exit 2 with the reason; no
    reachable Google Cloud project is exit 3 with what to do; never a traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALSYNC_", "FIRESTORE_"))}
    env.update(GOOGLE_CLOUD_PROJECT="demo-backfill", CALSYNC_STATE_DIR=str(tmp_path))

    def main(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "main.py", "backfill", *argv], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    missing = main(ANN, "--since", "2024-01-01")
    assert missing.returncode == 3 and "gcloud auth application-default login" in missing.stderr
    bad = main(ANN, "--since", "someday")
    assert bad.returncode == 2 and "--since 'someday' is not a date" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr
