"""`doctor [--user EMAIL]`: one real call per integration, each failure naming its deploy.md step
(the checks are in functions/doctor.py)."""

from __future__ import annotations

import argparse
from typing import Any

from functions import doctor as checks
from functions.cli.common import Context, Failed, command


def register(commands: Any) -> None:
    leaf = command(
        commands, "doctor", _doctor,
        "try Firestore, delegation, Salesforce, the queue and the webhook",
        description="Make one real call per integration a deployment needs, in the order "
        "docs/deploy.md sets them up, and name the step to revisit for each that fails. "
        "Writes nothing.",
        examples=["python main.py doctor", "python main.py doctor --user alice@example.com"],
    )  # fmt: skip
    leaf.add_argument(
        "--user", default="", help="the user to try delegation for (default: the first enabled)"
    )


def _doctor(ctx: Context, args: argparse.Namespace) -> None:
    if checks.run_doctor(ctx, args, ctx.out):
        raise Failed("some checks failed; each says which step of docs/deploy.md to revisit")
