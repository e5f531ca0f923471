"""The admin command line (`python main.py ...`): users, settings, and later sync and issues.

With `.calsync/local.env` present (written by `make up`) it talks to the local stack; otherwise it
uses the environment, as the Cloud Functions do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from core.ports import SettingsStore
from core.settings import (
    BY_NAME,
    SettingError,
    parse_cli_value,
    resolve,
    to_storable,
    validate,
)
from core.users import normalise_email

EXIT_USAGE = 2


class CliError(Exception):
    """Bad input: printed as `error: ...` with exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="calsync admin: enable users and tune settings.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    users = commands.add_parser("users", help="enable, disable and list users")
    users_cmd = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    enable = users_cmd.add_parser("enable", help="enable a Workspace user for sync")
    enable.add_argument("email")
    enable.add_argument(
        "--sf-user-id", default="", help="Salesforce User Id (default: match by email)"
    )
    disable = users_cmd.add_parser("disable", help="stop syncing a user (keeps their mappings)")
    disable.add_argument("email")
    users_cmd.add_parser("list", help="list users")

    settings = commands.add_parser("settings", help="show and change settings")
    settings_cmd = settings.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = settings_cmd.add_parser("show", help="the settings in force, and where each comes from")
    show.add_argument("--user", help="a user's settings (org settings plus their overrides)")
    show.add_argument("--json", action="store_true", help="print JSON")
    put = settings_cmd.add_parser("set", help="change one setting (VALUE is JSON when it parses)")
    put.add_argument("key")
    put.add_argument("value")
    put.add_argument("--user", help="override for this user only")
    return parser


def _users_enable(store: SettingsStore, args: argparse.Namespace, out: TextIO) -> None:
    user = store.enable_user(_email(args.email), sf_user_id=args.sf_user_id)
    sf = user.sf_user_id or "matched by email on the first session"
    print(f"enabled {user.email} (Salesforce user: {sf})", file=out)


def _users_disable(store: SettingsStore, args: argparse.Namespace, out: TextIO) -> None:
    email = _email(args.email)
    try:
        store.disable_user(email)
    except KeyError:
        raise CliError(f"no user {email}; `python main.py users list` shows them") from None
    print(f"disabled {email}", file=out)


def _users_list(store: SettingsStore, args: argparse.Namespace, out: TextIO) -> None:
    users = store.list_users()
    if not users:
        print("no users yet; enable one with `python main.py users enable EMAIL`", file=out)
        return
    width = max(len(u.email) for u in users)
    for user in users:
        state = "enabled " if user.enabled else "disabled"
        overrides = f"  overrides: {', '.join(sorted(user.settings))}" if user.settings else ""
        print(
            f"{user.email:<{width}}  {state}  sf_user_id={user.sf_user_id or '-'}{overrides}",
            file=out,
        )


def _settings_show(store: SettingsStore, args: argparse.Namespace, out: TextIO) -> None:
    org = store.org_settings()
    overrides: dict[str, Any] = {}
    label = "org"
    if args.user:
        user = store.get_user(_email(args.user))
        if user is None:
            raise CliError(f"no user {args.user}; `python main.py users list` shows them")
        overrides, label = user.settings, user.email
    settings, problems = resolve(org, overrides, user=label)
    values = settings.as_dict()
    ignored = {(p.source, p.name) for p in problems}

    def source(name: str) -> str:
        if name in overrides and (label, name) not in ignored:
            return "user"
        return "org" if name in org and ("org", name) not in ignored else "default"

    if args.json:
        print(json.dumps({k: to_storable(v, k) for k, v in values.items()}, indent=2), file=out)
    else:
        width = max(len(name) for name in values)
        for name, value in values.items():
            shown = json.dumps(to_storable(value, name))
            print(f"{name:<{width}}  {shown}  ({source(name)})", file=out)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)


def _settings_set(store: SettingsStore, args: argparse.Namespace, out: TextIO) -> None:
    raw = parse_cli_value(args.value)
    try:
        value = to_storable(validate(args.key, raw, for_user=bool(args.user)), args.key)
    except SettingError as exc:
        raise CliError(str(exc)) from None
    if args.user:
        email = _email(args.user)
        try:
            store.set_user_settings(email, {args.key: value})
        except KeyError:
            raise CliError(f"no user {email}; enable them first with `users enable`") from None
        print(f"{email}: {args.key} = {json.dumps(value)}", file=out)
    else:
        store.set_org_settings({args.key: value})
        print(f"org: {args.key} = {json.dumps(value)}", file=out)


def _email(text: str) -> str:
    try:
        return normalise_email(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


HANDLERS: dict[tuple[str, str], Callable[[SettingsStore, argparse.Namespace, TextIO], None]] = {
    ("users", "enable"): _users_enable,
    ("users", "disable"): _users_disable,
    ("users", "list"): _users_list,
    ("settings", "show"): _settings_show,
    ("settings", "set"): _settings_set,
}
assert set(BY_NAME)  # the catalogue is importable before any command runs


def run(
    argv: Sequence[str],
    store_factory: Callable[[], SettingsStore],
    out: TextIO = sys.stdout,
) -> int:
    """Parse `argv`, run the command on the store the factory builds, return the exit code."""
    args = _parser().parse_args(list(argv))
    try:
        HANDLERS[(args.command, args.action)](store_factory(), args, out)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0
