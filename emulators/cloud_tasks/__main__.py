"""`python -m emulators.cloud_tasks --port PORT [--identity-url URL --service-agent EMAIL]
[--act-as CALLER=SA] [--queue NAME] [--name-reuse-seconds S]`."""

from __future__ import annotations

import argparse
import signal
import sys

from google.cloud import tasks_v2

from .dispatch import Signer
from .server import build
from .state import NAME_REUSE_SECONDS, CloudTasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.cloud_tasks", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--identity-url", default="",
                        help="the identity emulator, whose generateIdToken signs OIDC tokens")  # fmt: skip
    parser.add_argument("--service-agent", default="",
                        help="the Cloud Tasks service agent's address (the caller of "
                             "generateIdToken; it needs a Token Creator grant there)")  # fmt: skip
    parser.add_argument("--act-as", action="append", default=[], metavar="CALLER=SA",
                        help="CALLER may create tasks with SA's OIDC token (repeatable)")  # fmt: skip
    parser.add_argument("--queue", action="append", default=[], metavar="NAME",
                        help="create this queue at start, with Cloud Tasks' defaults (repeatable)")  # fmt: skip
    parser.add_argument("--log-attempts", action="store_true",
                        help="print one line per attempt: start time, task, outcome, duration")  # fmt: skip
    parser.add_argument("--name-reuse-seconds", type=float, default=NAME_REUSE_SECONDS,
                        help="how long a used task name stays refused (default: one hour)")  # fmt: skip
    args = parser.parse_args(argv)
    grants = [tuple(g.split("=", 1)) for g in args.act_as]
    if any(len(g) != 2 for g in grants):
        parser.error("--act-as takes CALLER=SERVICE_ACCOUNT")
    if bool(args.identity_url) != bool(args.service_agent):
        parser.error("--identity-url and --service-agent go together")
    signer = Signer(args.identity_url, args.service_agent) if args.identity_url else None
    emulator = CloudTasks(signer, set(grants), args.name_reuse_seconds)  # type: ignore[arg-type]
    emulator.log_attempts = args.log_attempts
    for name in args.queue:
        emulator.update_queue(tasks_v2.Queue(name=name), [])
    server = build(args.host, args.port, emulator)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"ready http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emulator.stop()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
