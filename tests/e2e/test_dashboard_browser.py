"""The sync-issues dashboard (R-32) in a real browser: Debian's Chromium, driven by Playwright,
on the whole local stack after the demo scenario. An admin signs in through the local "Sign in
with Google" page, sees the demo's issues by user and code, filters them, confirms held
deletes; a forged or missing token sees nothing. Leaves docs/img/dashboard.png (README)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from emulators import stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CALSYNC_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ADMIN = "admin@example.com"
SCREENSHOT = ROOT / "docs" / "img" / "dashboard.png"


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Point this process's Google clients at the demo stack for a moment."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The whole local stack, with the demo scenario played on it (in a child process, as
    `make demo` plays it); the stack stays up for the browser."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: `make browser` installs it")
    state = tmp_path_factory.mktemp("dashboard-stack")
    with stack.running(whole_stack=True, state=state) as (env, _):
        full = {**os.environ, **env}
        played = subprocess.run(
            [sys.executable, "-c", "import os, sys; from emulators import demo; "
             "sys.exit(demo.run(dict(os.environ)))"],
            cwd=ROOT, env=full, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        assert played.returncode == 0, played.stdout[-3000:] + played.stderr[-3000:]
        yield env


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def store(env: dict[str, str]):
    from google.cloud import firestore

    from infra.firestore_store import FirestoreSettingsStore

    with environment({"FIRESTORE_EMULATOR_HOST": env["FIRESTORE_EMULATOR_HOST"]}):
        return FirestoreSettingsStore(firestore.Client(project=env["GOOGLE_CLOUD_PROJECT"]))


def sign_in(page, url: str, email: str = ADMIN) -> None:
    page.goto(url)
    page.click("#local-signin")
    page.fill("#email", email)
    page.click("button[type=submit]")
    page.wait_for_url(url + "*")


def test_R32_no_token_or_a_forged_one_sees_nothing(demo_stack, browser):
    url = demo_stack["CALSYNC_FUNCTIONS_URL"] + "/dashboard"
    context = browser.new_context()
    page = context.new_page()
    answer = page.goto(url)
    assert answer is not None and answer.status == 401
    body = page.inner_text("body")
    assert "Sign in" in body and "CS-002" not in body and "bob@example.com" not in body
    context.add_cookies([{"name": "calsync_admin", "value": "eyJlIjoiYWRtaW4ifQ.forged",
                          "url": url}])  # fmt: skip
    answer = page.goto(url)
    assert answer is not None and answer.status == 401
    assert "CS-002" not in page.inner_text("body")
    forged = page.request.post(url + "?login=1", form={"credential": "a.b.c",
                                                       "g_csrf_token": "x"},
                               headers={"Cookie": "g_csrf_token=x"}, max_redirects=0)  # fmt: skip
    assert forged.status == 401
    context.close()


def test_R32_a_non_admin_is_refused(demo_stack, browser):
    url = demo_stack["CALSYNC_FUNCTIONS_URL"] + "/dashboard"
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.click("#local-signin")
    page.fill("#email", "alice@example.com")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "not a calsync admin" in page.inner_text("body")
    assert "CS-002" not in page.inner_text("body")
    context.close()


def test_R32_admin_sees_the_demos_issues_filters_and_confirms_held_deletes(demo_stack, browser):
    url = demo_stack["CALSYNC_FUNCTIONS_URL"] + "/dashboard"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, url)
    assert page.inner_text("#admin") == ADMIN
    # The demo's failures, grouped by user, and counted by code.
    groups = page.eval_on_selector_all(".user-group", "els => els.map(e => e.dataset.user)")
    assert {"bob@example.com", "carol@example.com"} <= set(groups)
    codes = page.eval_on_selector_all("#by-code td:first-child", "els => els.map(e => e.innerText)")
    assert {"CS-002", "ISE-013"} <= set(codes)
    bob = page.locator('tr.issue[data-user="bob@example.com"][data-code="CS-002"]')
    assert "Unknown prospect" in bob.inner_text()
    assert "Create a Contact or Lead" in bob.inner_text()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Filter by code: the select submits itself (progressive JavaScript).
    with page.expect_navigation():
        page.select_option("select[name=code]", "ISE-013")
    shown = page.eval_on_selector_all("tr.issue", "els => els.map(e => e.dataset.code)")
    assert shown and set(shown) == {"ISE-013"}
    with page.expect_navigation():
        page.select_option("select[name=severity]", "pending")
    assert page.locator("tr.issue").count() == 0 and page.is_visible("#no-issues")
    page.click("text=Clear")

    # Deletes held by the guard, as the session records them; the admin confirms.
    held = [{"sync_key": "cs1-demo", "item_key": "uid-demo", "sf_event_id": "00U000000000001AAA",
             "title": "Old roadshow", "start": "2026-01-05T09:00:00Z"}]  # fmt: skip
    from core.users import HeldDelete

    users = store(demo_stack)
    users.set_state_fields("carol@example.com", {"held_deletes": tuple(HeldDelete(**h) for h in held),
                                                 "held_id": "held-demo"})  # fmt: skip
    page.reload()
    row = page.locator('tr.user[data-user="carol@example.com"]')
    row.locator("summary").click()
    assert "Old roadshow" in row.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    # The confirmation queues Carol's session, which starts at once and uses the release up:
    # the queue is paused meanwhile, so that what the dashboard wrote can be read.
    queue = tasks(demo_stack)
    queue.pause_queue(name=stack.queue_path())
    try:
        with page.expect_navigation():
            row.locator("button.confirm-deletes").click()
        assert "Held deletes released" in page.inner_text(".notice")
        assert users.get_user("carol@example.com").state.deletes_release == "held-demo"
    finally:
        queue.resume_queue(name=stack.queue_path())
    context.close()


def tasks(env: dict[str, str]):  # -> the demo stack's Cloud Tasks, through the real client
    from google.cloud import tasks_v2
    from google.oauth2.credentials import Credentials

    return tasks_v2.CloudTasksClient(
        transport="rest", credentials=Credentials(token=f"dev:{stack.RUNTIME_SA}"),
        client_options={"api_endpoint": "http://" + env["CALSYNC_TASKS_EMULATOR_HOST"]},
    )  # fmt: skip


def test_R32_reads_well_on_a_phone(demo_stack, browser):
    """R-32: on a phone-sized screen the page does not scroll sideways."""
    url = demo_stack["CALSYNC_FUNCTIONS_URL"] + "/dashboard"
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, url)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(SCREENSHOT.with_name("dashboard-phone.png")), full_page=True)
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    assert page.is_visible("tr.issue")
    context.close()
