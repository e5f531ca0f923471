"""`python -m emulators.google_calendar --port PORT [--domain example.com ...]`."""

from __future__ import annotations

import argparse
import signal
import sys

from .auth import load_public_keys
from .server import build


def _delegation(
    parser: argparse.ArgumentParser, entries: list[str]
) -> dict[str, frozenset[str]] | None:
    if not entries:
        return None
    table: dict[str, frozenset[str]] = {}
    for entry in entries:
        account, sep, scopes = entry.partition("=")
        if not sep or not account or not scopes:
            parser.error("--delegation takes SERVICE_ACCOUNT=SCOPE[,SCOPE...]")
        table[account.lower()] = table.get(account.lower(), frozenset()) | frozenset(
            s.strip() for s in scopes.split(",") if s.strip()
        )
    return table


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
        metavar="[SA=]PEM",
        help="only accept token assertions signed by this certificate or public key; SA=PEM "
        "accepts it for that service account's assertions only (repeatable)",
    )
    parser.add_argument(
        "--delegation",
        action="append",
        default=[],
        metavar="SA=SCOPE[,SCOPE]",
        help="a domain-wide delegation entry: SA may act for users with these scopes only "
        "(repeatable; without any, every signed assertion may act for anyone)",
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
        delegation=_delegation(parser, args.delegation),
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
