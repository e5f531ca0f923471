"""terraform/ matches the code it deploys, and deploys it safely (R-34).

Terraform cannot plan here (no provider registry), so these tests parse the configuration with
python-hcl2 and compare it with main.HTTP_FUNCTIONS and the variables infra/config.py reads.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

import main

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM = ROOT / "terraform"

# Who may call which function. Google's push notifications and the add-on carry no Google
# identity: those two are public at the IAM layer and check their own tokens. The rest never are.
PUBLIC = {"calendar_webhook", "addon"}
SERVICE = {"sync_user", "sweep"}  # Cloud Tasks / Cloud Scheduler, via OIDC as the invoker account
ACCESS_LEVELS = {"public", "service", "admin"}

# Variables infra/config.py reads that production never sets.
EMULATOR_ONLY = {
    "FIRESTORE_EMULATOR_HOST",
    "CALSYNC_TASKS_EMULATOR_HOST",
    "CALSYNC_SF_CA_CERT",
    "CALSYNC_SF_SESSION_ID",
    "CALSYNC_SHARED_SECRET",
    "CALSYNC_GOOGLE_CERTS_URL",
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
        assert int(settings["max_instances"]) >= 1, name


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
    assert set(resources("google_secret_manager_secret")) == {"sf_private_key", "dwd_key"}


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
        if name != "__comments__"
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


def test_public_functions_are_exactly_the_webhook_and_the_addon():
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


def test_scheduler_calls_sweep_with_oidc_as_the_invoker():
    jobs = resources("google_cloud_scheduler_job")
    assert set(jobs) == {"sweep"}
    job = jobs["sweep"]
    assert 'name == "sweep"' in job["for_each"]
    target = block(job["http_target"])
    assert "oauth_token" not in target
    oidc = block(target["oidc_token"])
    assert oidc["service_account_email"] == INVOKER_EMAIL
    assert (
        oidc["audience"] == target["uri"] == "${google_cloudfunctions2_function.fn[each.key].url}"
    )


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


def test_archive_ships_the_code_and_leaves_out_tests_tools_and_secrets():
    excludes = archive_excludes()
    for must_go in ["tests/**", "emulators/**", ".venv/**", "terraform/**"]:
        assert must_go in excludes
    assert ".git/**" in excludes and ".calsync/**" in excludes
    for key_file in ["**/*.pem", "**/*.key", "**/*.p12", "**/.env", "**/*.env"]:
        assert key_file in excludes
    for must_stay in ["main.py", "requirements.txt"] + [f"{d}/**" for d in SHIPPED_DIRS]:
        assert must_stay not in excludes


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


def shipped_files() -> set[str]:
    """What the source archive would hold, built from the working tree as the provider does."""
    patterns = [doublestar(p) for p in archive_excludes()]
    files = set()
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
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


# --- formatting -------------------------------------------------------------------------------


def terraform_binary() -> str | None:
    return shutil.which("terraform") or (
        "/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").exists() else None
    )


@pytest.mark.skipif(terraform_binary() is None, reason="terraform binary not installed")
def test_terraform_fmt_check_passes():
    binary = terraform_binary()
    assert binary
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
