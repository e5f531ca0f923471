"""calsync's entry points.

functions-framework loads this module: every name in HTTP_FUNCTIONS is an HTTP Cloud Function.
Run as a script it is the admin command line: `python main.py --help`.
"""

from __future__ import annotations

import sys

from functions.status import status

# The HTTP functions that Terraform deploys and the local stack serves (tests check both agree).
HTTP_FUNCTIONS = ("status",)

__all__ = ["HTTP_FUNCTIONS", "status"]


def cli(argv: list[str] | None = None) -> int:
    from functions.cli import run
    from infra.config import ConfigError, load_local_env

    load_local_env()
    try:
        from infra.wiring import settings_store

        return run(sys.argv[1:] if argv is None else argv, settings_store)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(cli())
