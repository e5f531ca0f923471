"""`python -m emulators.google_calendar --port PORT [--domain example.com ...]`."""

from __future__ import annotations

import argparse
import signal
import sys

from .auth import load_public_keys
from .server import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.google_calendar", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--domain",
        action="append",
        default=[],
        help="hosted domain whose users have calendars (repeatable; default example.com)",
    )
    parser.add_argument(
        "--service-account-cert",
        action="append",
        default=[],
        metavar="PEM",
        help="only accept token assertions signed by this certificate or public key (repeatable)",
    )
    parser.add_argument(
        "--no-dev-tokens", action="store_true", help="refuse `Bearer dev:<email>` tokens"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    server, _ = build(
        args.host,
        args.port,
        args.domain or ["example.com"],
        load_public_keys(args.service_account_cert),
        allow_dev_tokens=not args.no_dev_tokens,
        verbose=args.verbose,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"ready http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
