"""`deletes show | confirm EMAIL`: what the deletion guard holds for a user, and the admin's
release of exactly that set (R-37)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from core.users import HeldDelete
from functions.cli.common import (
    Context,
    add_json_flag,
    add_yes_flag,
    command,
    group,
    print_json,
    print_table,
    rfc3339,
)


def register(commands: Any) -> None:
    deletes = group(commands, "deletes", "the deletion guard: held deletes (R-37)")
    show = command(
        deletes, "show", _show, "list the Salesforce Events a user's held deletes would remove",
        examples=["python main.py deletes show alice@example.com"],
    )  # fmt: skip
    show.add_argument("email", help="the user's address")
    add_json_flag(show)
    confirm = command(
        deletes, "confirm", _confirm, "let a user's held deletes go ahead (asks first)",
        description="Release the deletes the deletion guard holds for a user (R-37): lists "
        "them, asks, then queues a session that deletes exactly those Salesforce Events "
        "(within seconds). Deletes held later are held again.",
        examples=["python main.py deletes confirm alice@example.com",
                  "python main.py deletes confirm alice@example.com --yes"],
    )  # fmt: skip
    confirm.add_argument("email", help="the user's address")
    add_yes_flag(confirm)


def _rows(held: tuple[HeldDelete, ...]) -> list[dict[str, str]]:
    return [
        {"title": h.title, "start": rfc3339(h.start), "sf_event_id": h.sf_event_id,
         "item_key": h.item_key, "sync_key": h.sync_key}
        for h in held
    ]  # fmt: skip


def _print(ctx: Context, rows: list[dict[str, str]]) -> None:
    print_table(
        ctx.out,
        ("ITEM", "START", "SF EVENT"),
        [(r["title"] or "(no title)", r["start"] or "-", r["sf_event_id"] or "-") for r in rows],
    )


def _show(ctx: Context, args: argparse.Namespace) -> None:
    user = ctx.user(args.email)
    rows = _rows(user.state.held_deletes)
    if args.json:
        print_json(ctx.out, {"user": user.email, "held_id": user.state.held_id, "held": rows})
        return
    if not rows:
        ctx.say(f"nothing is held for {user.email}")
        return
    ctx.say(f"{len(rows)} Salesforce Events of {user.email} wait for your confirmation:")
    _print(ctx, rows)
    ctx.say(f"\nto delete them: python main.py deletes confirm {user.email}")


def _confirm(ctx: Context, args: argparse.Namespace) -> None:
    user = ctx.user(args.email)
    held, held_id = user.state.held_deletes, user.state.held_id
    if not held or not held_id:
        ctx.say(f"nothing is held for {user.email}; nothing to confirm")
        return
    if user.state.deletes_release == held_id:
        ctx.say(f"these {len(held)} deletes of {user.email} are already released; they happen "
                "in the next session")  # fmt: skip
        return
    _print(ctx, _rows(held))
    ctx.confirm(f"delete these {len(held)} Salesforce Events of {user.email}?", args.yes)
    # Only this field: a session saving the state at the same time keeps its own (audit M1).
    ctx.store.set_state_fields(user.email, {"deletes_release": held_id})
    queue = ctx.queue()
    queued = False
    if queue is not None and ctx.functions_url:
        try:
            queue.enqueue(user.email, datetime.now(UTC), reason="deletes confirmed")
            queued = True
        except Exception as exc:  # released all the same: the next session carries it out
            from functions.cli.failures import explain

            ctx.warn(f"could not queue a session now: {explain(exc, user.email) or exc}")
    if queued:
        ctx.say(f"released {len(held)} deletes of {user.email}; a session is queued and "
                "deletes them within seconds (`python main.py issues` shows CS-009 closed)")  # fmt: skip
    else:
        ctx.say(f"released {len(held)} deletes of {user.email}; they happen in the user's next "
                f"session (the sweep's, or now with `python main.py sync {user.email}`)")  # fmt: skip
