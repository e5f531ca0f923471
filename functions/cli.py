"""The admin command line (`python main.py ...`): users, settings, and later sync and issues.

With `.calsync/local.env` present (written by `make up`) it talks to the local stack; otherwise it
uses the environment, as the Cloud Functions do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
        description="calsync admin: users, settings, sync sessions, issues.",
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
    sync = commands.add_parser("sync", help="run one user's sync session now")
    sync.add_argument("email")
    sync.add_argument("--dry-run", action="store_true",
                      help="print the plan (what and why) and write nothing anywhere (R-36)")  # fmt: skip
    sync.add_argument(
        "--sweep", action="store_true", help="also look for items that slid into the window"
    )
    issues = commands.add_parser("issues", help="open sync issues (R-31, R-32)")
    issues.add_argument("--user", help="only this user's")
    issues.add_argument("--code", help="only this code, e.g. ISE-013")
    issues.add_argument("--json", action="store_true", help="print JSON")
    deletes = commands.add_parser("deletes", help="the deletion guard (R-37)")
    deletes_cmd = deletes.add_subparsers(dest="action", required=True, metavar="ACTION")
    confirm = deletes_cmd.add_parser("confirm", help="let the held deletes of a user go ahead")
    confirm.add_argument("email")
    status = commands.add_parser("status", help="users and the org's Salesforce API budget")
    status.add_argument("--json", action="store_true", help="print JSON")
    return parser


@dataclass
class Context:
    """What a command may use, built on first use (most commands need only the settings store)."""

    store_factory: Callable[[], SettingsStore]
    services_factory: Callable[[], Any] | None = None
    queue_factory: Callable[[], Any] | None = None
    config_factory: Callable[[], Any] | None = None
    budget_factory: Callable[[], Any] | None = None  # -> core.budget.Budget | None
    _store: SettingsStore | None = None

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
            raise CliError("this command needs the Calendar and Salesforce configuration")
        return self.services_factory()


def _users_enable(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    user = ctx.store.enable_user(_email(args.email), sf_user_id=args.sf_user_id)
    sf = user.sf_user_id or "matched by email on the first session"
    print(f"enabled {user.email} (Salesforce user: {sf})", file=out)
    if ctx.services_factory is None or not ctx.functions_url:
        print("  no watch channel: CALSYNC_FUNCTIONS_URL is not set; the sweep opens it", file=out)
        return
    from infra.channels import open_channel

    try:
        channel = open_channel(
            ctx.store, ctx.services().calendar_for(user.email), user, ctx.functions_url
        )
    except Exception as exc:  # the user stays enabled; the sweep retries the channel
        raise CliError(f"{user.email} is enabled, but the watch channel failed: {exc}") from exc
    print(f"  watching their calendar (channel {channel.id})", file=out)


def _users_disable(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    store = ctx.store
    email = _email(args.email)
    try:
        store.disable_user(email)
    except KeyError:
        raise CliError(f"no user {email}; `python main.py users list` shows them") from None
    print(f"disabled {email}", file=out)


def _users_list(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    store = ctx.store
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


def _settings_show(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    store = ctx.store
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


def _settings_set(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    store = ctx.store
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


def _sync(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    from core.errors import RetryableError
    from infra.session import Session

    email = _email(args.email)
    if ctx.store.get_user(email) is None:
        raise CliError(f"no user {email}; enable them first with `users enable`")
    session = Session(ctx.services(), email, datetime.now(UTC))
    try:
        report = session.run(dry_run=args.dry_run, sweep=args.sweep)
    except RetryableError as exc:
        raise CliError(f"{exc}; run it again shortly") from exc
    print(report.summary(), file=out)
    if report.plan is not None and not args.dry_run and report.plan.actions:
        print(report.plan.render(), file=out)


def _issues(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    from infra.sync_store import FirestoreIssueStore

    issues = ctx.services().issues
    assert isinstance(issues, FirestoreIssueStore)
    rows = issues.list_open(email=_email(args.user) if args.user else "", code=args.code or "")
    if args.json:
        print(json.dumps(rows, indent=2, default=str), file=out)
        return
    if not rows:
        print("no open issues", file=out)
        return
    for row in rows:
        when = row.get("start").isoformat() if row.get("start") else "-"
        print(
            f"{row['user_email']}  {row['code']}  {row.get('title') or '(no title)'}  {when}  "
            f"seen {row.get('count', 1)}x, last {row.get('last_seen')}: {row.get('message', '')}",
            file=out,
        )


def _deletes_confirm(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    from dataclasses import replace

    email = _email(args.email)
    user = ctx.store.get_user(email)
    if user is None:
        raise CliError(f"no user {email}")
    ctx.store.save_sync_state(email, replace(user.state, deletes_confirmed=True))
    print(f"{email}: held deletes confirmed; they go ahead on the next session", file=out)
    if ctx.queue_factory is not None:
        ctx.queue_factory().enqueue(email, datetime.now(UTC), reason="deletes confirmed")


def _status(ctx: Context, args: argparse.Namespace, out: TextIO) -> None:
    from functions.status import budget_view

    users = ctx.store.list_users()
    budget = ctx.budget_factory() if ctx.budget_factory is not None else None
    view = {"enabled_users": sum(1 for u in users if u.enabled), "users": len(users),
            "salesforce_api": budget_view(budget)}  # fmt: skip
    if args.json:
        print(json.dumps(view, indent=2), file=out)
        return
    print(f"users: {view['enabled_users']} enabled of {view['users']}", file=out)
    api = view["salesforce_api"]
    if api is None:
        print("Salesforce API budget: not known yet (no Salesforce call seen)", file=out)
        return
    print(f"Salesforce API budget: {api['remaining']:,} of {api['max']:,} daily calls left "
          f"({api['used_share']:.1%} used), read {api['read_at']}", file=out)  # fmt: skip


def _email(text: str) -> str:
    try:
        return normalise_email(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


HANDLERS: dict[tuple[str, str], Callable[[Context, argparse.Namespace, TextIO], None]] = {
    ("users", "enable"): _users_enable,
    ("users", "disable"): _users_disable,
    ("users", "list"): _users_list,
    ("settings", "show"): _settings_show,
    ("settings", "set"): _settings_set,
    ("sync", ""): _sync,
    ("issues", ""): _issues,
    ("deletes", "confirm"): _deletes_confirm,
    ("status", ""): _status,
}
assert set(BY_NAME)  # the catalogue is importable before any command runs


def run(
    argv: Sequence[str],
    store_factory: Callable[[], SettingsStore],
    out: TextIO = sys.stdout,
    *,
    services_factory: Callable[[], Any] | None = None,
    queue_factory: Callable[[], Any] | None = None,
    config_factory: Callable[[], Any] | None = None,
    budget_factory: Callable[[], Any] | None = None,
) -> int:
    """Parse `argv`, run the command, return the exit code (2 for bad input)."""
    args = _parser().parse_args(list(argv))
    ctx = Context(store_factory, services_factory, queue_factory, config_factory, budget_factory)
    try:
        HANDLERS[(args.command, getattr(args, "action", "") or "")](ctx, args, out)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0
