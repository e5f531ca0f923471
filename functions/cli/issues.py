"""`issues [--user EMAIL] [--code CODE] [--json]`: the open sync issues as a table, with each
code's severity and what to do from the catalogue (R-31, R-32)."""

from __future__ import annotations

import argparse
from typing import Any

from core.issues import BY_CODE
from functions.cli.common import (
    CliError,
    Context,
    add_json_flag,
    command,
    print_json,
    print_table,
    rfc3339,
)


def register(commands: Any) -> None:
    issues = command(
        commands, "issues", _issues, "open sync issues, with what to do (R-31, R-32)",
        description="The open sync issues: one per item that failed or waits, with its code, "
        "severity and what to do (the catalogue: docs/issues.md). An issue closes by itself "
        "once its item syncs.",
        examples=["python main.py issues", "python main.py issues --user bob@example.com",
                  "python main.py issues --code cs-002 --json"],
    )  # fmt: skip
    issues.add_argument("--user", metavar="EMAIL", help="only this user's")
    issues.add_argument("--code", help="only this code, e.g. CS-002 (any case)")
    add_json_flag(issues)


def _row(stored: dict[str, Any]) -> dict[str, Any]:
    kind = BY_CODE.get(stored.get("code", ""))
    return {
        "user": stored.get("user_email", ""),
        "code": stored.get("code", ""),
        "severity": kind.severity.value if kind else "",
        "for": kind.audience.value if kind else "",
        "rule": kind.rule if kind else "",
        "issue": kind.title if kind else "",
        "item": stored.get("title") or "",
        "item_key": stored.get("key") or "",
        "start": rfc3339(stored.get("start")),
        "first_seen": rfc3339(stored.get("first_seen")),
        "last_seen": rfc3339(stored.get("last_seen")),
        "count": int(stored.get("count") or 1),
        "message": stored.get("message") or "",
        "action": kind.action if kind else "",
    }


def _issues(ctx: Context, args: argparse.Namespace) -> None:
    email = ctx.user(args.user).email if args.user else ""
    code = (args.code or "").strip().upper()
    if code and code not in BY_CODE:
        raise CliError(f"unknown issue code {args.code!r}; the codes are {', '.join(BY_CODE)}")
    rows = [_row(r) for r in ctx.services().issues.list_open(email=email, code=code)]
    if args.json:
        print_json(ctx.out, rows)
        return
    if not rows:
        which = " and ".join(filter(None, (f"for {email}" if email else "",
                                           f"with code {code}" if code else "")))  # fmt: skip
        ctx.say(f"no open issues {which}".rstrip())
        return
    print_table(
        ctx.out,
        ("USER", "CODE", "SEVERITY", "ITEM", "START", "LAST SEEN", "COUNT", "MESSAGE"),
        [(r["user"], r["code"], r["severity"], (r["item"] or "(no item)")[:40], r["start"] or "-",
          r["last_seen"], str(r["count"]), r["message"]) for r in rows],
    )  # fmt: skip
    ctx.say("\nwhat to do:")
    for code in sorted({r["code"] for r in rows}):
        kind = BY_CODE.get(code)
        if kind is not None:
            ctx.say(f"  {code}  {kind.title} (for the {kind.audience.value}): {kind.action}")
