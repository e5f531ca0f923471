"""The command line's frame: the parser (each command group adds its own commands), the
`target:` line, and the one place where failures become a message and an exit code."""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from core.ports import SettingsStore
from core.version import VERSION
from functions.cli import backfill, deletes, doctor, history, issues, settings, status, sync, users
from functions.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    Context,
)
from functions.cli.failures import explain
from functions.cli.target import Target

# The command groups, in the order `--help` lists them. A new group is a module with a
# `register(commands)` function, added here.
GROUPS = (users, settings, sync, issues, history, deletes, backfill, doctor, status)

EPILOG = """\
With .calsync/local.env present (written by `make up`) the commands talk to the local stack;
otherwise to the Google Cloud project named by GOOGLE_CLOUD_PROJECT (see README, Configuration).
Each command names its target on stderr. Exit codes: 0 done, 1 a service refused or failed,
2 bad input, 3 not configured or not reachable, 4 cancelled at a confirmation.
`python main.py COMMAND --help` shows a command's options and examples."""


class Parser(argparse.ArgumentParser):
    """argparse with did-you-mean for commands, and a subcommand's own usage on its errors."""

    def error(self, message: str) -> NoReturn:
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = re.findall(r"'([^']*)'", wrong.group(2)) or wrong.group(2).split(", ")
            close = difflib.get_close_matches(wrong.group(1), choices, n=1, cutoff=0.5)
            if close:
                message += f"; did you mean {close[0]!r}?"
        super().error(message)


def parser() -> Parser:
    top = Parser(
        prog="python main.py",
        description="calsync admin: users, settings, sync sessions, issues, history, held deletes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"calsync {VERSION}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                  parser_class=Parser)  # fmt: skip
    for group in GROUPS:
        group.register(commands)
    return top


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse; an unknown flag is reported by the command it was given to, with a suggestion."""
    top = parser()
    args, extra = top.parse_known_args(list(argv))
    if extra:
        leaf: argparse.ArgumentParser = getattr(args, "parser", top)
        known = list(leaf._option_string_actions)
        hints = [
            f"did you mean {close[0]!r}?"
            for flag in extra
            if flag.startswith("-")
            and (close := difflib.get_close_matches(flag.split("=")[0], known, n=1, cutoff=0.6))
        ]
        leaf.error(f"unrecognized arguments: {' '.join(extra)}" + "".join(f"; {h}" for h in hints))
    return args


def run(
    argv: Sequence[str],
    store_factory: Callable[[], SettingsStore],
    out: TextIO | None = None,
    *,
    services_factory: Callable[[], Any] | None = None,
    queue_factory: Callable[[], Any] | None = None,
    config_factory: Callable[[], Any] | None = None,
    history_factory: Callable[[], Any] | None = None,
    budget_factory: Callable[[], Any] | None = None,
    target: Callable[[], Target] | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Parse `argv`, run the command, return its exit code; every failure is one `error:` line
    on stderr (an unexpected one also leaves its traceback in a file the line names)."""
    err = err or sys.stderr
    try:
        args = _parse(argv)
    except SystemExit as exc:  # argparse: --help, --version (0) or a usage error (2)
        return int(exc.code or 0)
    ctx = Context(store_factory, services_factory, queue_factory, config_factory,
                  history_factory=history_factory, out=out or sys.stdout, err=err,
                  stdin=stdin or sys.stdin, budget_factory=budget_factory)  # fmt: skip
    try:
        if target is not None:
            where = target()
            print(f"target: {where.description}", file=err)
            where.check(lambda timeout: _ping(ctx, timeout))
        code = args.handler(ctx, args)  # None, or the exit code of a command that says it
    except CliError as exc:
        print(f"error: {exc}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=err)
        return EXIT_INTERRUPTED
    except Exception as exc:
        known = explain(exc, getattr(args, "email", "") or "")
        if known is not None:
            print(f"error: {known}", file=err)
            return known.exit_code
        if os.environ.get("CALSYNC_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=err)
        print(f"  the traceback is in {_keep_traceback()}; please report it", file=err)
        return EXIT_FAILED
    return int(code or 0)


def _ping(ctx: Context, timeout: float) -> None:
    ping = getattr(ctx.store, "ping", None)
    if ping is not None:
        ping(timeout)


def _keep_traceback() -> str:
    with tempfile.NamedTemporaryFile(
        "w", prefix="calsync-error-", suffix=".txt", delete=False
    ) as file:
        traceback.print_exc(file=file)
        return file.name


def main(argv: Sequence[str]) -> int:
    """`python main.py ...`: the real services, or the local stack when `make up` wrote it."""
    from infra import wiring
    from infra.config import load_local_env, local_env_path
    from infra.logs import configure

    configure(stream=sys.stderr, level=logging.WARNING)  # stdout is the command's answer
    local = local_env_path() if load_local_env() else None
    return run(
        argv,
        wiring.settings_store,
        services_factory=wiring.services,
        queue_factory=wiring.session_queue,
        config_factory=wiring.config,
        history_factory=wiring.history,
        budget_factory=wiring.budget,
        target=lambda: Target.of(wiring.config(), local, os.environ),
    )


__all__ = ["EXIT_USAGE", "main", "parser", "run"]
