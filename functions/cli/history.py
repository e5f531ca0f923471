"""`history EMAIL ITEM [--json]`: what an item lost when both sides changed the same field since
the last session (R-26): when, which field, which side won, and the value that lost."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from functions.cli.common import (
    CliError,
    Context,
    add_json_flag,
    command,
    print_json,
    print_table,
    rfc3339,
)

WINNERS = {"google": "Google Calendar", "salesforce": "Salesforce"}


def register(commands: Any) -> None:
    history = command(
        commands, "history", _history, "an item's conflicts and the values that lost (R-26)",
        description="When a field of an item changed in Google Calendar and in Salesforce since "
        "the last session, the later change wins and the value that lost is kept in the item's "
        "history (R-26). This prints that history, oldest first. ITEM is the item's key, as "
        "`python main.py issues` shows it, or its Google event id.",
        examples=["python main.py history alice@example.com 3f2k9abc@google.com",
                  "python main.py history alice@example.com 3f2k9abc --json"],
    )  # fmt: skip
    history.add_argument("email", help="the user's address")
    history.add_argument("item", help="the item's key or Google event id")
    add_json_flag(history)


def _history(ctx: Context, args: argparse.Namespace) -> None:
    user = ctx.user(args.email)
    store = ctx.history()
    key = _key_of(ctx, user.email, args.item.strip())
    rows = store.for_item(user.email, key)
    if args.json:
        print_json(ctx.out, [{"at": rfc3339(r.get("at")), "field": r.get("field", ""),
                              "winner": r.get("winner", ""), "lost_value": r.get("lost_value", "")}
                             for r in rows])  # fmt: skip
        return
    if not rows:
        known = store.keys_for(user.email)
        hint = (f"; items of {user.email} with a history: {', '.join(known[:10])}" if known
                else f"; no item of {user.email} has one")  # fmt: skip
        raise CliError(f"no history for {args.item} (no field of it changed on both sides)" + hint)
    print_table(ctx.out, ("AT", "FIELD", "WINNER", "LOST VALUE"),
                [(rfc3339(r.get("at")) or "-", str(r.get("field", "")),
                  WINNERS.get(str(r.get("winner", "")), str(r.get("winner", ""))),
                  shown(str(r.get("field", "")), str(r.get("lost_value", ""))))
                 for r in rows])  # fmt: skip


def _key_of(ctx: Context, email: str, item: str) -> str:
    """The item key of `item`: itself when the history knows it, else the key of the user's
    mapping of that Google event id."""
    if ctx.history().for_item(email, item):
        return item
    try:
        mappings = ctx.services().mappings.for_user(email)
    except CliError:
        return item
    for m in mappings:
        if m.event_id == item:
            return str(m.key)
    return item


def shown(field: str, value: str) -> str:
    """A lost value as a person reads it: times as UTC ranges, "" as (empty)."""
    if field == "when":
        return _when(value)
    return value if value else "(empty)"


def _when(text: str) -> str:
    kind, _, rest = text.partition(":")
    if kind == "T":
        start, _, end = rest.partition("/")
        try:
            a = datetime.strptime(start, "%Y%m%dT%H%M%SZ")
            b = datetime.strptime(end, "%Y%m%dT%H%M%SZ")
        except ValueError:
            return text
        tail = b.strftime("%H:%M") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M")
        return f"{a:%Y-%m-%d %H:%M}–{tail} UTC"
    if kind == "D":
        day, _, days = rest.partition("+")
        return f"{day}, all day ({days} day{'s' if days != '1' else ''})"
    return text
