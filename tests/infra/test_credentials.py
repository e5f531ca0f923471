"""The Salesforce HTTP session gives up on a call that never answers (simple-salesforce sets no
timeout of its own), so neither a session nor an admin's command hangs on it."""

from __future__ import annotations

import socket

import pytest
import requests

from infra import credentials
from infra.config import Config


def test_a_salesforce_call_that_never_answers_times_out(monkeypatch):
    monkeypatch.setattr(credentials, "SF_TIMEOUT", 0.3)
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        http = credentials.salesforce_http(Config.from_env({"GOOGLE_CLOUD_PROJECT": "p"}))
        with pytest.raises(requests.Timeout):
            http.get(f"http://127.0.0.1:{port}/services/data/")
