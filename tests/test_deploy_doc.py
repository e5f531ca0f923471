"""docs/deploy.md says what the code and terraform/ really do: the delegation scopes, the
outputs, variables and make targets it names, the CLI commands it runs."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2

from emulators.stack import delegation_scopes
from functions.cli.app import parser as _parser
from infra.credentials import CALENDAR_SCOPES

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "deploy.md").read_text()


def declared(kind: str) -> set[str]:
    names = set()
    for path in (ROOT / "terraform").glob("*.tf"):
        for entry in hcl2.loads(path.read_text()).get(kind, []):
            names.update(k.strip('"') for k in entry if not k.startswith("__"))
    return names


def test_R34_the_delegation_scopes_admins_enter_are_exactly_those_calsync_requests():
    """The Admin console entry is all calsync can use: the page must list what the code asks for
    (and the local stack authorises the page's list, so a wrong list fails the e2e tests)."""
    assert delegation_scopes() == list(CALENDAR_SCOPES)
    assert "calendar.readonly" not in DOC


def test_every_terraform_output_the_page_uses_exists():
    used = set(re.findall(r"terraform(?: -chdir=terraform)? output(?: -raw| -json)? (\w+)", DOC))
    assert used >= {"cli_login", "admin_env", "dwd_client_id", "function_urls"}
    assert used <= declared("output"), used - declared("output")


def test_every_variable_the_page_names_exists():
    section = DOC[DOC.index("## 3. Fill in the variables") : DOC.index("## 4. Apply")]
    named = set(re.findall(r"^\| `(\w+)`", section, flags=re.M))
    assert len(named) >= 8
    named |= {"public_access", "cli_admins", "alert_email", "firestore_deletion_protection"}
    assert named <= declared("variable"), named - declared("variable")


def test_every_cli_command_the_page_runs_exists():
    commands = set(_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    used = set(re.findall(r"main\.py (\w+)", DOC))
    assert {"doctor", "users", "settings", "issues", "sync"} <= used
    assert used <= commands, used - commands


def test_every_make_target_the_page_uses_exists():
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make (\w+)`|^make (\w+)", DOC, flags=re.M)):
        name = target[0] or target[1]
        assert re.search(rf"^{name}:", makefile, flags=re.M), name


def test_the_page_covers_what_a_new_admin_asked_for():
    """The newcomer trial's F4 and F14 points: each has its section."""
    for heading in ["## 7. The admin command line", "## What reps see", "## Logs and alerts",
                    "## Cost", "## Upgrade", "## Rollback", "## Uninstall"]:  # fmt: skip
        assert heading in DOC, heading
    assert "--impersonate-service-account" in DOC
    assert "set-quota-project" in DOC
    assert "sf project deploy start" in DOC and "Calsync_Key__c" in DOC
    assert "terraform init -backend-config=backend.hcl" in DOC
    assert "Until the webhook ships" not in DOC  # the stale note of F14.1
