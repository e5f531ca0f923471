"""The admin command line on the emulators (Firestore, Calendar, Salesforce): what each command
checks, says and writes, and its exit code for every bad input (README, "Exit codes")."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest

from core.users import HeldDelete
from functions.cli import run
from tests.fixtures.upsync import ALICE, BOB, NOBODY, CliConfig, RecordingQueue

pytestmark = pytest.mark.integration
DAVE = "dave@example.com"  # on the org's domain, with no Salesforce User


@dataclass
class Answer:
    code: int
    out: str
    err: str


def cli(org, *argv: str, answer: str = "", queue: RecordingQueue | None = None) -> Answer:
    out, err = io.StringIO(), io.StringIO()
    code = run(
        list(argv), lambda: org.store, out=out, err=err, stdin=io.StringIO(answer),
        services_factory=lambda: org.services, queue_factory=lambda: queue or RecordingQueue(),
        config_factory=CliConfig,
    )  # fmt: skip
    assert "Traceback" not in out.getvalue() + err.getvalue()
    return Answer(code, out.getvalue(), err.getvalue())


def table(text: str) -> list[list[str]]:
    """Rows of an aligned table, split on runs of two or more spaces."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


# -- users ---------------------------------------------------------------------------------------


def test_R27_enable_checks_then_watches_and_lists(org):
    done = cli(org, "users", "enable", "Alice@Example.com", "--sf-user-id", org.ids["alice"])
    assert done.code == 0, done.err
    assert f"enabled {ALICE} (Salesforce user {org.ids['alice']}, Alice)" in done.out
    assert "new channel" in done.out
    assert cli(org, "users", "enable", BOB).code == 0
    head, *rows = table(cli(org, "users", "list").out)
    assert head == ["USER", "STATUS", "SALESFORCE USER", "LAST SESSION", "RESULT", "OVERRIDES"]
    assert rows[0][:3] == [ALICE, "enabled", org.ids["alice"]]
    assert rows[1][:3] == [BOB, "enabled", "(by email)"]
    listed = json.loads(cli(org, "users", "list", "--json").out)
    assert [(u["email"], u["enabled"], u["sf_user_id"]) for u in listed] == [
        (ALICE, True, org.ids["alice"]),
        (BOB, True, ""),
    ]
    live = [c["id"] for c in org.gcal.admin("GET", "channels")["channels"]]
    assert sorted(live) == sorted(org.store.get_user(e).state.channel_id for e in (ALICE, BOB))


def test_enable_takes_a_15_character_id_and_stores_salesforces_18(org):
    done = cli(org, "users", "enable", BOB, "--sf-user-id", org.ids["bob"][:15])
    assert done.code == 0, done.err
    assert org.store.get_user(BOB).sf_user_id == org.ids["bob"]


def test_enable_twice_says_already_enabled_and_keeps_the_open_channel(org):
    cli(org, "users", "enable", ALICE)
    channel = org.store.get_user(ALICE).state.channel_id
    again = cli(org, "users", "enable", ALICE)
    assert again.code == 0
    assert f"{ALICE} is already enabled (Salesforce user {org.ids['alice']}, matched by email)" in (
        again.out
    )
    assert "channel open until" in again.out
    assert org.store.get_user(ALICE).state.channel_id == channel


def test_enable_warns_when_no_salesforce_user_matches(org):
    done = cli(org, "users", "enable", DAVE)
    assert done.code == 0
    assert "no active Salesforce User has the address dave@example.com" in done.err
    assert "CS-012" in done.err
    assert org.store.get_user(DAVE).enabled


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param(("not-an-address",), "is not an email address", id="not an address"),
        pytest.param(("dave@other.org",), "not on the org's domains (example.com)", id="domain"),
        pytest.param((BOB, "--sf-user-id", "bogus"), "is not a Salesforce User Id", id="id form"),
        pytest.param(
            (BOB, "--sf-user-id", "001gK00003H1h37QAB"),
            "is not a Salesforce User Id",
            id="an Account id",
        ),  # fmt: skip
        pytest.param(
            (BOB, "--sf-user-id", "005000000000001AAA"),
            "Salesforce has no User with Id",
            id="unknown User",
        ),  # fmt: skip
        pytest.param((BOB, "--sf-user-id", "@inactive"), "is not active", id="inactive User"),
    ],
)
def test_enable_refuses_bad_input_and_writes_nothing(org, argv, says):
    inactive = org.sf_org.admin("POST", "seed", json={"User": [
        {"_ref": "old", "Username": "old@example.com", "Email": "old@example.com",
         "LastName": "Old", "IsActive": False}]})  # fmt: skip
    argv = tuple(inactive["refs"]["old"] if a == "@inactive" else a for a in argv)
    done = cli(org, "users", "enable", *argv)
    assert done.code == 2
    assert says in done.err
    assert org.store.list_users() == []


def test_enable_refuses_while_the_org_has_no_domains(org):
    org.store.unset_org_settings(["internal_domains"])
    done = cli(org, "users", "enable", ALICE)
    assert done.code == 2 and "no internal_domains yet" in done.err
    assert org.store.list_users() == []


def test_enable_says_when_google_has_no_calendar_for_the_address(org):
    org.store.set_org_settings({"internal_domains": ["example.com", "elsewhere.test"]})
    done = cli(org, "users", "enable", "ann@elsewhere.test")
    assert done.code == 1
    assert done.err.startswith("error: Google")
    assert "ann@elsewhere.test" in done.err
    assert org.store.list_users() == []


def test_disable_stops_the_channel_and_keeps_the_rest(org):
    cli(org, "users", "enable", ALICE)
    done = cli(org, "users", "disable", ALICE)
    assert done.code == 0 and "watch channel stopped" in done.out
    user = org.store.get_user(ALICE)
    assert not user.enabled and user.state.channel_id == ""
    assert org.gcal.admin("GET", "channels")["channels"] == []
    assert "already disabled" in cli(org, "users", "disable", ALICE).out
    assert cli(org, "users", "disable", NOBODY).code == 2


def _saved_item(org, email):
    org.insert(email, "Acme kickoff", attendees=(email, "jane@acme.com"), colorId="9")
    org.insert(email, "Who is this", attendees=(email, NOBODY), colorId="9")
    org.sync(email)
    assert len(org.services.mappings.for_user(email)) == 1


def test_remove_asks_then_forgets_the_user_and_keeps_mappings(org):
    cli(org, "users", "enable", ALICE)
    _saved_item(org, ALICE)
    refused = cli(org, "users", "remove", ALICE, answer="n\n")
    assert refused.code == 4 and "cancelled" in refused.err
    assert org.store.get_user(ALICE) is not None
    done = cli(org, "users", "remove", ALICE, answer="y\n")
    assert done.code == 0, done.err
    assert "keep 1 mappings" in done.err  # the question said what would happen
    assert "watch channel stopped; 1 open issues closed; 1 mappings kept" in done.out
    assert org.store.get_user(ALICE) is None
    assert org.gcal.admin("GET", "channels")["channels"] == []
    assert org.services.issues.list_open(email=ALICE) == []
    assert len(org.services.mappings.for_user(ALICE)) == 1
    assert len(org.events()) == 1  # Salesforce is never touched


def test_remove_with_delete_mappings_and_yes(org):
    cli(org, "users", "enable", ALICE)
    _saved_item(org, ALICE)
    done = cli(org, "users", "remove", ALICE, "--delete-mappings", "--yes")
    assert done.code == 0 and "1 mappings deleted" in done.out
    assert org.services.mappings.for_user(ALICE) == []
    assert cli(org, "users", "remove", ALICE, "--yes").code == 2  # no such user any more


def test_remove_without_an_answer_does_nothing(org):
    cli(org, "users", "enable", ALICE)
    done = cli(org, "users", "remove", ALICE)  # stdin closed, no --yes
    assert done.code == 4 and "Pass --yes" in done.err
    assert org.store.get_user(ALICE).enabled


def test_show_prints_sessions_issues_channel_and_held_deletes(org):
    cli(org, "users", "enable", ALICE)
    _saved_item(org, ALICE)
    org.store.set_state_fields(ALICE, {"last_session_at": "2026-12-01T10:00:00.123+00:00",
                                       "last_session_result": "ok"})  # fmt: skip
    text = cli(org, "users", "show", ALICE).out
    assert "last session     2026-12-01T10:00:00Z" in text
    assert "result           ok" in text
    assert "open issues      1\n    CS-002  Who is this" in text
    assert "held deletes     0" in text
    assert "onboarding       done, or not yet seen by the poll" in text
    org.store.set_state_fields(ALICE, {"sf_onboard": "2026-12-01T10:00:01.000000Z"})
    text = cli(org, "users", "show", ALICE).out
    assert "onboarding       the next session reads their Salesforce Events" in text
    shown = json.loads(cli(org, "users", "show", ALICE, "--json").out)
    assert shown["sf_onboard"] == "2026-12-01T10:00:01.000000Z"
    assert shown["open_issues"] == [{"code": "CS-002", "title": "Who is this"}]
    assert shown["channel_expires_at"].endswith("Z") and shown["incremental_reads"] is True
    assert cli(org, "users", "show", NOBODY).code == 2


# -- settings ------------------------------------------------------------------------------------


def test_settings_show_explains_source_scope_and_meaning(org):
    cli(org, "users", "enable", ALICE)
    assert cli(org, "settings", "set", "autosave_meetings", "true", "--user", ALICE).code == 0
    rows = {r[0]: r for r in table(cli(org, "settings", "show", "--user", ALICE).out)}
    assert rows["SETTING"] == ["SETTING", "VALUE", "SOURCE", "SCOPE", "WHAT IT DOES"]
    assert rows["autosave_meetings"][1:4] == ["true", "user", "user"]
    assert rows["internal_domains"][1:4] == ['["example.com"]', "org", "org"]
    assert rows["window_past_days"][1:4] == ["14", "default", "org"]
    assert rows["window_past_days"][4].startswith("Autosave looks this many days back")
    shown = json.loads(cli(org, "settings", "show", "save_color", "--json").out)
    assert shown == {"save_color": {"value": "9", "source": "default", "scope": "org",
                                    "default": "9", "help": shown["save_color"]["help"]}}  # fmt: skip


def test_settings_unset_removes_an_override_and_an_org_value(org):
    cli(org, "users", "enable", ALICE)
    cli(org, "settings", "set", "autosave_meetings", "true", "--user", ALICE)
    cli(org, "settings", "set", "window_past_days", "30")
    done = cli(org, "settings", "unset", "autosave_meetings", "--user", ALICE)
    assert done.code == 0 and "override removed" in done.out
    assert org.store.get_user(ALICE).settings == {}
    done = cli(org, "settings", "unset", "window_past_days")
    assert done.code == 0 and "the default 14 applies" in done.out
    assert "window_past_days" not in org.store.org_settings()
    assert "nothing changed" in cli(org, "settings", "unset", "window_past_days").out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param(
            ("set", "windw_past_days", "3"),
            "did you mean 'window_past_days'",
            id="unknown key: did you mean",
        ),  # fmt: skip
        pytest.param(("unset", "sav_color"), "did you mean 'save_color'", id="unset unknown key"),
        pytest.param(("set", "window_past_days", "soon"), "must be a whole number", id="type"),
        pytest.param(
            ("set", "internal_domains", '["x.com"]', "--user", ALICE),
            "org-wide and cannot be set per user",
            id="org-only key per user",
        ),  # fmt: skip
        pytest.param(
            ("set", "unsync_color", "9"),
            "save_color and unsync_color would both be colour '9'",
            id="R-18 colours",
        ),  # fmt: skip
        pytest.param(("set", "error_color", "9"), "save_color and error_color", id="R-02 colours"),
        pytest.param(
            ("set", "autosave_meetings", "true", "--user", NOBODY), "no user", id="unknown user"
        ),  # fmt: skip
        pytest.param(("show", "--user", NOBODY), "no user", id="show unknown user"),
    ],
)
def test_bad_settings_are_refused_with_exit_2_and_nothing_written(org, argv, says):
    cli(org, "users", "enable", ALICE)
    before = org.store.org_settings()
    done = cli(org, "settings", *argv)
    assert done.code == 2
    assert says in done.err
    assert org.store.org_settings() == before
    assert org.store.get_user(ALICE).settings == {}


def test_unset_that_would_make_colours_clash_is_refused(org):
    cli(org, "settings", "set", "save_color", "7")
    cli(org, "settings", "set", "unsync_color", "9")
    done = cli(org, "settings", "unset", "save_color")  # back to 9, like unsync_color
    assert done.code == 2 and "would both be colour '9'" in done.err
    assert org.store.org_settings()["save_color"] == "7"


def test_invalid_stored_setting_is_reported_not_fatal(org):
    """A bad value written straight into Firestore is reported; the default stays (docs/rules.md, Settings)."""
    org.store.set_org_settings({"window_past_days": "fourteen"})
    done = cli(org, "settings", "show", "window_past_days")
    assert done.code == 0
    assert table(done.out)[1][1:3] == ["14", "default"]
    assert "window_past_days" in done.err


# -- issues --------------------------------------------------------------------------------------


def test_R31_issues_table_with_severity_and_what_to_do(org):
    org.enable(ALICE)
    org.insert(ALICE, "Who is this", attendees=(ALICE, NOBODY), colorId="9")
    org.sync(ALICE)
    done = cli(org, "issues")
    head, row, *rest = table(done.out)
    assert head == ["USER", "CODE", "SEVERITY", "ITEM", "START", "LAST SEEN", "COUNT", "MESSAGE"]
    assert row[:4] == [ALICE, "CS-002", "error", "Who is this"]
    assert row[4].endswith(":00:00Z") and row[5].endswith("Z") and "." not in row[5]
    assert ["what to do:"] in rest
    assert any(r[0] == "CS-002" and "Create a Contact or Lead" in r[1] for r in rest)
    [issue] = json.loads(cli(org, "issues", "--code", "cs-002", "--json").out)
    assert issue["severity"] == "error" and issue["for"] == "user" and issue["rule"] == "R-07"
    assert issue["action"].startswith("Create a Contact or Lead")
    assert issue["start"] == row[4] and issue["last_seen"] == row[5]


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        pytest.param(("--code", "CS-999"), 2, "unknown issue code 'CS-999'", id="unknown code"),
        pytest.param(("--user", NOBODY), 2, "no user", id="unknown user"),
        pytest.param(("--user", "bob"), 2, "is not an email address", id="not an address"),
        pytest.param(("--code", "ise-013"), 0, "no open issues with code ISE-013", id="no match"),
    ],
)
def test_R32_issue_filters_say_what_they_matched(org, argv, code, says):
    done = cli(org, "issues", *argv)
    assert done.code == code
    assert says in (done.out + done.err)


# -- deletes (R-37) ------------------------------------------------------------------------------

HELD = (
    HeldDelete("cs1-a", "a@google.com", "00U000000000001AAA", "Acme kickoff", "2026-12-04T21:00:00Z"),
    HeldDelete("cs1-b", "b@google.com", "00U000000000002AAA", "Acme QBR", "2026-12-05T09:30:00+00:00"),
)  # fmt: skip


def _hold(org):
    org.enable(ALICE)
    org.store.set_state_fields(ALICE, {"held_deletes": HELD, "held_id": "held-1",
                                       "calendar_sync_token": "token-7"})  # fmt: skip


def test_R37_deletes_show_lists_title_start_and_sf_event(org):
    _hold(org)
    done = cli(org, "deletes", "show", ALICE)
    assert done.code == 0
    assert table(done.out)[1:4] == [
        ["ITEM", "START", "SF EVENT"],
        ["Acme kickoff", "2026-12-04T21:00:00Z", "00U000000000001AAA"],
        ["Acme QBR", "2026-12-05T09:30:00Z", "00U000000000002AAA"],
    ]
    shown = json.loads(cli(org, "deletes", "show", ALICE, "--json").out)
    assert shown["held_id"] == "held-1" and len(shown["held"]) == 2


def test_R37_deletes_confirm_asks_and_releases_exactly_the_held_set(org):
    _hold(org)
    queue = RecordingQueue()
    refused = cli(org, "deletes", "confirm", ALICE, answer="no\n", queue=queue)
    assert refused.code == 4
    assert "delete these 2 Salesforce Events of alice@example.com? [y/N]" in refused.err
    assert org.store.get_user(ALICE).state.deletes_release == "" and queue.queued == []
    done = cli(org, "deletes", "confirm", ALICE, answer="y\n", queue=queue)
    assert done.code == 0
    assert "Acme kickoff" in done.out and "within seconds" in done.out
    state = org.store.get_user(ALICE).state
    assert state.deletes_release == "held-1"
    assert (state.held_id, state.held_deletes, state.calendar_sync_token) == ("held-1", HELD,
                                                                             "token-7")  # fmt: skip
    assert queue.queued == [(ALICE, "deletes confirmed")]
    again = cli(org, "deletes", "confirm", ALICE, "--yes", queue=queue)
    assert "already released" in again.out and len(queue.queued) == 1


def test_R37_deletes_confirm_says_nothing_is_held_and_writes_nothing(org):
    org.enable(ALICE)
    queue = RecordingQueue()
    done = cli(org, "deletes", "confirm", ALICE, "--yes", queue=queue)
    assert done.code == 0 and "nothing is held" in done.out
    assert org.store.get_user(ALICE).state.deletes_release == "" and queue.queued == []
    assert cli(org, "deletes", "show", ALICE).out.strip() == f"nothing is held for {ALICE}"
    assert cli(org, "deletes", "confirm", NOBODY, "--yes").code == 2


# -- sync ----------------------------------------------------------------------------------------


def test_R36_sync_json_has_the_report_and_the_plan(org):
    org.enable(ALICE)
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, "jane@acme.com"), colorId="9")
    done = cli(org, "sync", ALICE, "--dry-run", "--json")
    assert done.code == 0
    report = json.loads(done.out)
    assert report["dry_run"] is True and report["items_seen"] == 1
    assert any(a["kind"] == "SfCreate" and a["rule"] == "R-10" for a in report["actions"])
    assert org.events() == []
    assert cli(org, "sync", NOBODY).code == 2
    cli(org, "users", "disable", ALICE)
    assert "is disabled" in cli(org, "sync", ALICE).err


def test_sync_with_writes_that_will_be_retried_exits_1_with_a_message(org):
    org.enable(ALICE)
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, "jane@acme.com"), colorId="9")
    org.sf_org.admin(  # the write (the search before it is a POST of its own: composite)
        "POST", "faults", json={"kind": "503", "count": 1, "methods": ["PATCH", "POST"],
                                "path_contains": "composite/sobjects"},
    )  # fmt: skip
    done = cli(org, "sync", ALICE)
    assert done.code == 1
    assert "will be retried; try again in a minute" in done.err
    assert cli(org, "sync", ALICE).code == 0
    assert len(org.events()) == 1


def test_sync_whose_writes_salesforce_refused_exits_1_and_points_at_issues(org):
    org.store.enable_user(ALICE, sf_user_id="005000000000001AAA")  # no such User: refused
    org.insert(ALICE, "Acme kickoff", attendees=(ALICE, "jane@acme.com"), colorId="9")
    done = cli(org, "sync", ALICE)
    assert done.code == 1
    assert "1 failed" in done.out
    assert f"`python main.py issues --user {ALICE}` says why" in done.err


def test_sync_of_an_address_google_does_not_host_is_one_line_not_a_traceback(org):
    """F2 of the newcomer trial: a user enabled (before `users enable` checked) on a domain the
    Calendar does not host."""
    org.store.enable_user("dave@other.org")
    done = cli(org, "sync", "dave@other.org", "--dry-run")
    assert done.code == 1
    assert done.err.splitlines()[-1].startswith("error: Google")
    assert "dave@other.org" in done.err.splitlines()[-1]
