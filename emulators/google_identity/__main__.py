"""`python -m emulators.google_identity --port PORT --issuer-key K --issuer-cert C [options]`.

Options name the project's identities as Google would hold them: `--service-account EMAIL` (an
account generateIdToken knows), `--service-account-key EMAIL=KEY.pem` (an account and the
Google-managed key IAM signs with for it), `--grant CALLER=SA` (CALLER holds Token Creator on
SA), `--instance-account EMAIL` (the identity the metadata server hands to the code running on
this "instance": the functions' runtime account), `--addon-agent EMAIL` and `--addon-client-id
ID` (the add-on's service agent and OAuth client, whose tokens a Workspace add-on request carries).
"""

from __future__ import annotations

import argparse
import signal
import sys

from .server import Identity, build
from .tokens import Issuer


def _pairs(parser: argparse.ArgumentParser, values: list[str], what: str) -> list[tuple[str, str]]:
    pairs = [tuple(v.split("=", 1)) for v in values]
    if any(len(p) != 2 or not all(p) for p in pairs):
        parser.error(f"expected {what}")
    return pairs  # type: ignore[return-value]


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
    parser.add_argument("--service-account", action="append", default=[], metavar="EMAIL")
    parser.add_argument(
        "--service-account-key", action="append", default=[], metavar="EMAIL=KEY_PEM"
    )
    parser.add_argument("--grant", action="append", default=[], metavar="CALLER=SA")
    parser.add_argument("--instance-account", default="", metavar="EMAIL")
    parser.add_argument("--project", default="calsync-local")
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
    identity = Identity(
        Issuer.from_files(args.issuer_key, args.issuer_cert),
        args.service_account,
        _pairs(parser, args.grant, "--grant CALLER=SERVICE_ACCOUNT"),
        keys=_pairs(parser, args.service_account_key, "--service-account-key EMAIL=KEY_PEM"),
        instance_account=args.instance_account,
        project=args.project,
        addon_agent=args.addon_agent,
        addon_client_id=args.addon_client_id,
    )
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
