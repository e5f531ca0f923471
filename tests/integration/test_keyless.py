"""Keyless domain-wide delegation on the local stand-ins, through google-auth's real code paths
(R-34): `google.auth.default()` on the metadata server (a function), or on an admin's
application-default login (own or impersonating the runtime account); IAM signBlob signs the
delegation JWT with the key the identity emulator holds; the Calendar emulator's token endpoint
checks it against that account's certificate and the delegation entry's scopes.

Each caller runs in its own process, as a function or the CLI would: google-auth reads the
metadata server's address when it is first imported.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
import requests

from emulators.keys import keypair
from emulators.launch import free_port, start
from infra.credentials import CALENDAR_SCOPES

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
RUNTIME = "calsync-runtime@calsync-test.iam.gserviceaccount.com"
ADMIN = "ada@example.com"  # holds Token Creator on the runtime account (cli_admins)
STRANGER = "eve@example.com"  # holds nothing
ALICE = "alice@example.com"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"


@dataclass
class Stand:
    identity: str
    calendar: str
    folder: Path
    runtime_key: str
    runtime_cert: bytes

    def calls(self) -> dict[str, int]:
        return dict(requests.get(f"{self.identity}/_admin/calls", timeout=5).json())


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("keyless")
    issuer_key, issuer_cert = keypair("issuer")
    runtime_key, runtime_cert = keypair(RUNTIME)
    for name, data in [("issuer.pem", issuer_key), ("runtime.pem", runtime_key)]:
        (folder / name).write_text(data)
    (folder / "issuer-cert.pem").write_bytes(issuer_cert)
    (folder / "runtime-cert.pem").write_bytes(runtime_cert)
    (folder / "gcloud").mkdir()
    identity_port, calendar_port = free_port(), free_port()
    identity = start(
        "google-identity",
        [sys.executable, "-m", "emulators.google_identity", "--port", str(identity_port),
         "--issuer-key", str(folder / "issuer.pem"), "--issuer-cert", str(folder / "issuer-cert.pem"),
         "--service-account-key", f"{RUNTIME}={folder / 'runtime.pem'}",
         "--grant", f"{RUNTIME}={RUNTIME}", "--grant", f"{ADMIN}={RUNTIME}",
         "--instance-account", RUNTIME, "--project", "calsync-test"],
        folder / "identity.log", cwd=REPO,
    )  # fmt: skip
    calendar = start(
        "google-calendar",
        [sys.executable, "-m", "emulators.google_calendar", "--port", str(calendar_port),
         "--domain", "example.com", "--service-account-cert", f"{RUNTIME}={folder / 'runtime-cert.pem'}",
         "--delegation", f"{RUNTIME}={EVENTS_SCOPE}"],
        folder / "calendar.log", cwd=REPO,
    )  # fmt: skip
    try:
        yield Stand(f"http://127.0.0.1:{identity_port}", f"http://127.0.0.1:{calendar_port}",
                    folder, runtime_key, runtime_cert)  # fmt: skip
    finally:
        calendar.stop()
        identity.stop()


READ_CALENDAR = """
from infra.config import Config
from infra.google_calendar import GoogleCalendar
calendar = GoogleCalendar(Config.from_env(), "alice@example.com")
items = calendar._service.events().list(calendarId="primary").execute()["items"]
print("events:", len(items))
"""


def run(stand: Stand, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A process that reads Alice's calendar the way a session does, with the given identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCE_METADATA", "CALSYNC_"))}
    env.update(
        GOOGLE_CLOUD_PROJECT="calsync-test",
        FIRESTORE_EMULATOR_HOST="127.0.0.1:1",  # a local stack: the IAM route is allowed
        CALSYNC_CALENDAR_URL=f"{stand.calendar}/calendar/v3/",
        CALSYNC_CALENDAR_TOKEN_URI=f"{stand.calendar}/token",
        CALSYNC_GOOGLE_AUTH_URL=stand.identity,
        CLOUDSDK_CONFIG=str(stand.folder / "gcloud"),  # no developer login stands in
        GOOGLE_APPLICATION_CREDENTIALS="",
        GCE_METADATA_DETECT_RETRIES="1",
    )
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-c", READ_CALENDAR], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip


def metadata(stand: Stand) -> dict[str, str]:
    host = stand.identity.removeprefix("http://")
    return {"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host}


def adc_file(stand: Stand, name: str, doc: dict) -> dict[str, str]:
    path = stand.folder / name
    path.write_text(json.dumps(doc))
    return {"GOOGLE_APPLICATION_CREDENTIALS": str(path)}


def user_login(stand: Stand, email: str) -> dict:
    """What `gcloud auth application-default login` writes; google-auth sends its refresh to
    Google's OAuth server, which calsync's transport delivers to the stand-in."""
    return {"type": "authorized_user", "client_id": "local-client", "client_secret": "local",
            "refresh_token": f"dev-refresh:{email}"}  # fmt: skip


def test_R34_a_function_signs_delegation_as_its_metadata_identity(stand):
    before = stand.calls()
    done = run(stand, metadata(stand))  # no CALSYNC_RUNTIME_SERVICE_ACCOUNT: learnt on refresh
    assert done.returncode == 0, done.stderr
    assert "events: 0" in done.stdout
    after = stand.calls()
    assert after.get("signBlob", 0) == before.get("signBlob", 0) + 1
    assert after.get("metadataToken", 0) > before.get("metadataToken", 0)


def test_R34_an_admin_impersonating_the_runtime_account(stand):
    """`gcloud auth application-default login --impersonate-service-account=RUNTIME`: the file
    names Google's own IAM URL, which reaches the stand-in through calsync's transport."""
    login = adc_file(stand, "impersonated.json", {
        "type": "impersonated_service_account",
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/"
        f"serviceAccounts/{RUNTIME}:generateAccessToken",
        "source_credentials": user_login(stand, ADMIN),
        "delegates": [],
    })  # fmt: skip
    before = stand.calls()
    done = run(stand, {**login, "CALSYNC_RUNTIME_SERVICE_ACCOUNT": RUNTIME})
    assert done.returncode == 0, done.stderr
    after = stand.calls()
    assert after.get("generateAccessToken", 0) == before.get("generateAccessToken", 0) + 1
    assert after.get("signBlob", 0) == before.get("signBlob", 0) + 1


def test_R34_an_admin_with_own_login_and_token_creator_on_the_runtime_account(stand):
    login = adc_file(stand, "ada.json", user_login(stand, ADMIN))
    done = run(stand, {**login, "CALSYNC_RUNTIME_SERVICE_ACCOUNT": RUNTIME})
    assert done.returncode == 0, done.stderr


def test_R34_a_login_without_the_grant_is_refused_by_iam(stand):
    login = adc_file(stand, "eve.json", user_login(stand, STRANGER))
    done = run(stand, {**login, "CALSYNC_RUNTIME_SERVICE_ACCOUNT": RUNTIME})
    assert done.returncode != 0
    assert "iam.serviceAccounts.signBlob" in done.stderr


def test_a_user_login_with_no_runtime_account_configured_says_what_to_set(stand):
    login = adc_file(stand, "ada-no-runtime.json", user_login(stand, ADMIN))
    done = run(stand, login)
    assert done.returncode != 0
    assert "CALSYNC_RUNTIME_SERVICE_ACCOUNT" in done.stderr and "cli_login" in done.stderr


def assertion(stand: Stand, scope: str, iss: str = RUNTIME, key: str = "") -> str:
    now = int(time.time())
    claims = {"iss": iss, "sub": ALICE, "scope": scope, "aud": "https://oauth2.googleapis.com/token",
              "iat": now, "exp": now + 3600}  # fmt: skip
    return jwt.encode(claims, key or stand.runtime_key, algorithm="RS256")


def exchange(stand: Stand, token: str) -> requests.Response:
    return requests.post(
        f"{stand.calendar}/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token},
        timeout=5,
    )


def test_the_delegation_entry_authorises_exactly_its_scopes(stand):
    assert exchange(stand, assertion(stand, EVENTS_SCOPE)).status_code == 200
    wider = exchange(stand, assertion(stand, "https://www.googleapis.com/auth/calendar"))
    assert wider.status_code == 401 and wider.json()["error"] == "unauthorized_client"
    other_key, _ = keypair("someone-else")
    forged = exchange(stand, assertion(stand, EVENTS_SCOPE, key=other_key))
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_grant"
    # The runtime account's key does not sign for another account.
    other = exchange(
        stand, assertion(stand, EVENTS_SCOPE, iss="other@calsync-test.iam.gserviceaccount.com")
    )
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"


def test_calsync_asks_for_no_scope_beyond_the_delegation_entry():
    assert set(CALENDAR_SCOPES) == {EVENTS_SCOPE}


# --- the identity emulator refuses as Google does ---------------------------------------------


def iam(stand: Stand, verb: str, body: dict, caller: str | None, account: str = RUNTIME):
    headers = {"Authorization": f"Bearer dev:{caller}"} if caller else {}
    return requests.post(
        f"{stand.identity}/v1/projects/-/serviceAccounts/{account}:{verb}",
        json=body, headers=headers, timeout=5,
    )  # fmt: skip


def test_iam_sign_calls_need_a_caller_a_known_account_and_a_grant(stand):
    payload = {"payload": base64.b64encode(b"x").decode()}
    assert iam(stand, "signBlob", payload, None).status_code == 401
    assert (
        iam(stand, "signBlob", payload, ADMIN, "nobody@x.iam.gserviceaccount.com").status_code
        == 404
    )
    denied = iam(stand, "signBlob", payload, STRANGER)
    assert denied.status_code == 403
    assert "iam.serviceAccounts.signBlob" in denied.json()["error"]["message"]
    assert iam(stand, "signJwt", {"payload": "{}"}, STRANGER).status_code == 403


def test_sign_blob_and_sign_jwt_sign_with_the_accounts_key(stand):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    public = x509.load_pem_x509_certificate(stand.runtime_cert).public_key()
    blob = iam(stand, "signBlob", {"payload": base64.b64encode(b"hello").decode()}, ADMIN).json()
    public.verify(
        base64.b64decode(blob["signedBlob"]), b"hello", padding.PKCS1v15(), hashes.SHA256()
    )
    now = int(time.time())
    claims = {"iss": RUNTIME, "sub": ALICE, "exp": now + 600}
    signed = iam(stand, "signJwt", {"payload": json.dumps(claims)}, ADMIN).json()["signedJwt"]
    assert jwt.decode(signed, public, algorithms=["RS256"]) == claims
    too_long = {"payload": json.dumps({**claims, "exp": now + 13 * 3600})}
    assert iam(stand, "signJwt", too_long, ADMIN).status_code == 400


def test_generated_access_tokens_act_as_the_account(stand):
    answer = iam(
        stand, "generateAccessToken", {"scope": ["https://www.googleapis.com/auth/iam"]}, ADMIN
    )
    token = answer.json()["accessToken"]
    # The runtime account holds Token Creator on itself: its token may sign as it.
    signed = requests.post(
        f"{stand.identity}/v1/projects/-/serviceAccounts/{RUNTIME}:signBlob",
        json={"payload": base64.b64encode(b"x").decode()},
        headers={"Authorization": f"Bearer {token}"}, timeout=5,
    )  # fmt: skip
    assert signed.status_code == 200
    assert iam(stand, "generateAccessToken", {"scope": ["x"]}, STRANGER).status_code == 403


def test_the_metadata_server_answers_only_with_the_metadata_flavor_header(stand):
    url = f"{stand.identity}/computeMetadata/v1/instance/service-accounts/default/email"
    assert requests.get(url, timeout=5).status_code == 403
    answer = requests.get(url, headers={"Metadata-Flavor": "Google"}, timeout=5)
    assert answer.status_code == 200 and answer.text == RUNTIME
    assert answer.headers["Metadata-Flavor"] == "Google"
    ping = requests.get(stand.identity + "/", headers={"Metadata-Flavor": "Google"}, timeout=5)
    assert ping.headers["Metadata-Flavor"] == "Google"
    identity = requests.get(
        f"{stand.identity}/computeMetadata/v1/instance/service-accounts/default/identity",
        params={"audience": "https://x.example/sync_user"}, headers={"Metadata-Flavor": "Google"},
        timeout=5,
    )  # fmt: skip
    claims = jwt.decode(identity.text, options={"verify_signature": False})
    assert claims["email"] == RUNTIME and claims["aud"] == "https://x.example/sync_user"


def test_doctor_names_the_deploy_step_of_each_failed_check(stand, monkeypatch):
    """An admin whose login holds no grant on the runtime account, against a deployment with no
    Salesforce app nor queue: every failure is reported with the deploy.md step to revisit."""
    import argparse
    import io

    from functions.cli.common import Context
    from functions.doctor import run_doctor
    from infra.config import Config
    from tests.fakes import InMemorySettingsStore

    login = adc_file(stand, "eve-doctor.json", user_login(stand, STRANGER))
    for name, value in login.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(stand.folder / "gcloud"))
    config = Config.from_env({
        "GOOGLE_CLOUD_PROJECT": "calsync-test", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1",
        "CALSYNC_CALENDAR_URL": f"{stand.calendar}/calendar/v3/",
        "CALSYNC_CALENDAR_TOKEN_URI": f"{stand.calendar}/token",
        "CALSYNC_GOOGLE_AUTH_URL": stand.identity, "CALSYNC_RUNTIME_SERVICE_ACCOUNT": RUNTIME,
        "CALSYNC_TASKS_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
    })  # fmt: skip
    store = InMemorySettingsStore()
    store.enable_user(ALICE)
    ctx = Context(lambda: store, config_factory=lambda: config)
    out = io.StringIO()
    assert run_doctor(ctx, argparse.Namespace(user=""), out) == 1, out.getvalue()
    lines = out.getvalue().splitlines()
    delegation = next(i for i, line in enumerate(lines) if "domain-wide delegation" in line)
    assert lines[delegation].lstrip().startswith("FAIL")
    assert "iam.serviceAccounts.signBlob" in lines[delegation]
    assert (
        "docs/deploy.md step 7" in lines[delegation + 1] and "cli_admins" in lines[delegation + 1]
    )
    assert any(line.lstrip().startswith("ok") and "Firestore" in line for line in lines)
    assert any("Salesforce login" in line and "FAIL" in line for line in lines)
    assert lines[-1].endswith("check(s) failed")


def test_doctor_points_a_refused_delegation_entry_at_the_admin_console_step():
    from functions.doctor import delegation_hint

    refused = "unauthorized_client: Client is unauthorized to retrieve access tokens"
    assert "step 4" in delegation_hint(refused) and "dwd_client_id" in delegation_hint(refused)
    assert "step 3" in delegation_hint("accessNotConfigured: Calendar API has not been used")
