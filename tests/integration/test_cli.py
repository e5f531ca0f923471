"""The admin command line (`python main.py`) on the Firestore emulator."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions.cli import run
from infra.firestore_store import FirestoreSettingsStore

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin(firestore_client):
    store = FirestoreSettingsStore(firestore_client)

    def call(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        return run(list(argv), lambda: store, out=out), out.getvalue()

    return call, store


def test_users_enable_and_list(admin):
    call, store = admin
    assert call("users", "enable", "Ann@Example.com", "--sf-user-id", "005000000000001AAA")[0] == 0
    assert call("users", "enable", "bob@example.com")[0] == 0
    code, out = call("users", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("ann@example.com") and "sf_user_id=005000000000001AAA" in lines[0]
    assert lines[1].startswith("bob@example.com") and "enabled" in lines[1]
    assert store.get_user("ann@example.com").enabled


def test_enable_refuses_a_non_address(admin, capsys):
    call, store = admin
    code, _ = call("users", "enable", "not-an-address")
    assert code == 2
    assert "not an email address" in capsys.readouterr().err
    assert store.list_users() == []


def test_settings_set_and_show(admin):
    call, store = admin
    assert call("settings", "set", "internal_domains", '["Example.com"]')[0] == 0
    assert call("settings", "set", "private_items", "private_unlinked")[0] == 0
    call("users", "enable", "ann@example.com")
    assert call("settings", "set", "autosave_meetings", "true", "--user", "ann@example.com")[0] == 0
    assert store.org_settings() == {
        "internal_domains": ["example.com"],
        "private_items": "private_unlinked",
    }
    code, out = call("settings", "show", "--user", "ann@example.com")
    assert code == 0
    shown = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()}
    assert shown["autosave_meetings"] == "true  (user)"
    assert shown["internal_domains"] == '["example.com"]  (org)'
    assert shown["window_past_days"] == "14  (default)"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        pytest.param(
            ("settings", "set", "window_past_dayz", "3"), "window_past_dayz", id="unknown key"
        ),
        pytest.param(
            ("settings", "set", "window_past_days", "soon"), "window_past_days", id="wrong type"
        ),
        pytest.param(
            ("settings", "set", "internal_domains", '["x.com"]', "--user", "ann@example.com"),
            "internal_domains",
            id="org-only key per user",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_key(admin, capsys, argv, named):
    call, store = admin
    call("users", "enable", "ann@example.com")
    code, _ = call(*argv)
    assert code == 2
    assert named in capsys.readouterr().err
    assert store.org_settings() == {}
    assert store.get_user("ann@example.com").settings == {}


def test_invalid_stored_setting_is_reported_not_fatal(admin, capsys):
    """SPEC §7: a bad value written straight into Firestore is reported; the default stays."""
    call, store = admin
    store.set_org_settings({"window_past_days": "fourteen"})
    code, out = call("settings", "show")
    assert code == 0
    shown = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()}
    assert shown["window_past_days"] == "14  (default)"
    assert "window_past_days" in capsys.readouterr().err


def test_script_help_and_missing_configuration(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GOOGLE_", "GCLOUD_", "FIRESTORE_"))
    }
    env["CALSYNC_STATE_DIR"] = str(tmp_path)
    helped = subprocess.run(
        [sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert helped.returncode == 0 and "users" in helped.stdout and "settings" in helped.stdout
    bare = subprocess.run(
        [sys.executable, "main.py", "users", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert bare.returncode == 2
    assert "GOOGLE_CLOUD_PROJECT" in bare.stderr
