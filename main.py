"""calsync's entry points.

functions-framework loads this module: every name in HTTP_FUNCTIONS is an HTTP Cloud Function.
Run as a script it is the admin command line: `python main.py --help`.
"""

from __future__ import annotations

import logging
import sys

from functions.status import status
from functions.sweep import sweep
from functions.sync_user import sync_user
from functions.webhook import calendar_webhook
from infra.logs import configure as _configure_logging

# The HTTP functions that Terraform deploys and the local stack serves (tests check both agree).
HTTP_FUNCTIONS = ("status", "calendar_webhook", "sync_user", "sweep")

__all__ = ["HTTP_FUNCTIONS", "calendar_webhook", "status", "sweep", "sync_user"]

if __name__ != "__main__":  # as Cloud Functions: JSON lines on stdout for Cloud Logging
    _configure_logging()


def cli(argv: list[str] | None = None) -> int:
    from functions.cli import run
    from infra.config import ConfigError, load_local_env

    _configure_logging(stream=sys.stderr, level=logging.WARNING)  # stdout is the CLI's answer
    load_local_env()
    try:
        from infra import wiring

        return run(
            sys.argv[1:] if argv is None else argv,
            wiring.settings_store,
            services_factory=wiring.services,
            queue_factory=wiring.session_queue,
            config_factory=wiring.config,
            budget_factory=wiring.budget,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli())
