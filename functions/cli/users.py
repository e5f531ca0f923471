"""`users enable | disable | remove | list | show`: who calsync syncs, checked before it is
written (the org's domains, the user's calendar, their Salesforce User)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from typing import Any

from core.settings import resolve
from core.users import User
from functions.cli.common import (
    CliError,
    Context,
    Failed,
    add_json_flag,
    add_yes_flag,
    command,
    email_of,
    group,
    print_json,
    print_table,
    rfc3339,
)
from functions.cli.failures import explain

SF_USER_ID = re.compile(r"^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")


def register(commands: Any) -> None:
    users = group(commands, "users", "enable, disable, remove, list and show users")
    enable = command(
        users, "enable", _enable, "enable a Workspace user for sync",
        description="Enable a Workspace user: calsync watches their primary calendar (a push "
        "channel) and syncs what they save. Checks first that the address is on the org's "
        "internal_domains, that Google Calendar answers for it, and which Salesforce User owns "
        "their Events (by email, or the --sf-user-id you give). Enabling an enabled user "
        "changes nothing but the Salesforce user you name, and renews a channel near expiry.",
        examples=["python main.py users enable alice@example.com",
                  "python main.py users enable bob@example.com --sf-user-id 005gK00002BLnMkQAL"],
    )  # fmt: skip
    enable.add_argument("email", help="the user's Workspace address")
    enable.add_argument("--sf-user-id", default="", metavar="ID",
                        help="their Salesforce User Id (15 or 18 characters, starts with 005); "
                        "default: the active User with the same email")  # fmt: skip
    disable = command(
        users, "disable", _disable, "stop syncing a user (keeps settings and mappings)",
        examples=["python main.py users disable alice@example.com"],
    )  # fmt: skip
    disable.add_argument("email", help="the user's address")
    remove = command(
        users, "remove", _remove, "forget a user: channel, settings, state (asks first)",
        description="Remove a user from calsync: stop their watch channel, close their open "
        "issues and delete their settings and sync state. Their item-to-Event mappings are "
        "kept unless --delete-mappings is given (kept, a later `users enable` finds the "
        "Salesforce Events it already made). Salesforce Events are never deleted.",
        examples=["python main.py users remove dave@example.com",
                  "python main.py users remove dave@example.com --delete-mappings --yes"],
    )  # fmt: skip
    remove.add_argument("email", help="the user's address")
    remove.add_argument("--delete-mappings", action="store_true",
                        help="also delete which calendar item made which Salesforce Event")  # fmt: skip
    add_yes_flag(remove)
    listing = command(users, "list", _list, "list users, their state and last session",
                      examples=["python main.py users list", "python main.py users list --json"])  # fmt: skip
    add_json_flag(listing)
    show = command(
        users, "show", _show, "one user: last session, open issues, channel, held deletes",
        examples=["python main.py users show alice@example.com"],
    )  # fmt: skip
    show.add_argument("email", help="the user's address")
    add_json_flag(show)


# -- enable ------------------------------------------------------------------------------------


def _check_domain(ctx: Context, email: str) -> None:
    domains = resolve(ctx.store.org_settings())[0].internal_domains
    if not domains:
        raise CliError(
            "the org has no internal_domains yet, so calsync cannot tell your people from "
            "customers; set them first: python main.py settings set internal_domains "
            "'[\"example.com\"]'"
        )
    domain = email.rpartition("@")[2]
    if domain not in domains:
        raise CliError(
            f"{email} is not on the org's domains ({', '.join(domains)}); enable your "
            "Workspace's addresses, or add the domain to internal_domains"
        )


def _salesforce_user(ctx: Context, email: str, sf_id: str) -> tuple[str, str, str]:
    """(id to store, how it was found, warning) after checking the id or matching the email."""
    sf = ctx.services().salesforce()
    if sf_id:
        found = sf.find_user(sf_id)
        if found is None:
            raise CliError(f"Salesforce has no User with Id {sf_id}")
        if not found.active:
            raise CliError(
                f"Salesforce User {found.id} ({found.username}) is not active; activate it "
                "or name another"
            )
        return found.id, f"Salesforce user {found.id}, {found.name or found.username}", ""
    matched = sf.user_ids([email]).get(email, "")
    if matched:
        return "", f"Salesforce user {matched}, matched by email", ""
    return (
        "",
        "no Salesforce user yet",
        (
            f"no active Salesforce User has the address {email}: their saves fail with CS-012 "
            "until you create one, or enable them again with --sf-user-id"
        ),
    )


def _enable(ctx: Context, args: argparse.Namespace) -> None:
    email = email_of(args.email)
    _check_domain(ctx, email)
    sf_id = args.sf_user_id.strip()
    if sf_id and not SF_USER_ID.match(sf_id):  # before any call: a typo needs no network
        raise CliError(
            f"{sf_id!r} is not a Salesforce User Id: 15 or 18 letters and digits starting "
            "with 005 (Setup > Users > the user: the Id is in the page's address)"
        )
    calendar = ctx.services().calendar_for(email)
    calendar.probe()
    stored_id, found, warning = _salesforce_user(ctx, email, sf_id)
    before = ctx.store.get_user(email)
    user = ctx.store.enable_user(email, sf_user_id=stored_id)
    if before is None:
        ctx.say(f"enabled {email} ({found})")
    elif not before.enabled:
        ctx.say(f"enabled {email} again ({found}); their mappings and settings are as they were")
    elif stored_id and stored_id != before.sf_user_id:
        ctx.say(f"{email} is already enabled; Salesforce user changed to {found}")
    else:
        ctx.say(f"{email} is already enabled ({found})")
    if warning:
        ctx.warn(warning)
    _watch(ctx, user, calendar)


def _watch(ctx: Context, user: User, calendar: Any) -> None:
    from infra.channels import needs_renewal, open_channel

    now = datetime.now(UTC)
    if user.state.channel_id and not needs_renewal(user, now):
        until = rfc3339(datetime.fromtimestamp(user.state.channel_expiration_ms / 1000, UTC))
        ctx.say(f"  watching their calendar (channel open until {until})")
        return
    if not ctx.functions_url:
        ctx.say("  no watch channel yet: CALSYNC_FUNCTIONS_URL is not set; the sweep opens it")
        return
    try:
        channel = open_channel(ctx.store, calendar, user, ctx.functions_url)
    except Exception as exc:  # the user stays enabled; the sweep retries the channel
        why = explain(exc, user.email) or exc
        raise Failed(
            f"{user.email} is enabled, but the watch channel failed: {why}; the sweep retries it"
        ) from exc
    until = rfc3339(datetime.fromtimestamp(channel.expiration_ms / 1000, UTC))
    ctx.say(f"  watching their calendar (new channel, open until {until})")


# -- disable, remove ---------------------------------------------------------------------------


def _stop_channel(ctx: Context, user: User) -> str:
    from infra.channels import close_channel

    try:
        stopped = close_channel(ctx.store, ctx.services().calendar_for(user.email), user)
    except Exception as exc:  # it expires by itself within days; the webhook refuses it now
        why = explain(exc, user.email) or exc
        ctx.warn(f"could not stop the watch channel ({why}); it expires by itself")
        return "watch channel left to expire"
    return "watch channel stopped" if stopped else "no watch channel"


def _disable(ctx: Context, args: argparse.Namespace) -> None:
    user = ctx.user(args.email)
    if not user.enabled:
        ctx.say(f"{user.email} is already disabled")
        return
    ctx.store.disable_user(user.email)
    channel = _stop_channel(ctx, user)
    ctx.say(f"disabled {user.email}; {channel}; settings and mappings kept (`users enable` "
            "resumes)")  # fmt: skip


def _remove(ctx: Context, args: argparse.Namespace) -> None:
    user = ctx.user(args.email)
    services = ctx.services()
    mappings = services.mappings.for_user(user.email)
    fate = "delete" if args.delete_mappings else "keep"
    ctx.confirm(
        f"remove {user.email} from calsync: stop the watch channel, close open issues, forget "
        f"settings and state, {fate} {len(mappings)} mappings (no Salesforce Event is deleted)?",
        args.yes,
    )
    ctx.store.disable_user(user.email)  # first: no session or push acts on it from here on
    channel = _stop_channel(ctx, user)
    closed = services.issues.close_for_user(user.email, datetime.now(UTC))
    if args.delete_mappings:
        services.mappings.delete(user.email, [m.key for m in mappings])
    ctx.store.remove_user(user.email)
    ctx.say(f"removed {user.email}; {channel}; {closed} open issues closed; "
            f"{len(mappings)} mappings {'deleted' if args.delete_mappings else 'kept'}")  # fmt: skip


# -- list, show --------------------------------------------------------------------------------


def _row(user: User) -> dict[str, Any]:
    state = user.state
    return {
        "email": user.email,
        "enabled": user.enabled,
        "sf_user_id": user.sf_user_id,
        "last_session_at": rfc3339(state.last_session_at),
        "last_session_result": state.last_session_result,
        "overrides": sorted(user.settings),
    }


def _list(ctx: Context, args: argparse.Namespace) -> None:
    rows = [_row(u) for u in ctx.store.list_users()]
    if args.json:
        print_json(ctx.out, rows)
        return
    if not rows:
        ctx.say("no users yet; enable one with `python main.py users enable EMAIL`")
        return
    print_table(
        ctx.out,
        ("USER", "STATUS", "SALESFORCE USER", "LAST SESSION", "RESULT", "OVERRIDES"),
        [(r["email"], "enabled" if r["enabled"] else "disabled",
          r["sf_user_id"] or "(by email)", r["last_session_at"] or "-",
          r["last_session_result"] or "-", ", ".join(r["overrides"]) or "-") for r in rows],
    )  # fmt: skip


def _show(ctx: Context, args: argparse.Namespace) -> None:
    user = ctx.user(args.email)
    state = user.state
    issues = ctx.services().issues.list_open(email=user.email)
    expires = (
        rfc3339(datetime.fromtimestamp(state.channel_expiration_ms / 1000, UTC))
        if state.channel_expiration_ms
        else ""
    )
    shown = {
        **_row(user),
        "settings": dict(user.settings),
        "channel_id": state.channel_id,
        "channel_expires_at": expires,
        "incremental_reads": bool(state.calendar_sync_token),
        "open_issues": [{"code": i["code"], "title": i.get("title") or ""} for i in issues],
        "held_deletes": len(state.held_deletes),
        "sf_onboard": state.sf_onboard,  # when the poll marked the user, "" once read
    }
    if args.json:
        print_json(ctx.out, shown)
        return
    lines = [
        ("user", user.email),
        ("status", "enabled" if user.enabled else "disabled"),
        ("salesforce user", user.sf_user_id or "matched by email on each session"),
        ("last session", shown["last_session_at"] or "none yet"),
        ("result", state.last_session_result or "-"),
        ("watch channel", f"{state.channel_id}, open until {expires}" if state.channel_id
         else "none (the sweep opens one)"),
        ("calendar reads", "incremental (sync token kept)" if state.calendar_sync_token
         else "the next session reads the window in full"),
        ("overrides", ", ".join(f"{k}={v}" for k, v in sorted(user.settings.items())) or "-"),
        ("open issues", str(len(issues)) + "".join(
            f"\n    {i['code']}  {i.get('title') or '(no title)'}" for i in issues)),
        ("held deletes", f"{len(state.held_deletes)}" + (
            f" (`python main.py deletes show {user.email}`)" if state.held_deletes else "")),
        ("onboarding", "the next session reads their Salesforce Events of the window" if
         state.sf_onboard else "done, or not yet seen by the poll"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        ctx.say(f"{key:<{width}}  {value}")
