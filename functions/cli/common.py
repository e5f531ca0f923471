"""What every admin command shares: its context, the errors that carry an exit code, tables,
JSON, times and the confirmation prompt."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from core.ports import SettingsStore
from core.users import normalise_email

# Exit codes (README, "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # a service refused or failed, or some writes failed
EXIT_USAGE = 2  # bad input: command, flag, value, unknown user, refused by a check
EXIT_CONFIG = 3  # not configured or not reachable: project, credentials, local stack
EXIT_CANCELLED = 4  # the admin answered no (or could not be asked) at a confirmation
EXIT_INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """Printed as `error: ...`; `exit_code` says what kind of failure it was."""

    exit_code = EXIT_USAGE


class Failed(CliError):
    """A service refused or failed; nothing (or only part) was done."""

    exit_code = EXIT_FAILED


class NotConfigured(CliError):
    """The command line cannot reach or log in to what it talks to."""

    exit_code = EXIT_CONFIG


class Cancelled(CliError):
    exit_code = EXIT_CANCELLED


Handler = Callable[["Context", argparse.Namespace], int | None]


@dataclass
class Context:
    """What a command may use, each part built on first use (most need only the settings store)."""

    store_factory: Callable[[], SettingsStore]
    services_factory: Callable[[], Any] | None = None
    queue_factory: Callable[[], Any] | None = None
    config_factory: Callable[[], Any] | None = None
    history_factory: Callable[[], Any] | None = None  # infra.history.FirestoreHistory
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    budget_factory: Callable[[], Any] | None = None  # -> core.budget.Budget | None
    _store: SettingsStore | None = None
    _services: Any = None

    @property
    def functions_url(self) -> str:
        return str(self.config_factory().functions_url) if self.config_factory else ""

    @property
    def store(self) -> SettingsStore:
        if self._store is None:
            self._store = self.store_factory()
        return self._store

    def services(self) -> Any:
        if self.services_factory is None:
            raise NotConfigured("this command needs the Calendar and Salesforce configuration")
        if self._services is None:
            self._services = self.services_factory()
        return self._services

    def history(self) -> Any:
        if self.history_factory is None:
            raise NotConfigured("this command needs the Firestore configuration")
        return self.history_factory()

    def queue(self) -> Any | None:
        return self.queue_factory() if self.queue_factory is not None else None

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def warn(self, text: str) -> None:
        print(f"warning: {text}", file=self.err)

    def user(self, text: str) -> Any:
        """The stored user of this address, or the "no user" error every command gives."""
        email = email_of(text)
        user = self.store.get_user(email)
        if user is None:
            raise CliError(f"no user {email}; `python main.py users list` shows them")
        return user

    def confirm(self, question: str, yes: bool) -> None:
        """Ask `question [y/N]` on stderr and read the answer from stdin; `--yes` skips it.
        Anything but y/yes, or no answer at all, cancels (exit 4)."""
        if yes:
            return
        print(f"{question} [y/N] ", end="", file=self.err, flush=True)
        answer = self.stdin.readline()
        if not answer:
            print(file=self.err)
            raise Cancelled("no answer (input is closed); nothing done. Pass --yes to go ahead")
        if answer.strip().lower() not in {"y", "yes"}:
            raise Cancelled("cancelled; nothing done")


def email_of(text: str) -> str:
    try:
        return normalise_email(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def rfc3339(value: Any) -> str:
    """A time as every listing prints it: RFC 3339 in UTC, to the second ("" when unknown)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def print_table(out: TextIO, head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """An aligned table with a header; the last column is not padded (it may be long)."""
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)]
        print("  ".join([*cells, str(row[-1])]).rstrip(), file=out)


def print_json(out: TextIO, value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), file=out)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (the same fields)")


def add_yes_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def command(
    commands: Any, name: str, handler: Handler, help: str, *, description: str = "",
    examples: Sequence[str] = (),
) -> argparse.ArgumentParser:  # fmt: skip
    """Add one command: its help line, a description, examples, and the handler it runs."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) if examples else None
    text = "\n\n".join(
        p if p.startswith(" ") else textwrap.fill(p, 88)
        for p in (description or help).split("\n\n")
    )
    leaf = commands.add_parser(
        name, help=help, description=text, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    leaf.set_defaults(handler=handler, parser=leaf)
    return leaf


def group(commands: Any, name: str, help: str) -> Any:
    """A command group (`users`, `settings`, ...) whose commands are added with `command`."""
    parser = commands.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION",
                                 parser_class=type(parser))  # fmt: skip
