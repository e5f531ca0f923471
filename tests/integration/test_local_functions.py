"""The local "Cloud Functions": one functions-framework process serving every HTTP function of
main.py, and what each entry point refuses (R-34)."""

import json
import os
import sys
from datetime import UTC, datetime

import pytest
import requests

import main
from core.users import SyncState
from core.version import VERSION
from emulators.launch import free_port, start
from emulators.stack import LOG_DIR, PROJECT
from infra.firestore_store import FirestoreSettingsStore
from infra.tasks import SECRET_HEADER
from tests.fixtures.identity import INVOKER
from tests.fixtures.tasks import QUEUE

pytestmark = pytest.mark.integration
SECRET = "local-secret"
CH1 = "calsync-0d7e4a52-8b1c-4f0e-9a2d-5c6b7e8f9a01"  # ids as calsync issues them
CH_UNKNOWN = "calsync-9f8e7d6c-5b4a-4321-8fed-cba987654321"


def _serve(firestore_emulator, tasks_queue, http_receiver, **extra):
    port = free_port()
    env = {
        "FIRESTORE_EMULATOR_HOST": firestore_emulator,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "CALSYNC_TASKS_EMULATOR_HOST": tasks_queue.host,
        "CALSYNC_TASKS_QUEUE": QUEUE.rsplit("/", 1)[-1],
        "CALSYNC_FUNCTIONS_URL": http_receiver.url,
        **extra,
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    return port, start(
        "functions",
        [sys.executable, "-m", "functions.local_server", "--port", str(port)],
        LOG_DIR / f"functions-test-{port}.log",
        env={**base, **env},
    )


@pytest.fixture
def functions_url(firestore_client, firestore_emulator, tasks_queue, http_receiver):
    port, server = _serve(firestore_emulator, tasks_queue, http_receiver,
                          CALSYNC_SHARED_SECRET=SECRET)  # fmt: skip
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def oidc_functions_url(firestore_client, firestore_emulator, tasks_queue, http_receiver,
                       identity):  # fmt: skip
    """Functions that expect Cloud Tasks' OIDC token, as in production (no shared secret)."""
    port, server = _serve(firestore_emulator, tasks_queue, http_receiver,
                          CALSYNC_TASKS_SERVICE_ACCOUNT=INVOKER,
                          CALSYNC_GOOGLE_CERTS_URL=identity.certs_url)  # fmt: skip
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_every_http_function_is_served(functions_url, firestore_client):
    FirestoreSettingsStore(firestore_client).enable_user("ann@example.com")
    for name in main.HTTP_FUNCTIONS:
        assert callable(getattr(main, name)), name
    answer = requests.get(functions_url + "/status", timeout=10)
    assert answer.status_code == 200
    # M7: an unauthenticated caller learns that the service and Firestore answer, nothing more
    assert answer.json() == {"service": "calsync", "version": VERSION, "firestore": "ok"}


def test_M7_status_shows_users_and_the_api_budget_to_admins_only(oidc_functions_url,
                                                                http_receiver, identity,
                                                                firestore_client):  # fmt: skip
    store = FirestoreSettingsStore(firestore_client)
    store.enable_user("ann@example.com")
    store.set_org_settings({"admins": ["boss@example.com"]})
    firestore_client.collection("calsync_org").document("api_budget").set(
        {"remaining": 75_000, "max": 100_000, "read_at": datetime.now(UTC)})  # fmt: skip
    audience = http_receiver.url + "/status"  # CALSYNC_FUNCTIONS_URL + the function's name

    def status(token: str) -> requests.Response:
        return requests.get(oidc_functions_url + "/status", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    admin = status(identity.mint(aud=audience, email="boss@example.com", email_verified=True))
    assert admin.status_code == 200
    body = admin.json()
    assert body["enabled_users"] == 1 and body["version"] == VERSION
    assert (body["salesforce_api"]["remaining"], body["salesforce_api"]["max"]) == (75_000,
                                                                                    100_000)  # fmt: skip
    for token in (
        identity.mint(aud=audience, email="rep@example.com", email_verified=True),
        identity.mint(aud=audience + "x", email="boss@example.com", email_verified=True),
        identity.mint(aud=audience, email="boss@example.com", email_verified=False),
        "not-a-token",
    ):
        refused = status(token)
        assert refused.status_code == 403
        assert "enabled_users" not in refused.text and "75000" not in refused.text


def test_unknown_function_is_404(functions_url):
    answer = requests.get(functions_url + "/nope", timeout=10)
    assert answer.status_code == 404
    assert "status" in answer.text


def push(url: str, channel: str, token: str, state: str = "exists") -> requests.Response:
    headers = {
        "X-Goog-Channel-ID": channel,
        "X-Goog-Channel-Token": token,
        "X-Goog-Resource-State": state,
        "X-Goog-Resource-ID": "res-1",
        "X-Goog-Message-Number": "2",
    }
    return requests.post(url + "/calendar_webhook", headers=headers, timeout=10)


def test_R34_webhook_accepts_only_the_stored_channel_and_token(
    functions_url, firestore_client, http_receiver
):
    store = FirestoreSettingsStore(firestore_client)
    store.enable_user("ann@example.com")
    store.save_sync_state("ann@example.com", SyncState(channel_id=CH1, channel_token="tok-1"))
    received = http_receiver.received
    assert push(functions_url, CH1, "forged").status_code == 403
    assert push(functions_url, CH_UNKNOWN, "tok-1").status_code == 403
    assert push(functions_url, "ch-1", "tok-1").status_code == 403  # not an id calsync issues
    assert push(functions_url, CH1, "tok-1", state="sync").status_code == 200
    assert received.empty()  # refused pushes and the opening `sync` queue nothing
    accepted = push(functions_url, CH1, "tok-1")
    assert accepted.status_code == 200 and accepted.json()["queued"] is True
    queued = json.loads(http_receiver.next(timeout=15).body)
    assert (queued["user"], queued["reason"]) == ("ann@example.com", "push")


def test_R34_webhook_refuses_a_disabled_users_channel(functions_url, firestore_client):
    store = FirestoreSettingsStore(firestore_client)
    store.enable_user("ann@example.com")
    store.save_sync_state("ann@example.com", SyncState(channel_id=CH1, channel_token="tok-1"))
    store.disable_user("ann@example.com")
    assert push(functions_url, CH1, "tok-1").status_code == 403


def test_L1_R34_webhook_edge_cases(functions_url, firestore_client):
    """Audit L1: a non-ASCII token is a 403 (not a 500); a stored channel without a token never
    accepts a push without one."""
    store = FirestoreSettingsStore(firestore_client)
    store.enable_user("ann@example.com")
    store.save_sync_state("ann@example.com", SyncState(channel_id=CH1, channel_token="tok-1"))
    headers = {"X-Goog-Channel-ID": CH1, "X-Goog-Channel-Token": "t\u00f6k".encode(),
               "X-Goog-Resource-State": "exists"}  # fmt: skip
    assert requests.post(functions_url + "/calendar_webhook", headers=headers,
                         timeout=10).status_code == 403  # fmt: skip
    store.save_sync_state("ann@example.com", SyncState(channel_id=CH1, channel_token=""))
    assert push(functions_url, CH1, "").status_code == 403


@pytest.mark.parametrize("name", ["sync_user", "sweep", "backfill_slice"])
def test_R34_task_and_scheduler_endpoints_need_the_secret(functions_url, name):
    answer = requests.post(f"{functions_url}/{name}", json={"user": "ann@example.com"}, timeout=10)
    assert answer.status_code == 403
    wrong = requests.post(
        f"{functions_url}/{name}", json={}, headers={SECRET_HEADER: "nope"}, timeout=10
    )
    assert wrong.status_code == 403


@pytest.mark.parametrize("name", ["sync_user", "sweep", "backfill_slice"])
def test_M7_R34_task_endpoints_verify_the_oidc_token(oidc_functions_url, http_receiver, identity,
                                                     name):  # fmt: skip
    """Audit M7: the token is checked in code: audience = this function's URL, email = the
    invoker account; a forged, foreign or missing token gets 403 and runs nothing."""
    url = f"{oidc_functions_url}/{name}"
    audience = f"{http_receiver.url}/{name}"  # CALSYNC_FUNCTIONS_URL + the function's name
    body = {"user": "not an address"}  # accepted calls answer 400 for it, refused ones 403

    def call(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(url, json=body, headers=headers, timeout=10).status_code

    assert call("") == 403
    assert call(identity.service_token(audience + "x")) == 403
    assert (
        call(identity.mint(aud=audience, email="mallory@example.com", email_verified=True)) == 403
    )
    assert call(identity.service_token(audience)) in (200, 400)
    secret_only = requests.post(url, json=body, headers={SECRET_HEADER: SECRET}, timeout=10)
    assert secret_only.status_code == 403


def test_M7_R34_neither_oidc_nor_secret_refuses_everything(
    firestore_client, firestore_emulator, tasks_queue, http_receiver
):
    port, server = _serve(firestore_emulator, tasks_queue, http_receiver)
    try:
        for name in ("sync_user", "sweep", "backfill_slice"):
            answer = requests.post(f"http://127.0.0.1:{port}/{name}", json={}, timeout=10)
            assert answer.status_code == 403
    finally:
        server.stop()


def test_R34_a_non_ascii_secret_is_refused_not_a_crash(functions_url):
    """Audit L1: a header that hmac cannot compare as str answers 403, not 500."""
    answer = requests.post(f"{functions_url}/sweep", headers={SECRET_HEADER: "s\u00e9cret".encode()},
                           timeout=10)  # fmt: skip
    assert answer.status_code == 403


@pytest.mark.parametrize("name", ["sync_user", "backfill_slice"])
def test_task_targets_refuse_a_bad_body_without_retry(functions_url, name):
    answer = requests.post(
        f"{functions_url}/{name}", json={"user": "not an address"},
        headers={SECRET_HEADER: SECRET}, timeout=10,
    )  # fmt: skip
    # Cloud Tasks retries every answer outside 2xx (audit H3): what a retry cannot mend is
    # answered 200, and the error is in the body and the log.
    assert answer.status_code == 200 and answer.json()["error"]


def test_R28_sweep_queues_every_enabled_user(functions_url, firestore_client, http_receiver):
    store = FirestoreSettingsStore(firestore_client)
    for email in ("ann@example.com", "bob@example.com", "cy@example.com"):
        store.enable_user(email)
        # a channel far from expiry, so the sweep does not try to renew it
        store.save_sync_state(
            email, SyncState(channel_id=f"ch-{email}", channel_expiration_ms=2**62)
        )
    store.disable_user("cy@example.com")
    store.save_sync_state("cy@example.com", SyncState())  # its channel was stopped already
    answer = requests.post(f"{functions_url}/sweep", headers={SECRET_HEADER: SECRET}, timeout=30)
    assert answer.status_code == 200
    # No Salesforce behind these functions: the sweep's poll fails, the sessions go on.
    # Never synced: nothing for a look to go by, so both sessions are queued (issue 14).
    assert answer.json() == {"queued": 2, "quiet": 0, "renewed": 0, "failed": 0, "stopped": 0,
                             "unreadable": 0, "polled": "failed"}  # fmt: skip
    users = sorted(json.loads(http_receiver.next(timeout=15).body)["user"] for _ in range(2))
    assert users == ["ann@example.com", "bob@example.com"]
