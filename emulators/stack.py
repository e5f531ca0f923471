"""The local stack: the Firestore emulator, our emulators of Google identity (ID tokens), Cloud
Tasks, Google Calendar and Salesforce, and one functions-framework process serving every HTTP
function of main.py.

    python -m emulators.stack up      # start in the background, write .calsync/local.env
    python -m emulators.stack down    # stop what `up` started
    python -m emulators.stack test [PYTEST ARGS]   # Firestore, pytest, stop (fixtures start the rest)
    python -m emulators.stack demo    # whole stack, the demo scenario, stop

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


def firestore_command(port: int) -> list[str]:
    gcloud = shutil.which("gcloud") or "gcloud"
    return [gcloud, "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}", "--quiet"]


def queue_path(project: str = PROJECT) -> str:
    return f"projects/{project}/locations/{LOCATION}/queues/{QUEUE}"


def _start_firestore(servers: list[Server], env: dict[str, str], state: Path) -> None:
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


SF_CONSUMER_KEY = "calsync-local"
# The identities Google would hold in the project (terraform/iam.tf): the functions run as the
# runtime account, which may put the invoker's token on tasks (actAs); Cloud Tasks and Cloud
# Scheduler sign their calls as the invoker account, through their service agents.
INVOKER_SA = f"calsync-invoker@{PROJECT}.iam.gserviceaccount.com"
RUNTIME_SA = f"calsync-runtime@{PROJECT}.iam.gserviceaccount.com"
PROJECT_NUMBER = "100000000001"  # the local project's number (service agents are named by it)
TASKS_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-cloudtasks.iam.gserviceaccount.com"
SCHEDULER_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
SF_USERNAME = "integration@calsync.example"  # the Salesforce emulator's integration user
# The sync queue as terraform/tasks.tf makes it with its variables' defaults (a test compares).
QUEUE_RATE_LIMITS = {"max_dispatches_per_second": 5.0, "max_concurrent_dispatches": 20}
QUEUE_RETRY = {"max_attempts": 10, "min_backoff": "5s", "max_backoff": "300s", "max_doublings": 5}


def tasks_command(port: int, identity_url: str) -> list[str]:
    """Our Cloud Tasks emulator, signing as the Cloud Tasks service agent through `identity_url`."""
    return [PYTHON, "-m", "emulators.cloud_tasks", "--port", str(port),
            "--identity-url", identity_url, "--service-agent", TASKS_AGENT,
            "--act-as", f"{RUNTIME_SA}={INVOKER_SA}", "--log-attempts"]  # fmt: skip


def create_queue(tasks_host: str, project: str = PROJECT, invoker: str | None = INVOKER_SA,
                 rate_limits: dict | None = None, retry: dict | None = None) -> None:  # fmt: skip
    """The sync queue, made through the real client as Terraform makes it in Google Cloud:
    rate limits, retries, and every task sent with the invoker's OIDC token."""
    from google.cloud import tasks_v2
    from google.oauth2.credentials import Credentials
    from google.protobuf import duration_pb2

    def duration(text: str) -> duration_pb2.Duration:
        value = duration_pb2.Duration()
        value.FromJsonString(text)
        return value

    retry = dict(retry or QUEUE_RETRY)
    for key in ("min_backoff", "max_backoff"):
        retry[key] = duration(retry[key])
    client = tasks_v2.CloudTasksClient(
        transport="rest",
        client_options={"api_endpoint": f"http://{tasks_host}"},
        credentials=Credentials(token=f"dev:{RUNTIME_SA}"),
    )
    queue: dict = {
        "name": queue_path(project),
        "rate_limits": rate_limits or QUEUE_RATE_LIMITS,
        "retry_config": retry,
    }
    if invoker:
        queue["http_target"] = {"http_method": tasks_v2.HttpMethod.POST,
                                "oidc_token": {"service_account_email": invoker}}  # fmt: skip
    client.update_queue(queue=queue, timeout=10)


def _start_tasks(servers: list[Server], env: dict[str, str], state: Path) -> None:
    port = free_port()
    servers.append(
        start(
            "cloud-tasks",
            tasks_command(port, env["CALSYNC_IDENTITY_URL"]),
            state / "logs" / "cloud-tasks.log",
            cwd=ROOT,
        )
    )
    env["CALSYNC_TASKS_EMULATOR_HOST"] = f"127.0.0.1:{port}"
    create_queue(env["CALSYNC_TASKS_EMULATOR_HOST"], env["GOOGLE_CLOUD_PROJECT"])
    # sync_user checks Cloud Tasks' OIDC token as in production (R-34)
    env["CALSYNC_TASKS_SERVICE_ACCOUNT"] = INVOKER_SA


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
             "--service-account", INVOKER_SA, "--grant", f"{TASKS_AGENT}={INVOKER_SA}",
             "--grant", f"{SCHEDULER_AGENT}={INVOKER_SA}"],
            state / "logs" / "google-identity.log",
            cwd=ROOT,
        )
    )  # fmt: skip
    env["CALSYNC_GOOGLE_CERTS_URL"] = f"http://127.0.0.1:{port}/oauth2/v1/certs"
    env["CALSYNC_IDENTITY_URL"] = f"http://127.0.0.1:{port}"  # local tools mint tokens here


FUNCTIONS_MODULE = "functions.local_server"


def _start_functions(servers: list[Server], env: dict[str, str], state: Path,
                     module: str = FUNCTIONS_MODULE) -> None:  # fmt: skip
    """`module` serves main.py's functions (benchmarks pass a wrapper that counts calls)."""
    port = free_port()
    env["CALSYNC_FUNCTIONS_URL"] = f"http://127.0.0.1:{port}"
    servers.append(
        start(
            "functions",
            [PYTHON, "-m", module, "--port", str(port)],
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
    whole_stack: bool, state: Path = STATE_DIR, functions_module: str = FUNCTIONS_MODULE
) -> Iterator[tuple[dict[str, str], list[Server]]]:
    """Start the stack (or just Firestore); always stop what was started. Keys, certificates and
    logs go under `state`."""
    check_prerequisites()
    env = base_env()
    servers: list[Server] = []
    try:
        _start_firestore(servers, env, state)
        if whole_stack:
            _start_api_emulators(servers, env, state)
            _start_tasks(servers, env, state)
            _start_functions(servers, env, state, functions_module)
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
        _start_firestore(servers, env, STATE_DIR)
        _start_api_emulators(servers, env, STATE_DIR)
        _start_tasks(servers, env, STATE_DIR)
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
    """Run pytest with Firestore up; the fixtures start our emulators (each in well under a
    second), the Firestore emulator's Java takes seconds and is shared."""
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


def demo() -> int:
    from emulators import demo as scenario

    try:
        with running(whole_stack=True) as (env, _):
            return scenario.run({**os.environ, **env})
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
    return demo()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
