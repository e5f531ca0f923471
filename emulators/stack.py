"""The local stack: the Firestore emulator, our emulators of Google identity (ID tokens, IAM),
Cloud Tasks, Google Calendar and Salesforce, one functions-framework process serving every HTTP
function of main.py, and the Cloud Scheduler stand-in.

    python -m emulators.stack up [--seed demo]   # start in the background, write .calsync/local.env
    python -m emulators.stack down    # stop what `up` started (only processes it can tell are its own)
    python -m emulators.stack test [PYTEST ARGS]   # Firestore, pytest, stop (fixtures start ours)
    python -m emulators.stack demo [--hold]   # a stack of its own (temporary state), the demo
                                              # scenario, stop (--hold: stay up until Ctrl-C)

`make up`, `make down`, `make test` and `make demo` call these.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emulators.keys import write_local_keys
from emulators.launch import LaunchError, Server, free_port, process_identity, start, stop_group
from emulators.prerequisites import MissingTool, check_tools  # noqa: F401 - MissingTool: for the fixtures
from emulators.salesforce.org import ORG_ID
from emulators.scheduler import scheduler_agent

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("CALSYNC_STATE_DIR") or ROOT / ".calsync")
LOG_DIR = STATE_DIR / "logs"
ENV_FILE = STATE_DIR / "local.env"
PIDS_FILE = STATE_DIR / "stack.json"
PYTHON = sys.executable

PROJECT = "demo-calsync"
LOCATION = "us-central1"
QUEUE = "calsync-sync"
BACKFILL_QUEUE = "calsync-backfill"  # backfill slices in a queue of their own
DOMAINS = ("example.com",)


def check_prerequisites() -> None:
    """Fail at once, naming what to install, rather than wait for a port that never opens."""
    check_tools()


def firestore_command(port: int) -> list[str]:
    gcloud = shutil.which("gcloud") or "gcloud"
    return [gcloud, "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}", "--quiet"]


def queue_path(project: str = PROJECT, queue: str = QUEUE) -> str:
    return f"projects/{project}/locations/{LOCATION}/queues/{queue}"


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
# runtime account, Cloud Tasks and Cloud Scheduler sign their calls as the invoker account.
RUNTIME_SA = f"calsync-runtime@{PROJECT}.iam.gserviceaccount.com"
INVOKER_SA = f"calsync-invoker@{PROJECT}.iam.gserviceaccount.com"
# The Workspace add-on's service agent (`service-<PROJECT_NUMBER>@gcp-sa-gsuiteaddons...`) and
# OAuth client, and the dashboard's sign-in client, as `gcloud workspace-add-ons
# get-authorization` and the console would name them for a project numbered 000000000000.
ADDON_AGENT = "service-000000000000@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
ADDON_CLIENT_ID = "000000000000-calsync-addon.apps.googleusercontent.com"
DASHBOARD_CLIENT_ID = "000000000000-calsync-dashboard.apps.googleusercontent.com"
PROJECT_NUMBER = "000000000000"  # the local project's number (service agents are named by it)
TASKS_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-cloudtasks.iam.gserviceaccount.com"
# The sync queue as terraform/tasks.tf makes it with its variables' defaults (a test compares).
QUEUE_RATE_LIMITS = {"max_dispatches_per_second": 5.0, "max_concurrent_dispatches": 20}
QUEUE_RETRY = {"max_attempts": 10, "min_backoff": "5s", "max_backoff": "300s", "max_doublings": 5}
# The backfill queue (terraform/tasks.tf `backfill`): one dispatch a second, two at once.
BACKFILL_RATE_LIMITS = {"max_dispatches_per_second": 1.0, "max_concurrent_dispatches": 2}


def tasks_command(port: int, identity_url: str) -> list[str]:
    """Our Cloud Tasks emulator, signing as the Cloud Tasks service agent through `identity_url`."""
    return [PYTHON, "-m", "emulators.cloud_tasks", "--port", str(port),
            "--identity-url", identity_url, "--service-agent", TASKS_AGENT,
            "--act-as", f"{RUNTIME_SA}={INVOKER_SA}", "--log-attempts"]  # fmt: skip


def create_queue(tasks_host: str, project: str = PROJECT, invoker: str | None = INVOKER_SA,
                 rate_limits: dict | None = None, retry: dict | None = None,
                 queue_id: str = QUEUE) -> None:  # fmt: skip
    """A queue (the sync queue unless `queue_id` says otherwise), made through the real client
    as Terraform makes it in Google Cloud: rate limits, retries, and every task sent with the
    invoker's OIDC token."""
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
        "name": queue_path(project, queue_id),
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
    create_queue(env["CALSYNC_TASKS_EMULATOR_HOST"], env["GOOGLE_CLOUD_PROJECT"],
                 rate_limits=BACKFILL_RATE_LIMITS, queue_id=BACKFILL_QUEUE)  # fmt: skip
    env["CALSYNC_BACKFILL_QUEUE"] = BACKFILL_QUEUE
    # sync_user checks Cloud Tasks' OIDC token as in production (R-34)
    env["CALSYNC_TASKS_SERVICE_ACCOUNT"] = INVOKER_SA


SF_USERNAME = "integration@calsync.example"  # the Salesforce emulator's integration user
SF_ORG_ID = ORG_ID  # the Salesforce emulator's org
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# How the local stack signs domain-wide delegation: "keyless" (the default, as in Google Cloud:
# the metadata server's identity signs through IAM signBlob, no key file) or "key" (a JSON key,
# as with dwd_key_in_secret_manager = true). `CALSYNC_LOCAL_DWD=key make up` picks the second.
DWD_MODES = ("keyless", "key")


def dwd_mode() -> str:
    mode = os.environ.get("CALSYNC_LOCAL_DWD", "keyless").strip() or "keyless"
    if mode not in DWD_MODES:
        raise SystemExit(f"error: CALSYNC_LOCAL_DWD must be one of {', '.join(DWD_MODES)}")
    return mode


def delegation_scopes(doc: Path = DEPLOY_DOC) -> list[str]:
    """The scopes docs/deploy.md tells the Workspace admin to authorise: the local Calendar
    emulator authorises exactly these, as an admin who followed the page would have."""
    text = doc.read_text()
    start, end = "<!-- delegation-scopes:start -->", "<!-- delegation-scopes:end -->"
    block = text[text.index(start) + len(start) : text.index(end)]
    return [
        s for s in block.replace("`", " ").replace(",", " ").split() if s.startswith("https://")
    ]


def _start_api_emulators(
    servers: list[Server], env: dict[str, str], state: Path, mode: str = "keyless"
) -> None:
    """Our emulators, each trusting a throwaway key that calsync then signs with (the production
    paths: domain-wide delegation, keyless or keyed, and the Salesforce JWT-bearer login)."""
    keys = write_local_keys(state / "keys", RUNTIME_SA)
    _start_identity(servers, env, state, keys, mode)
    port = free_port()
    domains = [arg for d in DOMAINS for arg in ("--domain", d)]
    delegation = f"{RUNTIME_SA}={','.join(delegation_scopes())}"
    servers.append(
        start(
            "google-calendar",
            [PYTHON, "-m", "emulators.google_calendar", "--port", str(port), *domains,
             "--service-account-cert", f"{RUNTIME_SA}={keys['google_cert']}",
             "--delegation", delegation],
            state / "logs" / "google-calendar.log",
            cwd=ROOT,
        )
    )  # fmt: skip
    env["CALSYNC_CALENDAR_URL"] = f"http://127.0.0.1:{port}/calendar/v3/"
    env["CALSYNC_CALENDAR_TOKEN_URI"] = f"http://127.0.0.1:{port}/token"
    if mode == "key":
        env["CALSYNC_GOOGLE_SA_KEY_SECRET"] = f"file:{keys['google_sa']}"
    else:
        keys["google_sa"].unlink()  # keyless: no key file exists, as in production
    port = free_port()
    tls_dir = state / "tls"
    servers.append(
        start(
            "salesforce",
            [PYTHON, "-m", "emulators.salesforce", "--port", str(port), "--tls-dir", str(tls_dir),
             "--jwt-cert", str(keys["sf_cert"]), "--jwt-consumer-key", SF_CONSUMER_KEY,
             "--flow-key", str(keys["sf_flow_key"]), "--flow-cert", str(keys["sf_flow_cert"])],
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
    # the org whose Flow calls salesforce_webhook, and the certificate it signs with, as
    # the admin exports it into Secret Manager (docs/deploy.md, "The Salesforce Flow").
    env["CALSYNC_SF_ORG_ID"] = SF_ORG_ID
    env["CALSYNC_SF_FLOW_CERT_SECRET"] = f"file:{keys['sf_flow_cert']}"


def _start_identity(
    servers: list[Server], env: dict[str, str], state: Path, keys: dict[str, Path], mode: str
) -> None:
    """Google's identity side: ID-token certificates and IAM for everyone; in keyless mode also
    the metadata server, whose identity (the runtime account) signs delegation with the key that
    Google would hold for it, having Token Creator on itself as terraform/iam.tf grants."""
    port = free_port()
    argv = [PYTHON, "-m", "emulators.google_identity", "--port", str(port),
            "--issuer-key", str(keys["issuer_key"]), "--issuer-cert", str(keys["issuer_cert"]),
            "--service-account", INVOKER_SA, "--project", env["GOOGLE_CLOUD_PROJECT"],
            "--addon-agent", ADDON_AGENT, "--addon-client-id", ADDON_CLIENT_ID,
            # Cloud Scheduler's agent signs the jobs' calls as the invoker (emulators/scheduler.py),
            # and Cloud Tasks' agent the tasks' (emulators/cloud_tasks)
            "--grant", f"{scheduler_agent(PROJECT)}={INVOKER_SA}",
            "--grant", f"{TASKS_AGENT}={INVOKER_SA}"]  # fmt: skip
    if mode == "keyless":
        argv += ["--service-account-key", f"{RUNTIME_SA}={keys['google_key']}",
                 "--grant", f"{RUNTIME_SA}={RUNTIME_SA}", "--instance-account", RUNTIME_SA]  # fmt: skip
    servers.append(start("google-identity", argv, state / "logs" / "google-identity.log", cwd=ROOT))
    base = f"http://127.0.0.1:{port}"
    env["CALSYNC_GOOGLE_CERTS_URL"] = f"{base}/oauth2/v1/certs"
    env["CALSYNC_IDENTITY_URL"] = base  # local tools mint tokens here
    env["CALSYNC_ADDON_SERVICE_ACCOUNT"] = ADDON_AGENT
    env["CALSYNC_ADDON_CLIENT_ID"] = ADDON_CLIENT_ID
    env["CALSYNC_DASHBOARD_CLIENT_ID"] = DASHBOARD_CLIENT_ID
    env["CALSYNC_SIGNING_KEY_SECRET"] = f"file:{keys['signing_key']}"
    if mode == "keyless":
        env["CALSYNC_GOOGLE_AUTH_URL"] = base
        env["CALSYNC_RUNTIME_SERVICE_ACCOUNT"] = RUNTIME_SA
        # google-auth finds the metadata server through these, as on Cloud Run it finds Google's.
        env["GCE_METADATA_HOST"] = f"127.0.0.1:{port}"
        env["GCE_METADATA_IP"] = f"127.0.0.1:{port}"
        # No developer's own Google login may stand in for the instance identity: an empty Cloud
        # CLI configuration, and no key file named by GOOGLE_APPLICATION_CREDENTIALS.
        empty = state / "gcloud-config"
        empty.mkdir(parents=True, exist_ok=True)
        env["CLOUDSDK_CONFIG"] = str(empty)
        env["GOOGLE_APPLICATION_CREDENTIALS"] = ""


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


def start_flow(env: dict[str, str]) -> None:
    """Switch on the Salesforce org's Flow (R-21): after each Event change by a person it calls
    the local salesforce_webhook, signed with the org's certificate, as the Flow that
    docs/deploy.md installs does in a real org."""
    from emulators.org import salesforce_admin

    salesforce_admin(env, "POST", "flow", json={
        "url": f"{env['CALSYNC_FUNCTIONS_URL']}/salesforce_webhook", "enabled": True})  # fmt: skip


def _start_scheduler(servers: list[Server], env: dict[str, str], state: Path) -> None:
    """The local stand-in for Cloud Scheduler: calls each job's function on its schedule."""
    servers.append(
        start(
            "scheduler",
            [PYTHON, "-m", "emulators.scheduler"],
            state / "logs" / "scheduler.log",
            env=env,
            cwd=ROOT,
        )
    )


def base_env() -> dict[str, str]:
    return {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "CALSYNC_TASKS_LOCATION": LOCATION,
        "CALSYNC_TASKS_QUEUE": QUEUE,
    }


@contextmanager
def running(whole_stack: bool, state: Path,
            functions_module: str = FUNCTIONS_MODULE) -> Iterator[tuple[dict[str, str], list[Server]]]:  # fmt: skip
    """Start the stack (or just Firestore); always stop what was started. Keys, certificates
    and logs go under `state`: never `make up`'s own (STATE_DIR), which a running stack relies
    on."""
    check_prerequisites()
    env = base_env()
    servers: list[Server] = []
    try:
        _start_firestore(servers, env, state)
        if whole_stack:
            _start_api_emulators(servers, env, state, dwd_mode())
            _start_tasks(servers, env, state)
            _start_functions(servers, env, state, functions_module)
            start_flow(env)
        yield env, servers
    finally:
        for server in reversed(servers):
            server.stop()


def write_env_file(env: dict[str, str]) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}={value}" for key, value in sorted(env.items())]
    ENV_FILE.write_text(
        "# written by `make up`; removed by `make down`\n" + "\n".join(lines) + "\n"
    )


def _recorded() -> dict[str, dict[str, object]]:
    """stack.json: each process `up` started, its pid and what identifies it (its start time)."""
    try:
        data = json.loads(PIDS_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return {
        name: entry if isinstance(entry, dict) else {"pid": entry, "identity": None}
        for name, entry in data.items()
    }


def _ours(entry: dict[str, object]) -> bool:
    """The recorded process still runs and is the one `up` started (not a reused pid)."""
    identity = entry.get("identity")
    return bool(identity) and process_identity(int(str(entry["pid"]))) == identity


def _stop_recorded(record: dict[str, dict[str, object]]) -> None:
    for name, entry in reversed(list(record.items())):
        if _ours(entry):
            stop_group(int(str(entry["pid"])))
            print(f"  stopped {name}")
        else:
            print(f"  {name} (pid {entry['pid']}) was not running; nothing to stop")
    PIDS_FILE.unlink(missing_ok=True)
    ENV_FILE.unlink(missing_ok=True)


def up(seed: str = "") -> int:
    record = _recorded()
    if record:
        stopped = [name for name, entry in record.items() if not _ours(entry)]
        if not stopped:
            print("the local stack is already up (`make down` stops it)")
            return 0
        print(f"the local stack in {STATE_DIR} had stopped ({', '.join(stopped)} not running); "
              "starting it afresh (the emulators keep data in memory: it is gone)")  # fmt: skip
        _stop_recorded(record)
    check_prerequisites()
    mode = dwd_mode()
    env = base_env()
    servers: list[Server] = []
    try:
        _start_firestore(servers, env, STATE_DIR)
        _start_api_emulators(servers, env, STATE_DIR, mode)
        _start_tasks(servers, env, STATE_DIR)
        _start_functions(servers, env, STATE_DIR)
        start_flow(env)
        _start_scheduler(servers, env, STATE_DIR)
    except LaunchError as exc:
        for server in reversed(servers):
            server.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    record = {
        s.name: {"pid": s.process.pid, "identity": process_identity(s.process.pid)} for s in servers
    }
    PIDS_FILE.write_text(json.dumps(record, indent=2))
    write_env_file(env)
    for server in servers:
        print(f"  {server.name:<16} pid {server.process.pid:<7} log {server.log_path}")
    print(f"local stack up ({mode} domain-wide delegation); endpoints in {ENV_FILE}")
    if seed:
        from emulators import demo

        os.environ.update(env)
        print(demo.load_org())
    print(next_steps(bool(seed)))
    return 0


def next_steps(seeded: bool) -> str:
    """What `make up` says to do next (the README's "Try it yourself" goes on from here)."""
    if not seeded:
        return (
            "the stack is empty. next:\n"
            "  make down && make up SEED=demo   # a small org with three reps, ready to try\n"
            '  or follow README.md, "Try it yourself", to load your own'
        )
    return (
        "next, act as the rep alice and save a meeting by giving it colour 9:\n"
        '  .venv/bin/python -m emulators.rep alice@example.com add "Acme call" '
        "--with jane@acme.com --color 9\n"
        "  .venv/bin/python -m emulators.org events      # the Salesforce Event, a second later\n"
        "  .venv/bin/python main.py issues               # what failed or waits, and what to do\n"
        "  make down                                     # stop the stack\n"
        'the whole walkthrough: README.md, "Try it yourself"'
    )


def down() -> int:
    record = _recorded()
    if not record:
        print("the local stack is not up")
        PIDS_FILE.unlink(missing_ok=True)
        ENV_FILE.unlink(missing_ok=True)
        return 0
    _stop_recorded(record)
    print("local stack down")
    return 0


def test(pytest_args: list[str]) -> int:
    """Run pytest with Firestore up; the fixtures start our emulators (each in well under a
    second); the Firestore emulator's Java takes seconds and is shared."""
    state = STATE_DIR / "test"  # its logs beside a running stack's, never over them
    try:
        with running(whole_stack=False, state=state) as (env, _):
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

    # A state directory of its own: keys, certificates and logs of a running `make up` stay
    # untouched (F3 of the newcomer trial).
    state = STATE_DIR / "demo"
    try:
        with running(whole_stack=True, state=state) as (env, _):
            code = scenario.run({**os.environ, **env, "CALSYNC_STATE_DIR": str(state)})
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
        seed = rest[1] if rest[:1] == ["--seed"] and len(rest) > 1 else ""
        if rest and (not seed or seed != "demo" or len(rest) != 2):
            print("usage: python -m emulators.stack up [--seed demo]", file=sys.stderr)
            return 2
        return up(seed)
    if command == "down":
        return down()
    if command == "test":
        return test(rest)
    return demo(hold="--hold" in rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
