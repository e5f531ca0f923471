"""The sync-issues dashboard (R-32) over HTTP on the emulators: only admins get in (a Google
sign-in checked in code against `admins`), the page shows the open issues by user and code with
their filters, and its POST actions are CSRF-checked and write the shared contracts. The browser
test (tests/e2e/test_dashboard_browser.py) drives the same page in Chromium."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import requests

from core.issues import Issue
from core.labels import P_SEEN
from core.users import HeldDelete
from infra.admin_auth import COOKIE
from infra.sync_store import FirestoreIssueStore
from tests.fixtures.addon import sign_in
from tests.fixtures.upsync import ALICE, BOB, NOBODY

pytestmark = pytest.mark.integration
ROOT = "root@example.com"
SECRET_TITLE = "Project Nightingale pricing"


@pytest.fixture
def dash(addon_app, org, firestore_client):
    """The dashboard with two users, a failed item (CS-002, found by a real session), a
    pending session-wide issue, and held deletes as the session records them (R-37)."""
    org.store.set_org_settings({"admins": [ROOT]})
    org.enable(ALICE, BOB)
    event = org.insert(ALICE, SECRET_TITLE, attendees=(ALICE, NOBODY), colorId="9")
    org.sync(ALICE)
    FirestoreIssueStore(firestore_client).record(
        [Issue("CS-011", BOB, "", "Salesforce answered 503")], [], org.now)  # fmt: skip
    held = (HeldDelete("cs1-a", "uid-a", "00U000000000001AAA", "Old kickoff", "2026-01-05T09:00:00Z"),
            HeldDelete("cs1-b", "uid-b", "00U000000000002AAA", "Old review", ""))  # fmt: skip
    org.store.set_state_fields(BOB, {"held_deletes": held, "held_id": "held-1"})
    return addon_app, f"{addon_app.url}/dashboard", event


def admin(url: str) -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    assert sign_in(http, url, ROOT).status_code == 303
    return http


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_R32_without_a_session_nothing_is_shown(dash):
    _, url, _ = dash
    for answer in (requests.get(url, timeout=30),
                   requests.get(url, cookies={COOKIE: "forged.value"}, timeout=30),
                   requests.get(f"{url}?item=x&user={ALICE}", timeout=30)):  # fmt: skip
        assert answer.status_code == 401
        assert SECRET_TITLE not in answer.text and ALICE not in answer.text
        assert "Sign in" in answer.text
    assert requests.post(url, data={"do": "disable", "user": ALICE}, timeout=30).status_code == 401


@pytest.mark.parametrize(
    ("email", "status"),
    [pytest.param(ROOT, 303, id="admin"), pytest.param(ALICE, 403, id="not an admin")],
)
def test_R32_only_admins_sign_in(dash, email, status):
    _, url, _ = dash
    http = requests.Session()
    http.trust_env = False
    answer = sign_in(http, url, email)
    assert answer.status_code == status
    assert (COOKIE in answer.cookies) is (status == 303)
    assert SECRET_TITLE not in answer.text


def test_R32_a_forged_or_replayed_sign_in_is_refused(dash, identity):
    _, url, _ = dash
    from tests.fixtures.addon import DASHBOARD_CLIENT_ID

    other_client = identity.mint(aud="someone-elses-client", email=ROOT, email_verified=True)
    good = identity.mint(aud=DASHBOARD_CLIENT_ID, email=ROOT, email_verified=True)
    for credential, cookie, field in ((other_client, "c", "c"), ("not.a.token", "c", "c"),
                                      (good, "", ""), (good, "c1", "c2")):  # fmt: skip
        answer = requests.post(f"{url}?login=1", data={"credential": credential,
                                                       "g_csrf_token": field},
                               cookies={"g_csrf_token": cookie}, allow_redirects=False,
                               timeout=30)  # fmt: skip
        assert answer.status_code == 401, credential
        assert COOKIE not in answer.cookies


def test_R32_issues_by_user_and_code_with_counts_and_what_to_do(dash):
    _, url, _ = dash
    page = admin(url).get(url, timeout=30)
    assert page.status_code == 200
    text = unescape(page.text)
    assert SECRET_TITLE in text and "CS-002" in text and "CS-011" in text
    assert 'id="count-open">2<' in page.text
    assert "Create a Contact or Lead for one attendee" in text  # the catalogue's fix
    groups = re.findall(r'class="user-group" data-user="([^"]+)"', page.text)
    assert groups == [ALICE, BOB]
    assert "unknown" in re.search(r'id="budget">(.*?)</div>', page.text, re.S).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        pytest.param("code=CS-002", ["CS-002"], id="code"),
        pytest.param(f"user={BOB}", ["CS-011"], id="user"),
        pytest.param("severity=pending", ["CS-011"], id="severity"),
        pytest.param("age=7", [], id="age: none is a week old"),
        pytest.param("code=NOPE", ["CS-002", "CS-011"], id="unknown code ignored"),
    ],
)
def test_R32_filters(dash, query, codes):
    _, url, _ = dash
    page = admin(url).get(f"{url}?{query}", timeout=30)
    assert re.findall(r'class="issue" data-code="([^"]+)"', page.text) == codes


def test_R32_budget_is_read_from_the_shared_document(dash, org, firestore_client):
    _, url, _ = dash
    firestore_client.collection("calsync_org").document("api_budget").set(
        {"remaining": 91234, "max": 100000, "read_at": org.now})  # fmt: skip
    page = admin(url).get(url, timeout=30)
    assert "91,234" in page.text and "100,000" in page.text


def test_R37_confirm_releases_exactly_the_held_set_and_queues_the_session(dash, org):
    _, url, _ = dash
    http = admin(url)
    token = csrf(http.get(url, timeout=30).text)
    stale = http.post(url, data={"csrf": token, "do": "confirm", "user": BOB, "held_id": "old"},
                      allow_redirects=False, timeout=30)  # fmt: skip
    assert "done=stale" in stale.headers["Location"]
    assert org.store.get_user(BOB).state.deletes_release == ""
    done = http.post(url, data={"csrf": token, "do": "confirm", "user": BOB, "held_id": "held-1"},
                     allow_redirects=False, timeout=30)  # fmt: skip
    assert done.status_code == 303 and "done=confirmed" in done.headers["Location"]
    assert org.store.get_user(BOB).state.deletes_release == "held-1"  # shared-contracts.md
    page = http.get(done.headers["Location"], timeout=30)
    assert "Held deletes released" in page.text and "waiting for the next session" in page.text


def test_R32_actions_need_the_csrf_token(dash, org):
    _, url, _ = dash
    http = admin(url)
    for token in ("", "forged"):
        answer = http.post(url, data={"csrf": token, "do": "disable", "user": ALICE},
                           allow_redirects=False, timeout=30)  # fmt: skip
        assert answer.status_code == 403 and answer.content == b""
    assert org.store.get_user(ALICE).enabled


def test_R32_retry_touches_the_copy_and_disable_stops_the_user(dash, org):
    _, url, event = dash
    http = admin(url)
    page = http.get(url, timeout=30).text
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answer = http.post(url, data={"csrf": csrf(page), "do": "retry", "user": ALICE, "key": key},
                       allow_redirects=False, timeout=30)  # fmt: skip
    assert "done=retried" in answer.headers["Location"]
    assert org.private_props(ALICE, event["id"])[P_SEEN].startswith("retry ")
    answer = http.post(url, data={"csrf": csrf(page), "do": "disable", "user": ALICE},
                       allow_redirects=False, timeout=30)  # fmt: skip
    assert "done=disabled" in answer.headers["Location"]
    assert not org.store.get_user(ALICE).enabled


def test_R32_item_history(dash, org):
    _, url, _ = dash
    http = admin(url)
    page = http.get(url, timeout=30).text
    link = unescape(re.search(r'href="([^"]*\?item=[^"]+)"', page).group(1))  # type: ignore[union-attr]
    history = http.get(link if link.startswith("http") else url + link[link.index("?"):],
                       timeout=30)  # fmt: skip
    assert history.status_code == 200
    text = unescape(history.text)
    assert SECRET_TITLE in text and "CS-002" in text and "open" in text
    assert "Not saved in Salesforce" in text


def test_R32_a_removed_admin_is_out_at_once(dash, org):
    _, url, _ = dash
    http = admin(url)
    org.store.set_org_settings({"admins": ["someone.else@example.com"]})
    answer = http.get(url, timeout=30)
    assert answer.status_code == 403 and SECRET_TITLE not in answer.text


def test_R32_a_session_expires_and_cannot_be_extended(dash, identity):
    """The expiry is inside the signed cookie: an old session is refused, and editing the
    expiry breaks the signature."""
    from infra.admin_auth import AdminAuth, _b64, _unb64
    from infra.choices import ChoiceSigner
    from tests.fixtures.upsync import SIGNING_KEY

    _, url, _ = dash
    auth = AdminAuth(ChoiceSigner.from_text(SIGNING_KEY), identity.verifier(), "unused")
    now = datetime.now(UTC)
    old = auth.issue(ROOT, [ROOT], now - timedelta(hours=9))
    assert requests.get(url, cookies={COOKIE: old.cookie}, timeout=30).status_code == 401
    body, _, mac = old.cookie.partition(".")
    data = json.loads(_unb64(body))
    data["x"] += 24 * 3600
    edited = f"{_b64(json.dumps(data).encode())}.{mac}"
    assert requests.get(url, cookies={COOKIE: edited}, timeout=30).status_code == 401
    fresh = auth.issue(ROOT, [ROOT], now)
    assert requests.get(url, cookies={COOKIE: fresh.cookie}, timeout=30).status_code == 200
