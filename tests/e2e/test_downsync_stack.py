"""Down-sync end to end on the whole local stack (R-21..R-26): a rep's change in Salesforce
reaches their Google calendar through the org's Flow (callout → salesforce_webhook → Cloud Task
→ sync_user) and, with the Flow off, through the scheduled poll alone (Cloud Scheduler →
sf_poll → Cloud Task → sync_user). Nobody calls a session by hand; the test only waits for
Google to show the result."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from googleapiclient.errors import HttpError
from simple_salesforce import Salesforce

from core.downsync import google_event_id
from core.labels import P_KEY, P_STATUS
from emulators import stack
from emulators.org import salesforce_admin
from emulators.rep import calendar
from tests.fixtures.salesforce import API_VERSION, trusting_session

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ALICE, BOB = "alice@example.com", "bob@example.com"


@dataclass
class Live:
    env: dict[str, str]  # the stack's endpoints, on top of this process's environment
    keys: Path  # the stack's keys and certificates

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        return salesforce_admin(self.env, method, path, **kwargs)

    def rep(self, email: str) -> Salesforce:
        """The rep's own Salesforce session: their edits, as made in Salesforce's UI."""
        token = self.admin("POST", "sessions", json={"username": email})["access_token"]
        return Salesforce(instance_url=self.env["CALSYNC_SF_INSTANCE_URL"], session_id=token,
                          session=trusting_session(self.env["CALSYNC_SF_CA_CERT"]),
                          version=API_VERSION)  # fmt: skip

    def flow(self, enabled: bool) -> None:
        self.admin("POST", "flow", json={
            "url": f"{self.env['CALSYNC_FUNCTIONS_URL']}/salesforce_webhook", "enabled": enabled})  # fmt: skip

    def poll(self) -> dict[str, Any]:
        """One run of the `sf-poll` Cloud Scheduler job, as the scheduler makes it."""
        from emulators.scheduler import post
        from infra.schedule import JOBS

        answer = post(next(j for j in JOBS if j.function == "sf_poll"), self.env)
        answer.raise_for_status()
        return dict(answer.json())

    def event(self, email: str, subject: str, days: float, **extra: Any) -> str:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
        body = {"Subject": subject, "StartDateTime": start.isoformat(),
                "EndDateTime": (start + timedelta(hours=1)).isoformat(), **extra}  # fmt: skip
        return str(self.rep(email).Event.create(body)["id"])

    def copy(self, email: str, sf_id: str) -> dict[str, Any] | None:
        """The Google copy of an SF Event (its id is derived from the Event's: R-21)."""
        try:
            got = calendar(self.env, email).get(
                calendarId="primary", eventId=google_event_id(sf_id)
            )
            return dict(got.execute())
        except HttpError as exc:
            if exc.resp.status == 404:
                return None
            raise

    def google_events(self, email: str, summary: str) -> list[dict[str, Any]]:
        found = calendar(self.env, email).list(calendarId="primary", q=summary).execute()
        return [e for e in found.get("items", []) if e.get("summary") == summary]

    def sf_events(self, subject: str) -> list[dict[str, Any]]:
        rows = self.admin("GET", "records", params={"type": "Event"})["Event"]
        return [e for e in rows if e.get("Subject") == subject and not e.get("IsChild")]

    def main(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "main.py", *argv], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    def tasks(self, paused: bool) -> None:
        """Pause or resume the sessions' Cloud Tasks queue (changes pile up meanwhile)."""
        from infra.config import Config
        from infra.tasks import client_for

        config = Config.from_env(self.env)
        client = client_for(config)
        if paused:
            client.pause_queue(name=config.tasks_queue_path)
        else:
            client.resume_queue(name=config.tasks_queue_path)


def wait_for(check: Callable[[], Any], limit: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.1)
    raise AssertionError(f"not within {limit} s: {what}")


def quiet(live: Live, seconds: float = 2.0, limit: float = 40) -> None:
    """Until Salesforce has seen no call for `seconds` (every queued session has run)."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + limit
    while time.monotonic() < deadline:
        total = live.admin("GET", "calls")["total"]
        if total != last:
            last, since = total, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        time.sleep(0.2)
    raise AssertionError("the stack never settled")


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """The whole local stack with the demo's org (three reps enabled, each watched), the Flow on."""
    state = tmp_path_factory.mktemp("downsync-stack")
    with stack.running(whole_stack=True, state=state) as (env, _):
        full = {**os.environ, **env}
        loaded = subprocess.run(
            [sys.executable, "-c", "from emulators import demo; print(demo.load_org())"],
            cwd=ROOT, env=full, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        live = Live(full, state / "keys")
        live.poll()  # the poller's watermark; the reps' (empty) windows are onboarded
        quiet(live)
        yield live


def test_R21_R26_an_sf_event_reaches_google_through_the_flow_once_and_nothing_comes_back(live):
    live.flow(True)
    sf_id = live.event(ALICE, "Flow: made in Salesforce", days=2, Location="Room 1")
    copy = wait_for(lambda: live.copy(ALICE, sf_id), 20, "the Flow's copy in Google")
    assert (copy["summary"], copy["location"], copy["colorId"]) == (
        "Flow: made in Salesforce", "Room 1", "9")  # fmt: skip
    private = copy["extendedProperties"]["private"]
    assert private[P_STATUS] == "Tracked successfully" and private[P_KEY]
    assert "attendees" not in copy  # nobody invited, nobody notified
    quiet(live)  # the copy's push comes back: an echo, dropped
    assert len(live.sf_events("Flow: made in Salesforce")) == 1
    assert len(live.google_events(ALICE, "Flow: made in Salesforce")) == 1
    assert live.copy(BOB, sf_id) is None  # only the owner gets it


def test_R21_with_the_flow_off_the_scheduled_poll_alone_brings_it(live):
    live.flow(False)
    try:
        sf_id = live.event(BOB, "Poll: made in Salesforce", days=3)
        time.sleep(1.5)
        assert live.copy(BOB, sf_id) is None  # no Flow: nothing happens until the poll
        answer = live.poll()
        assert answer["routed"] >= 1 and answer["queued"] >= 1  # Bob's (and any earlier ones)
        copy = wait_for(lambda: live.copy(BOB, sf_id), 20, "the poll's copy in Google")
        assert copy["summary"] == "Poll: made in Salesforce" and copy["colorId"] == "9"
        quiet(live)
        again = live.poll()  # the copy calsync wrote is not read back as a change
        assert again["routed"] == 0
    finally:
        live.flow(True)


def test_R22_an_sf_edit_reaches_the_google_copy(live):
    live.flow(True)
    sf_id = live.event(ALICE, "Edit me in Salesforce", days=4)
    wait_for(lambda: live.copy(ALICE, sf_id), 20, "the copy")
    live.rep(ALICE).Event.update(sf_id, {"Subject": "Edited in Salesforce", "Location": "HQ",
                                         "ShowAs": "Free"})  # fmt: skip
    copy = wait_for(lambda: (c := live.copy(ALICE, sf_id)) and
                    c["summary"] == "Edited in Salesforce" and c, 20, "the edit in Google")  # fmt: skip
    assert (copy["location"], copy.get("transparency")) == ("HQ", "transparent")
    quiet(live)
    [event] = live.sf_events("Edited in Salesforce")  # and Salesforce kept the rep's edit
    assert event["Location"] == "HQ"


def test_R23_an_sf_delete_found_by_the_poll_takes_the_labels_off_the_google_copy(live):
    live.flow(True)
    sf_id = live.event(ALICE, "Delete me in Salesforce", days=5)
    wait_for(lambda: (c := live.copy(ALICE, sf_id)) and c.get("colorId") == "9", 20, "the copy")
    live.rep(ALICE).Event.delete(sf_id)  # no Flow runs after a delete: the poll finds it
    time.sleep(1.0)
    assert live.copy(ALICE, sf_id).get("colorId") == "9"
    live.poll()
    copy = wait_for(lambda: (c := live.copy(ALICE, sf_id)) and "colorId" not in c and c, 20,
                    "the copy unlabelled")  # fmt: skip
    assert copy["status"] == "confirmed"  # kept in the calendar: only the labels went
    private = copy.get("extendedProperties", {}).get("private", {})
    assert P_STATUS not in private and P_KEY not in private
    quiet(live)
    assert live.sf_events("Delete me in Salesforce") == []  # nothing re-created


def test_R26_a_conflict_the_later_change_wins_and_history_keeps_the_loser(live):
    live.flow(True)
    sf_id = live.event(ALICE, "Conflict: as made", days=6)
    wait_for(lambda: live.copy(ALICE, sf_id), 20, "the copy")
    quiet(live)
    live.tasks(paused=True)  # both sides change before a session runs
    try:
        calendar(live.env, ALICE).patch(calendarId="primary", eventId=google_event_id(sf_id),
                                        body={"summary": "Conflict: Google's title"}).execute()  # fmt: skip
        time.sleep(1.5)  # Salesforce's change is the later one
        live.rep(ALICE).Event.update(sf_id, {"Subject": "Conflict: Salesforce's title"})
        time.sleep(1.0)  # the push and the Flow's callout have queued their tasks
    finally:
        live.tasks(paused=False)
    wait_for(lambda: (c := live.copy(ALICE, sf_id)) and
             c["summary"] == "Conflict: Salesforce's title", 20, "Salesforce's title in Google")  # fmt: skip
    quiet(live)
    [event] = live.sf_events("Conflict: Salesforce's title")
    assert event["Id"] == sf_id
    shown = live.main("history", ALICE, google_event_id(sf_id))
    assert shown.returncode == 0, shown.stderr
    [row] = [line for line in shown.stdout.splitlines() if "Conflict: Google's title" in line]
    assert "subject" in row.lower() and "Salesforce" in row


def test_the_webhook_accepts_only_fresh_calls_signed_for_it_by_this_org(live):
    """The Flow's JWT (API-FACTS-2 §1.7): the org's certificate, this URL, this org, fresh."""
    import jwt

    url = f"{live.env['CALSYNC_FUNCTIONS_URL']}/salesforce_webhook"
    body = {"orgId": stack.SF_ORG_ID, "eventId": "00U000000000001AAA", "change": "created",
            "ownerId": "005000000000001AAA", "isChild": False}  # fmt: skip
    key = (live.keys / "sf-flow-key.pem").read_text()

    def call(token: str | None = None, **claims: Any) -> int:
        issued = int(time.time()) - claims.pop("age", 0)
        signed = {"iss": stack.SF_ORG_ID, "aud": url, "iat": issued, "nbf": issued,
                  "exp": issued + 120, **claims}  # fmt: skip
        token = token if token is not None else jwt.encode(signed, key, algorithm="RS256")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(url, json=body, headers=headers, timeout=10).status_code

    assert call("") == 401  # no token
    assert call("eyJhbGciOiJSUzI1NiJ9.e30.c2ln") == 401  # not signed by the org
    assert call(age=900) == 401  # captured and replayed later
    assert call(iss="00D000000000009AAA") == 401  # another org
    assert call(aud="https://elsewhere.example/salesforce_webhook") == 401
    assert call() == 200  # the org's Flow: accepted (an owner nobody enabled: routed nowhere)
