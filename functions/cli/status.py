"""`status [--json]`: the org at a glance for an admin: how many users are enabled, and how many
of the org's daily Salesforce API calls are left (the budget calsync reads from every answer,
infra/budget.py)."""

from __future__ import annotations

import argparse
from typing import Any

from functions.cli.common import Context, add_json_flag, command, print_json


def register(commands: Any) -> None:
    status = command(
        commands, "status", _status, "users, and the org's Salesforce API budget left today",
        description="Users enabled, and the org's daily Salesforce API calls left as calsync "
        "last read them (every Salesforce answer says how many are used). Bulk work (initial "
        "syncs, backfills) pauses before it takes more than `api_budget_share` of what is left; "
        "saves always go.",
        examples=["python main.py status", "python main.py status --json"],
    )  # fmt: skip
    add_json_flag(status)


def _status(ctx: Context, args: argparse.Namespace) -> None:
    from functions.status import admin_view

    budget = ctx.budget_factory() if ctx.budget_factory is not None else None
    view = admin_view(ctx.store, budget)
    if args.json:
        print_json(ctx.out, view)
        return
    print(f"users: {view['enabled_users']} enabled of {view['users']}", file=ctx.out)
    api = view["salesforce_api"]
    if api is None:
        print("Salesforce API budget: not known yet (no Salesforce call seen)", file=ctx.out)
        return
    print(f"Salesforce API budget: {api['remaining']:,} of {api['max']:,} daily calls left "
          f"({api['used_share']:.1%} used), read {api['read_at']}", file=ctx.out)  # fmt: skip
