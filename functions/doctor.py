"""`python main.py doctor [--user EMAIL]`: tries each integration a deployment needs, in the order
docs/deploy.md sets them up, and names the step to revisit when one fails.

Every check makes one real call with the identity the command line has (the admin's own login,
usually impersonating the runtime account; a function's identity on a local stack): Firestore,
the domain-wide delegation token and a Calendar read for one user, the Salesforce JWT login and a
describe of Event, the task queue, and whether Google's push notifications can reach the webhook.
It writes nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

DEPLOY = "docs/deploy.md"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str
    hint: str = ""  # what to do, naming the deploy.md step, when not ok


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Any, argparse.Namespace], Outcome]


class Skip(Exception):
    """A check that cannot run because an earlier one failed or nothing is configured for it."""


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


# --- the checks -----------------------------------------------------------------------------


def _configuration(ctx: Any, args: argparse.Namespace) -> Outcome:
    config = ctx.config_factory()
    mode = "key in Secret Manager" if config.google_sa_key_secret else "keyless"
    where = "local stack" if config.local else f"project {config.project}"
    return Outcome(True, f"{where}, database {config.firestore_database}, {mode} delegation")


def _identity(ctx: Any, args: argparse.Namespace) -> Outcome:
    config = ctx.config_factory()
    if config.google_sa_key_secret:
        return Outcome(True, "delegation signs with the key in Secret Manager")
    import google.auth

    from infra.credentials import CLOUD_PLATFORM
    from infra.google_http import google_request

    credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
    credentials.refresh(google_request(config))
    own = str(getattr(credentials, "service_account_email", "") or "")
    signer = config.runtime_service_account or own
    if not signer or signer == "default":
        return Outcome(False, "your Google login names no service account to sign as",
                       f"{DEPLOY} step 7: `eval \"$(terraform -chdir=terraform output -raw "
                       "admin_env)\"` sets CALSYNC_RUNTIME_SERVICE_ACCOUNT")  # fmt: skip
    who = f"as {own}" if own and own != "default" else "with your own login"
    return Outcome(True, f"signs delegation as {signer}, calling {who}")


def _firestore(ctx: Any, args: argparse.Namespace) -> Outcome:
    users = ctx.store.list_users()
    enabled = sum(1 for u in users if u.enabled)
    return Outcome(True, f"{len(users)} users, {enabled} enabled")


def _delegation(ctx: Any, args: argparse.Namespace) -> Outcome:
    email = args.user or next((u.email for u in ctx.store.list_users() if u.enabled), "")
    if not email:
        raise Skip("no enabled user to try it for: give --user EMAIL")
    from infra.google_calendar import GoogleCalendar

    calendar = GoogleCalendar(ctx.config_factory(), email)
    try:
        calendar._service.events().list(calendarId="primary", maxResults=1).execute()
    except Exception as exc:
        return Outcome(False, _brief(exc), delegation_hint(str(exc)))
    return Outcome(True, f"read {email}'s calendar as {email}")


def delegation_hint(message: str) -> str:
    """Which step a failed delegation points at, from Google's own words."""
    if "iam.serviceAccounts.signBlob" in message or "iam.serviceAccounts.signJwt" in message:
        return (f"{DEPLOY} step 7: your login may not sign as the runtime account: be in "
                "cli_admins and sign in with `terraform output cli_login` (in a function: the "
                "runtime account lacks Token Creator on itself; `terraform apply` grants it)")  # fmt: skip
    if "unauthorized_client" in message:
        return (f"{DEPLOY} step 4: the Admin console has no delegation entry for the client ID "
                "`terraform output dwd_client_id` with exactly the scopes listed there (a new "
                "entry can take a while to apply)")  # fmt: skip
    if "accessNotConfigured" in message or "SERVICE_DISABLED" in message:
        return f"{DEPLOY} step 3: the Calendar API is not enabled yet (`terraform apply`)"
    return HINTS["domain-wide delegation"]


def _salesforce(ctx: Any, args: argparse.Namespace) -> Outcome:
    from infra.salesforce import KEY_FIELD, SalesforceAdapter

    adapter = SalesforceAdapter.from_config(ctx.config_factory())
    if adapter.has_key_field():
        return Outcome(True, f"logged in; Event has {KEY_FIELD} (retried creates are idempotent)")
    return Outcome(True, f"logged in; Event has no {KEY_FIELD}: deploy it ({DEPLOY} step 6)")


def _queue(ctx: Any, args: argparse.Namespace) -> Outcome:
    from google.api_core import exceptions as gexc

    from infra.tasks import client_for

    config = ctx.config_factory()
    client = client_for(config)
    path = config.tasks_queue_path
    try:
        answer = client.test_iam_permissions(
            resource=path, permissions=["cloudtasks.tasks.create"], timeout=10, retry=None
        )
    except gexc.MethodNotImplemented:  # the local emulator has no IAM: the queue must exist
        client.get_queue(name=path, timeout=10, retry=None)
        return Outcome(True, f"{path} exists (the emulator checks no permissions)")
    if "cloudtasks.tasks.create" not in answer.permissions:
        return Outcome(False, f"may not add tasks to {path}",
                       f"{DEPLOY} step 7: sign in as the runtime account (`terraform output "
                       "cli_login`), or hold roles/cloudtasks.enqueuer on the queue")  # fmt: skip
    return Outcome(True, f"may add tasks to {path}")


def _webhook(ctx: Any, args: argparse.Namespace) -> Outcome:
    import requests

    url = f"{ctx.config_factory().functions_url}/calendar_webhook"
    if not ctx.config_factory().functions_url:
        raise Skip("CALSYNC_FUNCTIONS_URL is not set")
    answer = requests.post(url, headers={"X-Goog-Channel-ID": "calsync-doctor"}, timeout=20)
    if "unknown channel or token" in answer.text:  # calsync itself answered: Google can reach it
        return Outcome(True, f"{url} answers calls without a Google identity")
    return Outcome(False, f"{url} answered {answer.status_code} before calsync saw the call",
                   f"{DEPLOY} step 3: the public functions must be open to Google's push "
                   "notifications (variable public_access; `terraform apply` again)")  # fmt: skip


HINTS = {
    "configuration": f"{DEPLOY} step 7: load the deployment's environment with "
    '`eval "$(terraform -chdir=terraform output -raw admin_env)"`',
    "Google identity": f"{DEPLOY} step 7: `gcloud auth application-default login "
    "--impersonate-service-account=RUNTIME` (`terraform output cli_login`)",
    "Firestore": f"{DEPLOY} steps 3 and 7: the database exists after `terraform apply`; your "
    "login must be in cli_admins and impersonate the runtime account",
    "domain-wide delegation": f"{DEPLOY} step 4: the Admin console entry must name the client ID "
    "`terraform output dwd_client_id` with exactly the scopes listed there (it can take a while "
    "to apply), and the runtime account must hold Token Creator on itself",
    "Salesforce login": f"{DEPLOY} steps 5 and 6: the connected app's consumer key and "
    "certificate, the pre-authorised integration user, and the private key in Secret Manager",
    "task queue": f"{DEPLOY} step 3: the queue is created by `terraform apply`",
    "push webhook": f"{DEPLOY} step 3: public_access",
}

CHECKS = [
    Check("configuration", _configuration),
    Check("Google identity", _identity),
    Check("Firestore", _firestore),
    Check("domain-wide delegation", _delegation),
    Check("Salesforce login", _salesforce),
    Check("task queue", _queue),
    Check("push webhook", _webhook),
]


def run_doctor(ctx: Any, args: argparse.Namespace, out: TextIO) -> int:
    """Run every check; 0 when all passed, 1 otherwise (each failure names its deploy.md step).
    Without a usable configuration the other checks are skipped: they would all fail alike."""
    failed, configured = 0, True
    for check in CHECKS:
        if not configured:
            print(f"  skip  {check.name:<24} needs the configuration", file=out)
            continue
        try:
            outcome = check.run(ctx, args)
        except Skip as exc:
            print(f"  skip  {check.name:<24} {exc}", file=out)
            continue
        except Exception as exc:  # reported, not raised: the next checks still tell something
            outcome = Outcome(False, _brief(exc), HINTS[check.name])
        print(f"  {'ok  ' if outcome.ok else 'FAIL'}  {check.name:<24} {outcome.detail}", file=out)
        if not outcome.ok:
            failed += 1
            configured = check.name != "configuration"
            print(f"        -> {outcome.hint or HINTS[check.name]}", file=out)
    print("all checks passed" if not failed else f"{failed} check(s) failed", file=out)
    return 1 if failed else 0
