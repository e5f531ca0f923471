"""The local "Cloud Functions": one functions-framework process serving every HTTP function of main.py."""

import os
import sys

import pytest
import requests

import main
from emulators.launch import free_port, start
from emulators.stack import LOG_DIR, PROJECT
from infra.firestore_store import FirestoreSettingsStore

pytestmark = pytest.mark.integration


@pytest.fixture
def functions_url(firestore_client, firestore_emulator):
    port = free_port()
    env = {"FIRESTORE_EMULATOR_HOST": firestore_emulator, "GOOGLE_CLOUD_PROJECT": PROJECT}
    server = start(
        "functions",
        [sys.executable, "-m", "functions.local_server", "--port", str(port)],
        LOG_DIR / f"functions-test-{port}.log",
        env={**os.environ, **env},
    )
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_every_http_function_is_served(functions_url, firestore_client):
    FirestoreSettingsStore(firestore_client).enable_user("ann@example.com")
    for name in main.HTTP_FUNCTIONS:
        assert callable(getattr(main, name)), name
    answer = requests.get(functions_url + "/status", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"service": "calsync", "firestore": "ok", "enabled_users": 1}


def test_unknown_function_is_404(functions_url):
    answer = requests.get(functions_url + "/nope", timeout=10)
    assert answer.status_code == 404
    assert "status" in answer.text
