"""The local stack: Firestore and Cloud Tasks emulators, our Calendar and Salesforce emulators, and
one functions-framework process serving every HTTP function of main.py.

    python -m emulators.stack up      # start in the background, write .calsync/local.env
    python -m emulators.stack down    # stop what `up` started
    python -m emulators.stack test [PYTEST ARGS]   # Firestore + Cloud Tasks, pytest, stop
    python -m emulators.stack demo [--hold]   # whole stack, the demo scenario, stop (--hold:
                                              # stay up until Ctrl-C)

`make up`, `make down`, `make test` and `make demo` call these.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emulators.keys import write_local_keys
from emulators.launch import LaunchError, Server, free_port, start, stop_group

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("CALSYNC_STATE_DIR") or ROOT / ".calsync")
LOG_DIR = STATE_DIR / "logs"
ENV_FILE = STATE_DIR / "local.env"
PIDS_FILE = STATE_DIR / "stack.json"
PYTHON = sys.executable

PROJECT = "demo-calsync"
LOCATION = "us-central1"
QUEUE = "calsync-sync"
DOMAINS = ("example.com",)


class MissingTool(SystemExit):
    """A prerequisite is not installed: the message says what to install."""

    def __init__(self, message: str):
        super().__init__(f"error: {message}")


def check_prerequisites() -> None:
    """Fail at once, naming what to install, rather than wait for a port that never opens."""
    if shutil.which("java") is None:
        raise MissingTool(
            "Java 17+ is not installed; the Firestore emulator needs it "
            "(Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`)"
        )
    if shutil.which("gcloud") is None:
        raise MissingTool(
            "the Google Cloud CLI (gcloud) is not installed; install it "
            "(https://cloud.google.com/sdk/docs/install) and its Firestore emulator "
            "(`gcloud components install cloud-firestore-emulator`, or the Debian package "
            "google-cloud-cli-firestore-emulator)"
        )
    tasks = ROOT / ".venv-tasks" / "bin" / "gcloud-tasks-emulator"
    if not tasks.exists():
        raise MissingTool(f"{tasks} is missing: `make install` creates it")


def firestore_command(port: int) -> list[str]:
    gcloud = shutil.which("gcloud") or "gcloud"
    return [gcloud, "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}", "--quiet"]


def tasks_command(port: int, queue_path: str) -> list[str]:
    binary = ROOT / ".venv-tasks" / "bin" / "gcloud-tasks-emulator"
    return [str(binary), "start", f"--port={port}", f"--default-queue={queue_path}"]


def queue_path(project: str = PROJECT) -> str:
    return f"projects/{project}/locations/{LOCATION}/queues/{QUEUE}"


def _start_firestore_and_tasks(servers: list[Server], env: dict[str, str], state: Path) -> None:
    port = free_port()
    servers.append(
        start(
            "firestore",
            firestore_command(port),
            state / "logs" / "firestore.log",
            ready_port=port,
            timeout=90,
        )
    )
    env["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"
    port = free_port()
    servers.append(
        start(
            "cloud-tasks",
            tasks_command(port, queue_path(env["GOOGLE_CLOUD_PROJECT"])),
            state / "logs" / "tasks.log",
            ready_port=port,
        )
    )
    env["CALSYNC_TASKS_EMULATOR_HOST"] = f"127.0.0.1:{port}"


SF_CONSUMER_KEY = "calsync-local"
# The identities Google would hold in the project (terraform/iam.tf): Cloud Tasks and Cloud
# Scheduler sign their calls as the invoker account.
INVOKER_SA = f"calsync-invoker@{PROJECT}.iam.gserviceaccount.com"
# The Workspace add-on's service agent (`service-<PROJECT_NUMBER>@gcp-sa-gsuiteaddons...`) and
# OAuth client, and the dashboard's sign-in client, as `gcloud workspace-add-ons
# get-authorization` and the console would name them for a project numbered 000000000000.
ADDON_AGENT = "service-000000000000@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
ADDON_CLIENT_ID = "000000000000-calsync-addon.apps.googleusercontent.com"
DASHBOARD_CLIENT_ID = "000000000000-calsync-dashboard.apps.googleusercontent.com"
SF_USERNAME = "integration@calsync.example"  # the Salesforce emulator's integration user


def _start_api_emulators(servers: list[Server], env: dict[str, str], state: Path) -> None:
    """Our two emulators, each trusting a throwaway key that calsync then signs with (the
    production paths: domain-wide delegation and the Salesforce JWT-bearer login)."""
    keys = write_local_keys(state / "keys")
    port = free_port()
    domains = [arg for d in DOMAINS for arg in ("--domain", d)]
    servers.append(
        start(
            "google-calendar",
            [PYTHON, "-m", "emulators.google_calendar", "--port", str(port), *domains,
             "--service-account-cert", str(keys["google_cert"])],
            state / "logs" / "google-calendar.log",
            cwd=ROOT,
        )
    )  # fmt: skip
    env["CALSYNC_CALENDAR_URL"] = f"http://127.0.0.1:{port}/calendar/v3/"
    env["CALSYNC_CALENDAR_TOKEN_URI"] = f"http://127.0.0.1:{port}/token"
    env["CALSYNC_GOOGLE_SA_KEY_SECRET"] = f"file:{keys['google_sa']}"
    port = free_port()
    tls_dir = state / "tls"
    servers.append(
        start(
            "salesforce",
            [PYTHON, "-m", "emulators.salesforce", "--port", str(port), "--tls-dir", str(tls_dir),
             "--jwt-cert", str(keys["sf_cert"]), "--jwt-consumer-key", SF_CONSUMER_KEY],
            state / "logs" / "salesforce.log",
            cwd=ROOT,
        )
    )  # fmt: skip
    env["CALSYNC_SF_INSTANCE_URL"] = f"https://127.0.0.1:{port}"
    env["CALSYNC_SF_LOGIN_URL"] = f"https://127.0.0.1:{port}"
    env["CALSYNC_SF_CA_CERT"] = str(tls_dir / "cert.pem")
    env["CALSYNC_SF_CONSUMER_KEY"] = SF_CONSUMER_KEY
    env["CALSYNC_SF_USERNAME"] = SF_USERNAME
    env["CALSYNC_SF_PRIVATE_KEY_SECRET"] = f"file:{keys['sf_key']}"
    port = free_port()
    servers.append(
        start(
            "google-identity",
            [PYTHON, "-m", "emulators.google_identity", "--port", str(port),
             "--issuer-key", str(keys["issuer_key"]), "--issuer-cert", str(keys["issuer_cert"]),
             "--service-account", INVOKER_SA, "--addon-agent", ADDON_AGENT,
             "--addon-client-id", ADDON_CLIENT_ID],
            state / "logs" / "google-identity.log",
            cwd=ROOT,
        )
    )  # fmt: skip
    env["CALSYNC_GOOGLE_CERTS_URL"] = f"http://127.0.0.1:{port}/oauth2/v1/certs"
    env["CALSYNC_IDENTITY_URL"] = f"http://127.0.0.1:{port}"  # local tools mint tokens here
    env["CALSYNC_ADDON_SERVICE_ACCOUNT"] = ADDON_AGENT
    env["CALSYNC_ADDON_CLIENT_ID"] = ADDON_CLIENT_ID
    env["CALSYNC_DASHBOARD_CLIENT_ID"] = DASHBOARD_CLIENT_ID
    env["CALSYNC_SIGNING_KEY_SECRET"] = f"file:{keys['signing_key']}"


def _start_functions(servers: list[Server], env: dict[str, str], state: Path) -> None:
    port = free_port()
    env["CALSYNC_FUNCTIONS_URL"] = f"http://127.0.0.1:{port}"
    servers.append(
        start(
            "functions",
            [PYTHON, "-m", "functions.local_server", "--port", str(port)],
            state / "logs" / "functions.log",
            env=env,
            cwd=ROOT,
        )
    )


def base_env() -> dict[str, str]:
    return {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "CALSYNC_TASKS_LOCATION": LOCATION,
        "CALSYNC_TASKS_QUEUE": QUEUE,
        "CALSYNC_SHARED_SECRET": secrets.token_urlsafe(24),
    }


@contextmanager
def running(
    whole_stack: bool, state: Path = STATE_DIR
) -> Iterator[tuple[dict[str, str], list[Server]]]:
    """Start the stack (or just Firestore + Cloud Tasks); always stop what was started. Keys,
    certificates and logs go under `state`."""
    check_prerequisites()
    env = base_env()
    servers: list[Server] = []
    try:
        _start_firestore_and_tasks(servers, env, state)
        if whole_stack:
            _start_api_emulators(servers, env, state)
            _start_functions(servers, env, state)
        yield env, servers
    finally:
        for server in reversed(servers):
            server.stop()


def write_env_file(env: dict[str, str]) -> None:
    STATE_DIR.mkdir(exist_ok=True)
    lines = [f"{key}={value}" for key, value in sorted(env.items())]
    ENV_FILE.write_text(
        "# written by `make up`; removed by `make down`\n" + "\n".join(lines) + "\n"
    )


def up() -> int:
    if PIDS_FILE.exists():
        print("the local stack is already up (`make down` stops it)")
        return 0
    check_prerequisites()
    env = base_env()
    servers: list[Server] = []
    try:
        _start_firestore_and_tasks(servers, env, STATE_DIR)
        _start_api_emulators(servers, env, STATE_DIR)
        _start_functions(servers, env, STATE_DIR)
    except LaunchError as exc:
        for server in reversed(servers):
            server.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    PIDS_FILE.write_text(json.dumps({s.name: s.process.pid for s in servers}, indent=2))
    write_env_file(env)
    for server in servers:
        print(f"  {server.name:<16} pid {server.process.pid:<7} log {server.log_path}")
    print(f"local stack up; endpoints in {ENV_FILE}")
    return 0


def down() -> int:
    if not PIDS_FILE.exists():
        print("the local stack is not up")
        ENV_FILE.unlink(missing_ok=True)
        return 0
    pids: dict[str, int] = json.loads(PIDS_FILE.read_text())
    for name, pid in reversed(list(pids.items())):
        stop_group(pid)
        print(f"  stopped {name}")
    PIDS_FILE.unlink()
    ENV_FILE.unlink(missing_ok=True)
    print("local stack down")
    return 0


def test(pytest_args: list[str]) -> int:
    """Run pytest with Firestore and Cloud Tasks up; the fixtures start the API emulators."""
    try:
        with running(whole_stack=False) as (env, _):
            # Interrupts reach pytest (our own process group); we only stop the emulators after.
            child = subprocess.Popen(
                [PYTHON, "-m", "pytest", *pytest_args], env={**os.environ, **env}, cwd=ROOT
            )
            while True:
                try:
                    return child.wait()
                except KeyboardInterrupt:
                    child.send_signal(signal.SIGINT)
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def demo(hold: bool = False) -> int:
    """Play the demo; with `hold`, keep the stack up afterwards until Ctrl-C (to look at the
    dashboard the demo prints)."""
    from emulators import demo as scenario

    try:
        with running(whole_stack=True) as (env, _):
            code = scenario.run({**os.environ, **env})
            if hold:
                print("\nthe local stack stays up; press Ctrl-C to stop it", flush=True)
                try:
                    signal.pause()
                except KeyboardInterrupt:
                    pass
            return code
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"up", "down", "test", "demo"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "up":
        return up()
    if command == "down":
        return down()
    if command == "test":
        return test(rest)
    return demo(hold="--hold" in rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
