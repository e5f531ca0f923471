"""The local stack's Salesforce org, as a Salesforce admin would see it: the Events calsync made
and whom each is linked to, and new Contacts or Users (the fix for CS-002 and CS-012).

    python -m emulators.org events
    python -m emulators.org add-contact lee@newco.example --name "Lee Buyer" [--account Acme]
    python -m emulators.org add-user dave@example.com --name "Dave Rep"

It talks to the Salesforce emulator's admin endpoints (`/_admin/...`, docs/emulators/salesforce.md)
at the address `make up` wrote into .calsync/local.env.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Mapping
from typing import Any

import requests

from emulators.rep import RepError, local_env


def salesforce_admin(env: Mapping[str, str], method: str, path: str, **kwargs: Any) -> Any:
    """One call to the Salesforce emulator's admin API (`/_admin/PATH`), trusting its certificate."""
    http = requests.Session()
    http.trust_env = False  # else REQUESTS_CA_BUNDLE overrides `verify`
    http.verify = env["CALSYNC_SF_CA_CERT"]
    url = f"{env['CALSYNC_SF_INSTANCE_URL']}/_admin/{path}"
    answer = http.request(method, url, timeout=30, **kwargs)
    answer.raise_for_status()
    return answer.json()


def records(env: Mapping[str, str], *types: str) -> dict[str, list[dict[str, Any]]]:
    return {t: salesforce_admin(env, "GET", "records", params={"type": t})[t] for t in types}


def event_rows(env: Mapping[str, str]) -> list[dict[str, str]]:
    """Each top-level SF Event: subject, start, owner, and the people and Account it is linked
    to (WhoId and further relations; WhatId)."""
    found = records(env, "Event", "EventRelation", "User", "Contact", "Lead", "Account")
    names = {
        r["Id"]: r.get("Name") or r.get("LastName") or r["Id"]
        for kind in ("User", "Contact", "Lead", "Account")
        for r in found[kind]
    }
    people: dict[str, list[str]] = {}
    for rel in found["EventRelation"]:
        if not rel.get("IsInvitee") and not rel.get("IsWhat"):
            people.setdefault(rel["EventId"], []).append(rel["RelationId"])
    rows = []
    for event in found["Event"]:
        if event.get("IsChild"):
            continue
        who = dict.fromkeys([event.get("WhoId") or "", *people.get(event["Id"], [])])
        linked = ", ".join(names.get(i, i) for i in who if i)
        what = names.get(event.get("WhatId") or "", "")
        rows.append({
            "id": event["Id"],
            "subject": event.get("Subject") or "",
            "start": event.get("StartDateTime") or event.get("ActivityDate") or "",
            "owner": names.get(event.get("OwnerId") or "", "-"),
            "linked_to": " / ".join(filter(None, (linked, what))) or "-",
        })  # fmt: skip
    return rows


def _events(env: Mapping[str, str], args: argparse.Namespace) -> str:
    from functions.cli.common import print_table

    rows = event_rows(env)
    if not rows:
        return "no Events in Salesforce yet"
    out = io.StringIO()
    print_table(out, ("SUBJECT", "START", "OWNER", "LINKED TO", "SF EVENT"),
                [(r["subject"], r["start"], r["owner"], r["linked_to"], r["id"]) for r in rows])  # fmt: skip
    return out.getvalue().rstrip()


def _split(name: str) -> dict[str, str]:
    first, _, last = name.strip().rpartition(" ")
    return {"FirstName": first, "LastName": last} if first else {"LastName": last}


def _add_contact(env: Mapping[str, str], args: argparse.Namespace) -> str:
    contact = {"_ref": "contact", "Email": args.email, **_split(args.name)}
    seed: dict[str, Any] = {"Contact": [contact]}
    if args.account:
        accounts = records(env, "Account")["Account"]
        match = [a["Id"] for a in accounts if a.get("Name") == args.account]
        if match:
            contact["AccountId"] = match[0]
        else:
            seed["Account"] = [{"_ref": "account", "Name": args.account}]
            contact["AccountId"] = "@account"
    refs = salesforce_admin(env, "POST", "seed", json=seed).get("refs", {})
    return f"added Contact {refs.get('contact', '')} {args.name} <{args.email}>"


def _add_user(env: Mapping[str, str], args: argparse.Namespace) -> str:
    user = {"_ref": "user", "Username": args.email, "Email": args.email, **_split(args.name)}
    refs = salesforce_admin(env, "POST", "seed", json={"User": [user]}).get("refs", {})
    return f"added User {refs.get('user', '')} {args.name} <{args.email}>"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.org", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1],
    )  # fmt: skip
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("events", help="the SF Events and whom each is linked to").set_defaults(
        run=_events
    )
    contact = sub.add_parser("add-contact", help="a new Contact (under an Account, if named)")
    contact.add_argument("email")
    contact.add_argument("--name", required=True, help='"First Last"')
    contact.add_argument("--account", default="", help="its Account's name (made if missing)")
    contact.set_defaults(run=_add_contact)
    user = sub.add_parser("add-user", help="a new active Salesforce User")
    user.add_argument("email")
    user.add_argument("--name", required=True, help='"First Last"')
    user.set_defaults(run=_add_user)
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        print(args.run(local_env(), args))
    except RepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print(f"error: the Salesforce emulator refused or did not answer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
