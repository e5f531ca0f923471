"""calsync's entry points.

functions-framework loads this module: every name in HTTP_FUNCTIONS is an HTTP Cloud Function.
Run as a script it is the admin command line: `.venv/bin/python main.py --help`.
"""

from __future__ import annotations

import sys

try:
    from functions.addon import addon
    from functions.backfill_slice import backfill_slice
    from functions.dashboard import dashboard
    from functions.status import status
    from functions.sweep import sweep
    from functions.sync_user import sync_user
    from functions.webhook import calendar_webhook
    from infra.logs import configure as _configure_logging
except ImportError as _missing:  # `python main.py` outside the project's virtualenv
    if __name__ != "__main__":
        raise
    print(
        f"error: this Python ({sys.executable}) lacks calsync's libraries ({_missing}).\n"
        "  run the command line with the project's virtualenv: `make install` once, then\n"
        "  `.venv/bin/python main.py ...` (or `source .venv/bin/activate` first)",
        file=sys.stderr,
    )
    sys.exit(3)  # README, "Exit codes": not configured

# The HTTP functions that Terraform deploys and the local stack serves (tests check both agree).
HTTP_FUNCTIONS = ("status", "calendar_webhook", "sync_user", "sweep", "addon", "dashboard",
                  "backfill_slice")  # fmt: skip

__all__ = ["HTTP_FUNCTIONS", "addon", "backfill_slice", "calendar_webhook", "dashboard", "status",
           "sweep", "sync_user"]  # fmt: skip

if __name__ != "__main__":  # as Cloud Functions: JSON lines on stdout for Cloud Logging
    _configure_logging()


def cli(argv: list[str] | None = None) -> int:
    from functions.cli import main

    return main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(cli())
