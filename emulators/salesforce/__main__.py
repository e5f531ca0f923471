"""`python -m emulators.salesforce --port PORT [--tls-dir DIR] [--seed FILE] [--jwt-cert PEM]`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from . import seed
from .api import Emulator
from .auth import Sessions
from .flow import FlowPlayer
from .org import Org
from .query import Cursors
from .server import serve
from .tls import write_cert
from .usage import Usage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.salesforce")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-dir", type=Path, help="where cert.pem is written")
    parser.add_argument("--seed", type=Path, help="JSON seed file (see docs)")
    parser.add_argument(
        "--jwt-cert",
        type=Path,
        action="append",
        default=[],
        help="PEM certificate whose key signs JWT bearer assertions",
    )
    parser.add_argument("--jwt-consumer-key", help="required `iss` of JWT assertions")
    parser.add_argument("--api-limit", type=int, default=100_000, help="DailyApiRequests Max")
    parser.add_argument(
        "--flow-key", type=Path, help="PEM key the org signs its Flow callouts' JWTs with"
    )
    parser.add_argument("--flow-cert", type=Path, help="the certificate of --flow-key")
    parser.add_argument(
        "--no-external-id",
        action="store_true",
        help="start without the Event.Calsync_Key__c external id field",
    )
    args = parser.parse_args(argv)

    tls_dir = args.tls_dir or Path(tempfile.mkdtemp(prefix="sf-emulator-"))
    cert, key = write_cert(tls_dir)
    sessions = Sessions(args.jwt_consumer_key)
    for pem in args.jwt_cert:
        sessions.register_cert(pem.read_bytes())
    org = Org(external_id_field=not args.no_external_id)
    base_url = f"https://127.0.0.1:{args.port}"
    emulator = Emulator(org, sessions, Usage(args.api_limit), Cursors(), base_url)
    if bool(args.flow_key) != bool(args.flow_cert):
        parser.error("--flow-key and --flow-cert go together")
    emulator.flow = FlowPlayer(
        args.flow_key.read_text() if args.flow_key else None,
        args.flow_cert.read_bytes() if args.flow_cert else None,
    )
    if args.seed:
        emulator.seed = json.loads(args.seed.read_text())
        org.running_user = org.admin_user_id
        seed.load(org, emulator.seed)
        org.running_user = ""
    server = serve(emulator, args.port, str(cert), str(key))
    print(f"cert {cert}", flush=True)
    print(f"ready {base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
