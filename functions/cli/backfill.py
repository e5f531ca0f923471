"""`backfill EMAIL --since DATE [--until DATE] [--dry-run]`, `backfill --all`, `backfill status`
(R-38); the command itself is functions/backfill_cli.py, which answers with its exit code."""

from __future__ import annotations

import argparse
from typing import Any

from functions import backfill_cli
from functions.cli.common import Context


def register(commands: Any) -> None:
    parser = backfill_cli.register(commands)
    parser.set_defaults(handler=_backfill, parser=parser)


def _backfill(ctx: Context, args: argparse.Namespace) -> int:
    return backfill_cli.handle(args, backfill_cli.deps_for(ctx.store_factory), ctx.out, ctx.err)
