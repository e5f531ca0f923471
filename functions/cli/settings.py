"""`settings show | set | unset`: the settings in force, where each comes from and what it does;
changes are validated one by one and together (the label colours must differ)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.settings import (
    BY_NAME,
    SPECS,
    Scope,
    SettingError,
    conflicts,
    parse_cli_value,
    resolve,
    to_storable,
    unknown_setting,
    validate,
)
from functions.cli.common import CliError, Context, add_json_flag, command, group, print_json

KEYS = "\n".join(
    f"  {s.name:<29} {s.scope.value:<4} default {json.dumps(to_storable(s.default, s.name))}"
    for s in SPECS
)


def register(commands: Any) -> None:
    settings = group(commands, "settings", "show and change org and user settings")
    show = command(
        settings, "show", _show, "the settings in force: value, source, scope, meaning",
        description="The settings in force for the org (or for one user: the org's plus their "
        "overrides). SOURCE says where each value comes from: default, org, or user. SCOPE "
        "says where it may be set: org settings only org-wide, user settings org-wide or per "
        "user.",
        examples=["python main.py settings show", "python main.py settings show save_color",
                  "python main.py settings show --user alice@example.com --json"],
    )  # fmt: skip
    show.add_argument("keys", nargs="*", metavar="KEY", help="only these settings")
    show.add_argument("--user", metavar="EMAIL", help="a user's settings (with overrides)")
    add_json_flag(show)
    put = command(
        settings, "set", _set, "change one setting, org-wide or for one user",
        description="Change one setting. VALUE is read as JSON when it parses (true, 30, "
        "[\"example.com\"]), else as plain text (contact). Quote lists for the shell. The "
        "settings and their defaults:\n\n" + KEYS,
        examples=["python main.py settings set internal_domains '[\"example.com\"]'",
                  "python main.py settings set autosave_meetings true --user alice@example.com",
                  "python main.py settings set save_color 7"],
    )  # fmt: skip
    put.add_argument("key", metavar="KEY", help="the setting's name (`settings show` lists them)")
    put.add_argument("value", metavar="VALUE", help="the new value: JSON, or plain text")
    put.add_argument("--user", metavar="EMAIL", help="override for this user only")
    unset = command(
        settings, "unset", _unset, "remove a setting: the org's value or default applies again",
        examples=["python main.py settings unset autosave_meetings --user alice@example.com",
                  "python main.py settings unset window_past_days"],
    )  # fmt: skip
    unset.add_argument("key", metavar="KEY", help="the setting's name")
    unset.add_argument("--user", metavar="EMAIL", help="remove this user's override")


def _known(name: str, for_user: bool) -> None:
    spec = BY_NAME.get(name)
    if spec is None:
        raise CliError(unknown_setting(name))
    if for_user and spec.scope is Scope.ORG:
        raise CliError(f"setting {name!r} is org-wide and cannot be set per user")


def _show(ctx: Context, args: argparse.Namespace) -> None:
    for name in args.keys:
        _known(name, False)
    org = ctx.store.org_settings()
    overrides: dict[str, Any] = {}
    label = "org"
    if args.user:
        user = ctx.user(args.user)
        overrides, label = user.settings, user.email
    settings, problems = resolve(org, overrides, user=label)
    ignored = {(p.source, p.name) for p in problems}

    def source(name: str) -> str:
        if name in overrides and (label, name) not in ignored:
            return "user"
        return "org" if name in org and ("org", name) not in ignored else "default"

    values = settings.as_dict()
    chosen = [s for s in SPECS if not args.keys or s.name in args.keys]
    rows = {
        s.name: {
            "value": to_storable(values[s.name], s.name),
            "source": source(s.name),
            "scope": s.scope.value,
            "default": to_storable(s.default, s.name),
            "help": s.help,
        }
        for s in chosen
    }
    if args.json:
        print_json(ctx.out, rows)
    else:
        width = max(len(n) for n in rows)
        shown = {n: json.dumps(r["value"]) for n, r in rows.items()}
        vwidth = min(max(len(v) for v in shown.values()), 30)
        ctx.say(f"{'SETTING':<{width}}  {'VALUE':<{vwidth}}  SOURCE   SCOPE  WHAT IT DOES")
        for name, row in rows.items():
            ctx.say(f"{name:<{width}}  {shown[name]:<{vwidth}}  {row['source']:<7}  "
                    f"{row['scope']:<5}  {row['help']}")  # fmt: skip
    for problem in problems:
        ctx.warn(str(problem))
    for conflict in conflicts(settings):
        ctx.warn(f"{conflict}; change one of them")


def _refuse_conflicts(org_after: dict[str, Any]) -> None:
    found = conflicts(resolve(org_after)[0])
    if found:
        raise CliError(found[0] + "; nothing changed")


def _set(ctx: Context, args: argparse.Namespace) -> None:
    _known(args.key, bool(args.user))
    try:
        value = to_storable(validate(args.key, parse_cli_value(args.value),
                                     for_user=bool(args.user)), args.key)  # fmt: skip
    except SettingError as exc:
        raise CliError(str(exc)) from None
    if args.user:
        user = ctx.user(args.user)
        ctx.store.set_user_settings(user.email, {args.key: value})
        ctx.say(f"{user.email}: {args.key} = {json.dumps(value)}")
        return
    _refuse_conflicts({**ctx.store.org_settings(), args.key: value})
    ctx.store.set_org_settings({args.key: value})
    ctx.say(f"org: {args.key} = {json.dumps(value)}")


def _unset(ctx: Context, args: argparse.Namespace) -> None:
    _known(args.key, bool(args.user))
    default = json.dumps(to_storable(BY_NAME[args.key].default, args.key))
    if args.user:
        user = ctx.user(args.user)
        if args.key not in user.settings:
            ctx.say(f"{user.email} has no override of {args.key}; nothing changed")
            return
        ctx.store.unset_user_settings(user.email, [args.key])
        ctx.say(f"{user.email}: {args.key} override removed; the org's value applies")
        return
    org = ctx.store.org_settings()
    if args.key not in org:
        ctx.say(f"the org does not set {args.key} (default {default}); nothing changed")
        return
    _refuse_conflicts({k: v for k, v in org.items() if k != args.key})
    ctx.store.unset_org_settings([args.key])
    ctx.say(f"org: {args.key} removed; the default {default} applies")
