"""Salesforce emulator: start flags (--tls-dir, --seed, --no-external-id) and the certificate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cryptography import x509
from simple_salesforce import Salesforce

from emulators.launch import free_port, start
from tests.fixtures.salesforce import REPO, trusting_session
from tests.integration.test_salesforce_auth import _assertion, _key_and_cert

pytestmark = pytest.mark.integration


def test_start_with_seed_and_without_external_id(tmp_path: Path):
    seed = {
        "User": [
            {
                "_ref": "ann",
                "Username": "ann@calsync.example",
                "LastName": "Ann",
                "Email": "ann@calsync.example",
                "TimeZoneSidKey": "Europe/Berlin",
            }
        ],
        "Account": [{"_ref": "acme", "Name": "Acme", "OwnerId": "@ann"}],
        "Contact": [{"LastName": "Lee", "Email": "lee@acme.example", "AccountId": "@acme"}],
        "Lead": [{"LastName": "Lou", "Company": "Lou Ltd"}],
        "Opportunity": [
            {
                "Name": "Deal",
                "StageName": "Prospecting",
                "CloseDate": "2026-09-01",
                "AccountId": "@acme",
            }
        ],
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    key, cert_pem = _key_and_cert()
    (tmp_path / "app.pem").write_bytes(cert_pem)
    port = free_port()
    server = start(
        "salesforce emulator (seeded)",
        [
            sys.executable,
            "-m",
            "emulators.salesforce",
            "--port",
            str(port),
            "--tls-dir",
            str(tmp_path / "tls"),
            "--seed",
            str(tmp_path / "seed.json"),
            "--no-external-id",
            "--jwt-cert",
            str(tmp_path / "app.pem"),
            "--jwt-consumer-key",
            "calsync-consumer-key",
        ],
        tmp_path / "log.txt",
        cwd=REPO,
        timeout=30,
    )
    try:
        assert server.ready_line == f"ready https://127.0.0.1:{port}"
        cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "cert.pem").read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in san.get_values_for_type(x509.DNSName)
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

        sf = Salesforce(
            instance_url=f"https://localhost:{port}",
            session_id="dev",
            session=trusting_session(tmp_path / "tls" / "cert.pem"),
        )
        contact = sf.query("SELECT LastName, Account.Name FROM Contact")
        assert contact["records"][0]["Account"]["Name"] == "Acme"
        assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] == 1
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1
        fields = {f["name"] for f in sf.Event.describe()["fields"]}
        assert "Calsync_Key__c" not in fields

        # --jwt-cert: a JWT for the seeded user, signed by the matching key, is accepted
        token = sf.session.post(
            f"https://localhost:{port}/services/oauth2/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": _assertion(key, sub="ann@calsync.example"),
            },
        )
        assert token.status_code == 200, token.text
        ann = Salesforce(
            instance_url=token.json()["instance_url"],
            session_id=token.json()["access_token"],
            session=sf.session,
        )
        owner = ann.query("SELECT Owner.Username FROM Account")["records"][0]["Owner"]
        assert owner["Username"] == "ann@calsync.example"
    finally:
        server.stop()
