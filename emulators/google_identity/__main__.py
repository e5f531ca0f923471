"""`python -m emulators.google_identity --port PORT --issuer-key K --issuer-cert C [--service-account SA] [--grant CALLER=SA] [--addon-agent SA --addon-client-id ID]`."""

from __future__ import annotations

import argparse
import signal
import sys

from .server import Identity, build
from .tokens import Issuer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.google_identity", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--issuer-key", required=True, help="PEM private key that signs ID tokens")
    parser.add_argument(
        "--issuer-cert", required=True, help="its certificate (served at /oauth2/v1/certs)"
    )
    parser.add_argument(
        "--service-account",
        action="append",
        default=[],
        metavar="EMAIL",
        help="a service account that generateIdToken knows (repeatable)",
    )
    parser.add_argument(
        "--grant",
        action="append",
        default=[],
        metavar="CALLER=SA",
        help="CALLER may mint ID tokens as SA (Token Creator; repeatable)",
    )
    parser.add_argument(
        "--addon-agent",
        default="",
        metavar="EMAIL",
        help="the add-on service agent that signs add-on requests' system tokens",
    )
    parser.add_argument(
        "--addon-client-id",
        default="",
        metavar="ID",
        help="the add-on's OAuth client id (the user tokens' audience)",
    )
    args = parser.parse_args(argv)
    grants = [tuple(g.split("=", 1)) for g in args.grant]
    if any(len(g) != 2 for g in grants):
        parser.error("--grant takes CALLER=SERVICE_ACCOUNT")
    identity = Identity(
        Issuer.from_files(args.issuer_key, args.issuer_cert),
        args.service_account,
        grants,
        args.addon_agent,
        args.addon_client_id,
    )  # type: ignore[arg-type]
    server = build(args.host, args.port, identity)
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
