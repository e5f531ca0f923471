"""The demo scenario that `make demo` plays on the local stack, with a readable summary.

It grows with the product: today it enables the demo org's users and settings through the admin
command line, then shows that each part of the stack answers.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping

import requests

USERS = ("alice@example.com", "bob@example.com", "carol@example.com")


def _admin(*argv: str) -> str:
    """Run one admin command in-process, as `python main.py ...` would; fail loudly on error."""
    from functions.cli import run
    from infra.wiring import settings_store

    out = io.StringIO()
    code = run(list(argv), settings_store, out=out)
    if code != 0:
        raise SystemExit(f"demo: `python main.py {' '.join(argv)}` failed with exit code {code}")
    return out.getvalue().strip()


def _check(name: str, call) -> tuple[str, str]:
    try:
        return name, f"ok    {call()}"
    except Exception as exc:  # the summary shows what failed; the exit code says so too
        return name, f"FAIL  {type(exc).__name__}: {exc}"


def _calendar(env: Mapping[str, str]) -> str:
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    service = build(
        "calendar",
        "v3",
        credentials=Credentials(token=f"dev:{USERS[0]}"),
        static_discovery=True,
        client_options={"api_endpoint": env["CALSYNC_CALENDAR_URL"]},
    )
    events = service.events().list(calendarId="primary").execute()
    return f"{USERS[0]}'s calendar lists {len(events.get('items', []))} events"


def _salesforce(env: Mapping[str, str]) -> str:
    from simple_salesforce import Salesforce

    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides `verify`
    session.verify = env["CALSYNC_SF_CA_CERT"]
    sf = Salesforce(
        instance_url=env["CALSYNC_SF_INSTANCE_URL"],
        session_id=env["CALSYNC_SF_SESSION_ID"],
        session=session,
    )
    users = sf.query("SELECT Id, Email FROM User")
    return f"{users['totalSize']} Salesforce users"


def _functions(env: Mapping[str, str]) -> str:
    answer = requests.get(env["CALSYNC_FUNCTIONS_URL"] + "/status", timeout=10)
    answer.raise_for_status()
    return f"status answers {answer.json()}"


def run(env: Mapping[str, str]) -> int:
    os.environ.update(env)
    print("calsync demo on the local stack\n")
    print("1. enable the demo org")
    print("   " + _admin("settings", "set", "internal_domains", '["example.com"]'))
    for email in USERS:
        print("   " + _admin("users", "enable", email))
    print("   " + _admin("settings", "set", "autosave_meetings", "true", "--user", USERS[0]))
    print("\n2. users")
    for line in _admin("users", "list").splitlines():
        print("   " + line)
    print("\n3. the stack answers")
    checks = [
        _check("functions", lambda: _functions(env)),
        _check("google calendar", lambda: _calendar(env)),
        _check("salesforce", lambda: _salesforce(env)),
    ]
    for name, result in checks:
        print(f"   {name:<16} {result}")
    failed = [name for name, result in checks if result.startswith("FAIL")]
    print(
        "\nsummary: "
        + ("all parts of the stack answered" if not failed else "FAILED: " + ", ".join(failed))
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(os.environ))
