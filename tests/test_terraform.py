"""terraform/ matches the code it deploys, and deploys it safely (R-34).

Terraform cannot plan here (no provider registry), so these tests parse the configuration with
python-hcl2 and compare it with main.HTTP_FUNCTIONS and the variables infra/config.py reads; the
checks of `make lint` (tools/lint_terraform.py: fmt, provider schemas, checkov, trivy) are proven
here to pass on terraform/ and to fail on a broken file. None of them skips: a missing tool fails
with what to install.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

import main

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM = ROOT / "terraform"

# Who may call which function. Google's push notifications, the add-on and an admin's
# browser carry no identity Cloud Run's IAM accepts: those three are public at the IAM layer and
# check their own tokens in code (channel token; the add-on's two ID tokens; an admin's Google
# sign-in against `admins`, R-32). The rest never are.
PUBLIC = {"calendar_webhook", "addon", "dashboard", "salesforce_webhook"}
SERVICE = {
    "sync_user",
    "sweep",
    "sf_poll",
}  # Cloud Tasks / Cloud Scheduler, via OIDC as the invoker account
ACCESS_LEVELS = {"public", "service", "admin"}

# Variables infra/config.py reads that production never sets.
EMULATOR_ONLY = {
    "FIRESTORE_EMULATOR_HOST",
    "CALSYNC_TASKS_EMULATOR_HOST",
    "CALSYNC_SF_CA_CERT",
    "CALSYNC_SF_SESSION_ID",
    "CALSYNC_SHARED_SECRET",
    "CALSYNC_GOOGLE_CERTS_URL",
    "CALSYNC_GOOGLE_AUTH_URL",
    "CALSYNC_IDENTITY_URL",
}
# Fallback names: Terraform sets the primary one.
ALIASES = {"GCLOUD_PROJECT": "GOOGLE_CLOUD_PROJECT"}
# Read by infra/config.py's helpers, not by Config.from_env: where `make up` writes local.env.
LOCAL_TOOLING = {"CALSYNC_STATE_DIR"}

INVOKER_EMAIL = "${google_service_account.invoker.email}"


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels: '"x"' -> 'x'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def block(value: Any) -> dict[str, Any]:
    """A nested block parses as a one-element list of dicts."""
    assert isinstance(value, list) and len(value) == 1, value
    return value[0]


@cache
def parsed() -> dict[str, dict[str, Any]]:
    return {p.name: hcl2.loads(p.read_text()) for p in sorted(TERRAFORM.glob("*.tf"))}


def resources(kind: str) -> dict[str, dict[str, Any]]:
    """All resources of one type, by name, across the .tf files."""
    found: dict[str, dict[str, Any]] = {}
    for doc in parsed().values():
        for entry in doc.get("resource", []):
            for rtype, named in entry.items():
                if unquote(rtype) != kind:
                    continue
                for name, body in named.items():
                    found[unquote(name)] = body
    return found


def all_resources() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for doc in parsed().values():
        for entry in doc.get("resource", []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    out.append((unquote(rtype), unquote(name), body))
    return out


def locals_() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for doc in parsed().values():
        for entry in doc.get("locals", []):
            merged.update({k: v for k, v in entry.items() if k != "__comments__"})
    return merged


def functions_map() -> dict[str, dict[str, Any]]:
    return {
        name: {k: unquote(v) for k, v in settings.items()}
        for name, settings in locals_()["functions"].items()
    }


def planned_functions() -> dict[str, str]:
    """The commented 'planned entries' in functions.tf: name -> access."""
    text = (TERRAFORM / "functions.tf").read_text()
    pattern = re.compile(r'^\s*#\s+(\w+)\s*=\s*\{\s*access\s*=\s*"(\w+)"', re.MULTILINE)
    return dict(pattern.findall(text))


def config_variables() -> set[str]:
    """Names passed as string literals to get(...) / env.get(...) / os.environ.get(...) in infra/config.py."""
    tree = ast.parse((ROOT / "infra" / "config.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        first = node.args[0]
        if called == "get" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


# --- the functions match main.py --------------------------------------------------------------


def test_functions_map_is_exactly_main_http_functions():
    assert set(functions_map()) == set(main.HTTP_FUNCTIONS)
    assert len(main.HTTP_FUNCTIONS) == len(set(main.HTTP_FUNCTIONS))


def test_every_function_is_deployed_under_its_name_with_entry_point_its_name():
    fn = resources("google_cloudfunctions2_function")
    assert set(fn) == {"fn"}, "one resource, for_each over local.functions"
    body = fn["fn"]
    assert body["for_each"] == "${local.functions}"
    # The code builds URLs as CALSYNC_FUNCTIONS_URL/<name>; functions-framework calls <name>.
    assert body["name"] == "${each.key}"
    build = block(body["build_config"])
    assert build["entry_point"] == "${each.key}"
    assert unquote(build["runtime"]) == "python311"
    service = block(body["service_config"])
    assert service["service_account_email"] == "${google_service_account.runtime.email}"
    assert service["environment_variables"] == "${local.function_env}"


def test_entry_points_exist_in_main():
    for name in functions_map():
        assert callable(getattr(main, name)), f"main.{name} is not a function"


def test_function_settings_are_complete_and_sane():
    for name, settings in functions_map().items():
        assert set(settings) == {"access", "memory", "timeout_seconds", "max_instances"}, name
        assert re.fullmatch(r"\d+(M|Mi|G|Gi)", settings["memory"]), name
        assert 1 <= int(settings["timeout_seconds"]) <= 3600, name
        cap = settings["max_instances"]
        assert cap == "${var.tasks_max_concurrent_dispatches}" or int(cap) >= 1, name


# --- environment ------------------------------------------------------------------------------


def test_config_reads_the_variables_this_test_knows_about():
    """If infra/config.py renames an emulator-only variable, the lists above must follow."""
    names = config_variables()
    assert names >= EMULATOR_ONLY
    assert set(ALIASES) <= names
    assert "CALSYNC_FUNCTIONS_URL" in names


def test_function_env_is_exactly_configs_production_variables():
    production = config_variables() - EMULATOR_ONLY - set(ALIASES) - LOCAL_TOOLING
    assert set(locals_()["function_env"]) == production


def test_function_env_sets_no_emulator_variable():
    assert not set(locals_()["function_env"]) & (EMULATOR_ONLY | LOCAL_TOOLING)


def test_tasks_carry_the_invoker_identity_the_functions_accept():
    env = locals_()["function_env"]
    assert env["CALSYNC_TASKS_SERVICE_ACCOUNT"] == INVOKER_EMAIL
    assert env["CALSYNC_TASKS_QUEUE"] == "${google_cloud_tasks_queue.sync.name}"
    # The code appends /<function name>: the base is the cloudfunctions.net host, no path.
    assert unquote(locals_()["functions_url"]) == (
        "https://${var.region}-${var.project_id}.cloudfunctions.net"
    )


def test_secret_variables_name_secret_manager_versions_not_values():
    env = locals_()["function_env"]
    assert env["CALSYNC_SF_PRIVATE_KEY_SECRET"] == "${local.sf_private_key_secret_version}"
    assert env["CALSYNC_GOOGLE_SA_KEY_SECRET"] == "${local.dwd_key_secret_version}"
    sf_version = unquote(locals_()["sf_private_key_secret_version"])
    assert sf_version == "${google_secret_manager_secret.sf_private_key.id}/versions/latest"


# --- secrets ----------------------------------------------------------------------------------

KEY_MATERIAL = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"-----BEGIN CERTIFICATE-----"),
    re.compile(r'"private_key_id"\s*:'),
    re.compile(r'"private_key"\s*:'),
    re.compile(r'"type"\s*:\s*"service_account"'),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API key
    re.compile(r"\b00D[0-9A-Za-z]{12,15}![0-9A-Za-z._]{20,}"),  # Salesforce session id
]


def terraform_text_files() -> list[Path]:
    return [
        p
        for p in TERRAFORM.rglob("*")
        if p.is_file() and ".terraform" not in p.parts and ".build" not in p.parts
    ]


def test_no_key_material_in_terraform():
    assert terraform_text_files()
    for path in terraform_text_files():
        text = path.read_text(errors="replace")
        for pattern in KEY_MATERIAL:
            assert not pattern.search(text), f"{path.relative_to(ROOT)}: {pattern.pattern}"


def test_key_material_detector_catches_a_pem_key():
    sample = "-----BEGIN " + "PRIVATE KEY-----\nMIIE...\n"
    assert any(p.search(sample) for p in KEY_MATERIAL)


def test_terraform_never_writes_a_secret_value():
    """Secret values are added by the admin; they must never pass through Terraform state."""
    kinds = {rtype for rtype, _, _ in all_resources()}
    assert "google_secret_manager_secret_version" not in kinds
    assert "google_service_account_key" not in kinds
    assert set(resources("google_secret_manager_secret")) == {"sf_private_key", "dwd_key",
                                                              "signing_key", "sf_flow_cert"}  # fmt: skip


def test_secret_access_is_granted_per_secret_only():
    project_roles = {
        unquote(body["role"]) for body in resources("google_project_iam_member").values()
    }
    assert "roles/secretmanager.secretAccessor" not in project_roles
    assert not project_roles & {"roles/owner", "roles/editor", "roles/iam.serviceAccountUser"}
    grants = resources("google_secret_manager_secret_iam_member")
    assert {unquote(g["role"]) for g in grants.values()} == {"roles/secretmanager.secretAccessor"}
    assert {g["member"] for g in grants.values()} == {"${google_service_account.runtime.member}"}


def variables() -> dict[str, dict[str, Any]]:
    return {
        unquote(name): body
        for doc in parsed().values()
        for entry in doc.get("variable", [])
        for name, body in entry.items()
        if not name.startswith("__")
    }


def test_every_variable_is_described():
    assert variables()
    for name, body in variables().items():
        assert unquote(body.get("description", "")), f"variable {name} has no description"


def test_no_secret_like_string_variable_has_a_default():
    for name, body in variables().items():
        if body.get("type") == "string" and re.search(r"secret|password|private_key|token", name):
            assert "default" not in body, name


# --- who may call what ------------------------------------------------------------------------


def test_public_functions_are_exactly_the_webhooks_the_addon_and_the_dashboard():
    for name, settings in functions_map().items():
        assert settings["access"] in ACCESS_LEVELS, name
        assert (settings["access"] == "public") == (name in PUBLIC), name
        if name in SERVICE:
            assert settings["access"] == "service", name
    assert functions_map()["status"]["access"] == "admin"


def test_planned_functions_follow_the_same_rule():
    planned = planned_functions()
    deployed = {name: spec["access"] for name, spec in functions_map().items()}
    assert {"calendar_webhook", "sync_user", "sweep"} <= set(planned) | set(deployed)
    for name, access in {**planned, **deployed}.items():
        assert (access == "public") == (name in PUBLIC), name
        if name in SERVICE:
            assert access == "service", name


def test_only_public_functions_are_open_to_all_users():
    open_grants = [
        (rtype, name, body)
        for rtype, name, body in all_resources()
        if unquote(body.get("member", "")) in {"allUsers", "allAuthenticatedUsers"}
        or any(unquote(m) in {"allUsers", "allAuthenticatedUsers"} for m in body.get("members", []))
    ]
    assert [(t, n) for t, n, _ in open_grants] == [
        ("google_cloud_run_v2_service_iam_member", "public")
    ]
    body = open_grants[0][2]
    assert unquote(body["member"]) == "allUsers"
    assert 'fn.access == "public"' in body["for_each"]


def test_service_functions_are_invoked_by_the_invoker_account_only():
    grants = resources("google_cloud_run_v2_service_iam_member")
    invoker = grants["invoker"]
    assert 'fn.access == "service"' in invoker["for_each"]
    assert invoker["member"] == "${google_service_account.invoker.member}"
    assert unquote(invoker["role"]) == "roles/run.invoker"
    assert 'fn.access == "admin"' in grants["admin"]["for_each"]


def test_runtime_can_mint_the_invoker_token_it_puts_on_tasks():
    acts_as = resources("google_service_account_iam_member")["runtime_acts_as_invoker"]
    assert acts_as["service_account_id"] == "${google_service_account.invoker.name}"
    assert unquote(acts_as["role"]) == "roles/iam.serviceAccountUser"
    enqueue = resources("google_cloud_tasks_queue_iam_member")["runtime_enqueues"]
    assert unquote(enqueue["role"]) == "roles/cloudtasks.enqueuer"
    assert enqueue["name"] == "${google_cloud_tasks_queue.sync.id}"


def test_R38_backfill_slices_have_a_queue_of_their_own():
    """Backfill slices never take the dispatch slots of push-started sessions (R-27, R-38)."""
    queue = resources("google_cloud_tasks_queue")["backfill"]
    target = block(queue["http_target"])
    assert block(target["oidc_token"])["service_account_email"] == INVOKER_EMAIL
    rate = block(queue["rate_limits"])
    assert rate["max_concurrent_dispatches"] == "${var.backfill_max_concurrent_dispatches}"
    assert variables()["backfill_max_concurrent_dispatches"]["default"] <= 5
    env = locals_()["function_env"]
    assert env["CALSYNC_BACKFILL_QUEUE"] == "${google_cloud_tasks_queue.backfill.name}"
    enqueue = resources("google_cloud_tasks_queue_iam_member")["runtime_enqueues_backfill"]
    assert enqueue["name"] == "${google_cloud_tasks_queue.backfill.id}"
    assert unquote(enqueue["role"]) == "roles/cloudtasks.enqueuer"
    assert functions_map()["backfill_slice"]["access"] == "service"


def test_R20_delegation_scopes_are_the_ones_the_code_asks_for():
    """The dwd_scopes output lists exactly what infra/credentials.py requests; drive.readonly
    only with save_attachments, which also enables the Drive API."""
    from infra.credentials import CALENDAR_SCOPES, DRIVE_SCOPES

    found = locals_()
    assert tuple(map(unquote, found["dwd_calendar_scopes"])) == CALENDAR_SCOPES
    assert tuple(map(unquote, found["dwd_drive_scopes"])) == DRIVE_SCOPES
    output = parsed()["outputs.tf"]["output"]
    scopes = next(o['"dwd_scopes"'] for o in output if '"dwd_scopes"' in o)
    assert "var.save_attachments ? local.dwd_drive_scopes : []" in scopes["value"]
    assert 'var.save_attachments ? ["drive.googleapis.com"] : []' in found["attachment_services"]
    assert variables()["save_attachments"]["default"] is False


@pytest.mark.parametrize(("job", "function"), [("sweep", "sweep"), ("sf-poll", "sf_poll")])
def test_scheduler_calls_its_function_with_oidc_as_the_invoker(job, function):
    jobs = resources("google_cloud_scheduler_job")
    assert set(jobs) == {"sweep", "sf-poll"}
    body = jobs[job]
    assert f'name == "{function}"' in body["for_each"]
    target = block(body["http_target"])
    assert "oauth_token" not in target
    oidc = block(target["oidc_token"])
    assert oidc["service_account_email"] == INVOKER_EMAIL
    assert (
        oidc["audience"] == target["uri"] == "${google_cloudfunctions2_function.fn[each.key].url}"
    )
    assert block(body["retry_config"])["retry_count"] == 0


def test_R21_the_poll_runs_every_minute_by_default():
    assert unquote(variables()["sf_poll_schedule"]["default"]) == "* * * * *"


def test_sweep_runs_every_ten_minutes_by_default():
    assert unquote(variables()["sweep_schedule"]["default"]) == "*/10 * * * *"


def test_task_queue_sends_oidc_as_the_invoker_with_bounded_retries():
    queue = resources("google_cloud_tasks_queue")["sync"]
    target = block(queue["http_target"])
    assert "oauth_token" not in target
    assert block(target["oidc_token"])["service_account_email"] == INVOKER_EMAIL
    retry = block(queue["retry_config"])
    assert {"max_attempts", "min_backoff", "max_backoff"} <= set(retry)
    rate = block(queue["rate_limits"])
    assert {"max_dispatches_per_second", "max_concurrent_dispatches"} <= set(rate)


# --- the source archive -----------------------------------------------------------------------

SHIPPED_DIRS = {"core", "functions", "infra"}


def archive_excludes() -> list[str]:
    data = parsed()["functions.tf"]["data"]
    archive = data[0]['"archive_file"']['"source"']
    return [unquote(p) for p in archive["excludes"]]


def excluded(path: str) -> bool:
    return any(doublestar(p).match(path) for p in archive_excludes())


def test_archive_ships_the_code_and_leaves_out_tests_tools_and_secrets():
    for gone in ["tests/test_x.py", "emulators/stack.py", ".venv/bin/python",
                 ".venv-iac/bin/checkov", "terraform/main.tf", ".git/HEAD", ".calsync/local.env",
                 ".tools/terraform-schemas/google.json", "tools/lint_terraform.py"]:  # fmt: skip
        assert excluded(gone), gone
    for key_file in ["calsync-sf.key", "keys/sa.json", "x.pem", "a/b.p12", ".env", "prod.env"]:
        assert excluded(key_file), key_file
    for kept in ["main.py", "requirements.txt"] + [f"{d}/x.py" for d in SHIPPED_DIRS]:
        assert not excluded(kept), kept


def doublestar(pattern: str) -> re.Pattern[str]:
    """The archive provider's exclude globs (bmatcuk/doublestar) as a regex, for files."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def shipped_files(root: Path = ROOT) -> set[str]:
    """What the source archive would hold, built from a tree as the provider does."""
    patterns = [doublestar(p) for p in archive_excludes()]
    files = set()
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(p.match(rel) for p in patterns):
            files.add(rel)
    return files


def test_archive_holds_the_functions_and_nothing_for_tests_or_local_use():
    shipped = shipped_files()
    assert {"main.py", "requirements.txt", "infra/config.py", "functions/status.py"} <= shipped
    for prefix in ("tests/", "emulators/", "terraform/", ".venv", ".git/", ".calsync/"):
        assert not [f for f in shipped if f.startswith(prefix)], prefix
    assert not [f for f in shipped if "__pycache__" in f]
    assert not [f for f in shipped if f.endswith((".pem", ".key", ".env", ".tfvars"))]


def test_doublestar_emulation():
    assert doublestar("**/*.pem").match("a.pem") and doublestar("**/*.pem").match("x/y/a.pem")
    assert doublestar("tests/**").match("tests/core/test_a.py")
    assert not doublestar("tests/**").match("core/tests.py")
    assert not doublestar("*.key").match("x/a.key")


def test_every_top_level_directory_is_shipped_or_excluded_on_purpose():
    """A new top-level directory must be a decision: ship it (SHIPPED_DIRS) or exclude it."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    top_dirs = {line.split("/", 1)[0] for line in tracked if "/" in line}
    excluded = {p[: -len("/**")] for p in archive_excludes() if p.endswith("/**")}
    undecided = top_dirs - SHIPPED_DIRS - excluded
    assert not undecided, f"add to the archive excludes in terraform/functions.tf: {undecided}"


# A developer's or an admin's checkout as it really looks after `make install`, `make up`, an IDE,
# a deployment and a careless moment: everything but the code must stay out of the archive.
DEVELOPER_TREE = [
    ".venv/lib/python3.11/site-packages/google/auth/iam.py",
    ".venv-old/bin/python",
    ".venv-iac/lib/python3.11/site-packages/checkov/main.py",
    ".venv-checkov/bin/checkov",
    "venv/bin/activate",
    ".tools/terraform-schemas/google.json",
    "node_modules/@cdktf/provider-google/package.json",
    ".calsync/keys/google-sa.json",
    ".calsync/local.env",
    ".idea/workspace.xml",
    ".vscode/settings.json",
    ".mypy_cache/3.11/core/model.meta.json",
    ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/0.17.6/123",
    ".hypothesis/examples/ab/cd",
    "core/__pycache__/model.cpython-311.pyc",
    "infra/stray.pyc",
    ".DS_Store",
    "functions/.DS_Store",
    "calsync-runtime-key.json",  # gcloud iam service-accounts keys create (deploy.md, keyed mode)
    "application_default_credentials.json",
    "calsync-sf.key",
    "calsync-sf.crt",
    "calsync-sf.csr",
    "keystore.jks",
    "cert.pfx",
    "secrets/prod.pem",
    ".env",
    ".env.production",
    "salesforce.env",
    "terraform/terraform.tfvars",
    "terraform/backend.hcl",
    "terraform/terraform.tfstate",
    "terraform/.terraform/providers/registry.terraform.io/hashicorp/google/6.50.0/x",
    "terraform/.build/calsync-source.zip",
    "prod.tfvars",
    "backend.hcl",
    "terraform.tfstate.backup",
    "debug.log",
    "bench/results/latest.json",
    "docs/deploy.md",
    "NOTES.md",
]
CODE = ["main.py", "requirements.txt", "core/model.py", "infra/config.py", "functions/status.py"]


def test_archive_excludes_everything_of_a_developers_tree_but_the_code(tmp_path):
    """The exclude list held against a realistic tree, through the same glob semantics the archive
    provider uses: what ships is main.py, requirements.txt and .py files of the shipped packages."""
    for rel in DEVELOPER_TREE + CODE:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    shipped = shipped_files(tmp_path)
    assert shipped == set(CODE)


def test_archive_ships_only_code_from_this_checkout():
    for rel in shipped_files(ROOT):
        top = rel.split("/", 1)[0]
        template = rel.startswith("infra/templates/") and rel.endswith(".html")  # the dashboard's
        assert rel in {"main.py", "requirements.txt"} or (
            top in SHIPPED_DIRS and (rel.endswith(".py") or template)
        ), rel


# --- the deployment applies on the first try ---------------------------------------------------


def test_sync_user_scales_with_the_queues_concurrency():
    """One session per instance: sync_user's instance cap is the queue's concurrency, so the queue
    never dispatches to an instance that cannot be started (and no more are paid for)."""
    assert functions_map()["sync_user"]["max_instances"] == "${var.tasks_max_concurrent_dispatches}"
    service = block(resources("google_cloudfunctions2_function")["fn"]["service_config"])
    assert service["max_instance_request_concurrency"] == 1


def test_R34_public_functions_open_without_an_all_users_grant_by_default():
    """Domain Restricted Sharing refuses allUsers: by default the public functions' Cloud Run
    invoker check is disabled instead, for exactly the "public" entries of the functions map."""
    assert unquote(variables()["public_access"]["default"]) == "no_invoker_check"
    opener = resources("terraform_data")["public_without_invoker_check"]
    assert opener["for_each"] == (
        '${var.public_access == "no_invoker_check" ? local.public_functions : {}}'
    )
    assert locals_()["public_functions"] == (
        '${{for name, fn in local.functions : name => fn if fn.access == "public"}}'
    )
    [provisioner] = opener["provisioner"]
    command = unquote(provisioner['"local-exec"']["command"])
    assert command.startswith("gcloud run services update ")
    assert "--no-invoker-iam-check" in command
    assert "${google_cloudfunctions2_function.fn[each.key].service_config[0].service}" in command
    # Re-run after every deployment of the function, so a redeploy cannot close the webhook.
    assert (
        "${google_cloudfunctions2_function.fn[each.key].update_time}" in opener["triggers_replace"]
    )
    grant = resources("google_cloud_run_v2_service_iam_member")["public"]
    assert 'var.public_access == "all_users"' in grant["for_each"]


def test_apis_terraform_itself_needs_are_enabled():
    services = {
        unquote(s)
        for s in re.findall(r'"([a-z0-9-]+\.googleapis\.com)"', (TERRAFORM / "apis.tf").read_text())
    }
    assert {"cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com",
            "iamcredentials.googleapis.com", "calendar-json.googleapis.com"} <= services  # fmt: skip


def depends_on(body: dict[str, Any]) -> set[str]:
    return {unquote(d) for d in body.get("depends_on", [])}


def test_first_apply_waits_where_google_documents_propagation():
    """API enablement, new service accounts and role grants are eventually consistent: whatever
    uses them waits for the documented time instead of failing on the first apply."""
    sleeps = resources("time_sleep")
    assert set(sleeps) == {"apis_enabled", "service_accounts_created", "grants_propagated"}
    assert depends_on(sleeps["apis_enabled"]) == {"${google_project_service.enabled}"}
    assert unquote(sleeps["grants_propagated"]["create_duration"]) == "120s"  # "typically 2 min"
    for kind, name in [("google_service_account", "runtime"), ("google_firestore_database", "calsync"),
                       ("google_secret_manager_secret", "sf_private_key"),
                       ("google_storage_bucket", "source")]:  # fmt: skip
        assert depends_on(resources(kind)[name]) == {"${time_sleep.apis_enabled}"}, name
    for kind, name in [("google_project_iam_member", "builder"), ("google_cloud_tasks_queue", "sync"),
                       ("google_service_account_iam_member", "runtime_acts_as_invoker"),
                       ("google_project_iam_member", "runtime_firestore")]:  # fmt: skip
        assert "${time_sleep.service_accounts_created}" in depends_on(resources(kind)[name]), name
    function = resources("google_cloudfunctions2_function")["fn"]
    assert depends_on(function) == {"${time_sleep.grants_propagated}"}


def test_the_live_source_archive_is_never_deleted_by_the_lifecycle_rule():
    bucket = resources("google_storage_bucket")["source"]
    assert block(bucket["versioning"])["enabled"] is True
    for rule in bucket["lifecycle_rule"]:
        condition = block(rule["condition"])
        assert unquote(condition.get("with_state")) == "ARCHIVED", condition  # noncurrent only
    obj = resources("google_storage_bucket_object")["source"]
    assert unquote(obj["name"]) == "calsync-source.zip"  # one name: replaced, never piled up
    source = block(
        block(block(resources("google_cloudfunctions2_function")["fn"]["build_config"])["source"])[
            "storage_source"
        ]
    )
    assert source["generation"] == "${google_storage_bucket_object.source.generation}"


def test_state_lives_in_a_gcs_backend():
    text = (TERRAFORM / "backend.tf").read_text()
    assert re.search(r'backend\s+"gcs"\s*\{\s*\}', text)
    example = hcl2.loads((TERRAFORM / "backend.hcl.example").read_text())
    assert set(example) >= {"bucket", "prefix"}
    assert "backend.hcl" in (TERRAFORM / ".gitignore").read_text().split()


def lock_file() -> dict[str, dict[str, Any]]:
    doc = hcl2.loads((TERRAFORM / ".terraform.lock.hcl").read_text())
    return {
        unquote(name): body
        for entry in doc["provider"]
        for name, body in entry.items()
        if not name.startswith("__")
    }


def test_provider_versions_are_the_checked_ones_and_locked():
    """versions.tf admits only patch releases of the provider versions whose schemas `make lint`
    checks, and the committed lock file pins exactly those versions, with their hashes."""
    pins = json.loads((ROOT / "tools" / "terraform_providers.json").read_text())["providers"]
    required = {}
    for entry in hcl2.loads((TERRAFORM / "versions.tf").read_text())["terraform"]:
        for providers in entry.get("required_providers", []):
            for name, spec in providers.items():
                if not name.startswith("__"):
                    required[name] = {k: unquote(v) for k, v in spec.items()}
    assert set(required) == set(pins)
    locked = lock_file()
    for name, pin in pins.items():
        assert required[name]["source"] == pin["source"]
        assert required[name]["version"] == f"~> {pin['version']}", name
        body = locked[f"registry.terraform.io/{pin['source']}"]
        assert unquote(body["version"]) == pin["version"]
        assert unquote(body["constraints"]) == required[name]["version"]
        hashes = [unquote(h) for h in body["hashes"]]
        assert len(hashes) >= 10 and all(
            re.fullmatch(r"zh:[0-9a-f]{64}|h1:[A-Za-z0-9+/=]{44}", h) for h in hashes
        )
    assert set(locked) == {f"registry.terraform.io/{p['source']}" for p in pins.values()}


def test_cli_admins_impersonate_the_runtime_and_nothing_else():
    grant = resources("google_service_account_iam_member")["cli_admins_impersonate_runtime"]
    assert grant["for_each"] == "${toset(var.cli_admins)}"
    assert grant["service_account_id"] == "${google_service_account.runtime.name}"
    assert unquote(grant["role"]) == "roles/iam.serviceAccountTokenCreator"
    assert locals_()["function_env"]["CALSYNC_RUNTIME_SERVICE_ACCOUNT"] == (
        "${google_service_account.runtime.email}"
    )


# --- the checks of `make lint`, proven to pass here and to fail on a broken file ---------------

LINT = [sys.executable, "-m", "tools.lint_terraform"]
BROKEN = {
    "fmt": (
        'resource "google_service_account" "x" {\naccount_id="calsync-x"\n}\n',
        "terraform fmt",
    ),
    "schema": (
        'resource "google_service_account" "x" {\n  account_id = "calsync-x"\n  colour = "blue"\n}\n',
        "unsupported argument 'colour'",
    ),
    # A bucket open to every object ACL: both scanners know this one.
    "checkov": (
        'resource "google_storage_bucket" "x" {\n  name     = "calsync-x"\n  location = "EU"\n}\n',
        "CKV_GCP_29",
    ),
    "trivy": (
        'resource "google_storage_bucket" "x" {\n  name     = "calsync-x"\n  location = "EU"\n}\n',
        "GCP-0002",
    ),
}


def lint(check: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LINT, "--only", check, str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_R33_addon_descriptor_calls_the_addon_function():
    """R-33: the deployment descriptor names the addon function for both triggers, asks for the
    current event's metadata and attendees only, and sends the system ID token."""
    import json

    text = (ROOT / "addon" / "deployment.json").read_text()
    descriptor = json.loads(text.replace("${addon_url}", "https://x/addon").replace(
        "${logo_url}", "https://x/logo.png").replace("${salesforce_url}", "https://sf"))  # fmt: skip
    add_ons = descriptor["addOns"]
    assert add_ons["common"]["homepageTrigger"]["runFunction"] == "https://x/addon"
    assert add_ons["calendar"]["eventOpenTrigger"]["runFunction"] == "https://x/addon"
    assert add_ons["calendar"]["currentEventAccess"] == "READ"
    assert add_ons["httpOptions"]["authorizationHeader"] == "SYSTEM_ID_TOKEN"
    assert "https://www.googleapis.com/auth/calendar.addons.execute" in descriptor["oauthScopes"]
    # Terraform renders it with this deployment's URLs: every placeholder is one it passes.
    outputs_tf = (TERRAFORM / "outputs.tf").read_text()
    assert "../addon/deployment.json" in outputs_tf
    for placeholder in set(re.findall(r"\$\{(\w+)\}", text)):
        assert re.search(rf"^\s*{placeholder}\s*=", outputs_tf, re.M), placeholder


def test_R32_dashboard_templates_are_shipped():
    """The dashboard renders server-side from infra/templates: they must reach the function."""
    shipped = shipped_files()
    assert {"infra/templates/dashboard.html", "infra/templates/signin.html"} <= shipped
    assert "addon/deployment.json" not in shipped


@pytest.mark.parametrize("check", sorted(BROKEN))
def test_lint_check_passes_on_terraform(check):
    done = lint(check, TERRAFORM)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"terraform {check}: ok" in done.stdout


@pytest.mark.parametrize("check", sorted(BROKEN))
def test_lint_check_fails_on_a_broken_file(check, tmp_path):
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform", ".build"))
    text, finding = BROKEN[check]
    (copy / "broken.tf").write_text(text)
    done = lint(check, copy)
    assert done.returncode == 1, done.stdout
    assert f"terraform {check}: FAILED" in done.stdout and finding in done.stdout, done.stdout


def test_a_missing_tool_fails_with_what_to_install(tmp_path, monkeypatch, capsys):
    from tools import lint_terraform

    monkeypatch.setattr(lint_terraform, "IAC_BIN", tmp_path / "nowhere")
    monkeypatch.setattr(lint_terraform, "SCHEMAS", tmp_path / "no-schemas")
    assert lint_terraform.main(["--only", "trivy", "--only", "schema", str(TERRAFORM)]) == 1
    out = capsys.readouterr().out
    assert "terraform trivy: FAILED" in out and "terraform schema: FAILED" in out
    assert out.count("make install") == 2, out


def test_R26_the_echo_ledger_expires_by_a_ttl_policy_on_the_field_the_code_writes():
    from infra import sf_ledger

    ttl = resources("google_firestore_field")["sf_writes_ttl"]
    assert unquote(ttl["collection"]) == sf_ledger.LEDGER
    assert unquote(ttl["field"]) == "expires"
    assert "ttl_config" in ttl and "index_config" not in ttl
    assert '"expires"' in Path(sf_ledger.__file__).read_text()
