"""`sync EMAIL [--dry-run] [--sweep] [--json]`: one session now, or its plan only (R-36)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from functions.cli.common import CliError, Context, Failed, add_json_flag, command, print_json


def register(commands: Any) -> None:
    sync = command(
        commands, "sync", _sync, "run one user's sync session now (or print its plan)",
        description="Run one sync session for a user now, as a push or the sweep would. With "
        "--dry-run, print what the session would create, update, delete and label, and why "
        "(each with its rule, docs/rules.md), and write nothing anywhere (R-36).",
        examples=["python main.py sync alice@example.com --dry-run",
                  "python main.py sync alice@example.com --sweep"],
    )  # fmt: skip
    sync.add_argument("email", help="the user's address")
    sync.add_argument("--dry-run", action="store_true",
                      help="print the plan (what and why) and write nothing anywhere (R-36)")  # fmt: skip
    sync.add_argument("--sweep", action="store_true",
                      help="do what the scheduled sweep does: also retry waiting items (R-07, "
                      "R-11) and pick up items that slid into the window (R-05, R-28)")  # fmt: skip
    add_json_flag(sync)


def _sync(ctx: Context, args: argparse.Namespace) -> None:
    from infra.session import Session

    user = ctx.user(args.email)
    if not user.enabled:
        raise CliError(f"{user.email} is disabled; `python main.py users enable` first")
    what = "planning" if args.dry_run else "running"
    print(f"{what} a session of {user.email} ...", file=ctx.err, flush=True)
    report = Session(ctx.services(), user.email, datetime.now(UTC)).run(
        dry_run=args.dry_run, sweep=args.sweep
    )
    if args.json:
        print_json(ctx.out, _as_json(report))
    else:
        ctx.say(report.summary())
        for problem in report.problems:  # calendars left out, settings ignored, a budget wait
            ctx.warn(problem)
        if report.plan is not None and not args.dry_run and report.plan.actions:
            ctx.say(report.plan.render())
    if report.failed:
        raise Failed(
            f"{len(report.failed)} items failed; `python main.py issues --user {user.email}` "
            "says why"
        )


def _as_json(report: Any) -> dict[str, Any]:
    plan = report.plan
    actions = list(plan.actions) if plan is not None else []
    return {
        "user": report.user,
        "dry_run": report.dry_run,
        "items_seen": report.items_seen,
        "full_sync": report.full_sync,
        "created": dict(report.created),
        "failed": report.failures,
        "deletes_held": plan.deletes_held if plan is not None else 0,
        "decisions": [
            {"item": item, "decision": str(decision)}
            for item, decision in (plan.decisions if plan is not None else ())
        ],
        "actions": [
            {"kind": type(a).__name__, "rule": getattr(a, "rule", ""), "what": a.describe()}
            for a in actions
        ],
    }
