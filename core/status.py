"""An item's sync state in words (R-31, R-33): what the sidebar tells a rep about one event.

One pure function of what calsync knows about the copy: its labels, its mapping, its open issue
and, for an item calsync has not touched, the decision the rules would take now. The first case
that applies wins, in the order a rep would ask: is it gone, did it fail, is it saved, is it on
its way, and if none of these, why not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core import labels
from core.issues import Issue, Severity, issue_type
from core.model import Item, ItemStatus, Mapping, Role
from core.policy import Decision, Verdict
from core.settings import Settings


class StateKind(Enum):
    SAVED = "saved"  # the user owns the SF Event made of it
    INVITEE = "invitee"  # the user is an invitee on the organiser's SF Event
    SAVING = "saving"  # asked for (tag or Save action), the next session writes it
    REMOVING = "removing"  # the unsync colour was given, the next session removes it
    FAILED = "failed"  # an issue of severity error: someone must act
    WAITING = "waiting"  # a pending issue: it is saved by itself once that happens
    UNSYNCED = "unsynced"  # the user removed it; autosave leaves it alone
    SKIPPED = "skipped"  # the rules leave it alone, and say why
    NOT_SAVED = "not_saved"  # nothing of calsync's on it, and nothing planned
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ItemState:
    """What the sidebar shows: a headline, the detail, the issue and what to do, and which of
    the actions (Save, Unsync, Retry) make sense now."""

    kind: StateKind
    headline: str
    detail: str = ""
    code: str = ""
    todo: str = ""
    rule: str = ""
    sf_event_id: str = ""
    can_save: bool = False
    can_unsync: bool = False
    can_retry: bool = False


def item_state(item: Item, settings: Settings, mapping: Mapping | None, issue: Issue | None,
               decision: Decision | None = None) -> ItemState:  # fmt: skip
    """The state of `item` for the user whose copy it is. `mapping` and `issue` are this user's
    for the item (or its series); `decision` is what the rules decide now, for an item with
    neither (the sidebar computes it the way a session would)."""
    status = item.props.get(labels.P_STATUS, "")
    if item.status is ItemStatus.CANCELLED:
        return ItemState(StateKind.CANCELLED, "This event was cancelled")
    if labels.wants_unsync(item, settings):
        return ItemState(StateKind.REMOVING, "Removing from Salesforce…",
                         "calsync deletes its Salesforce Event on the next sync, in a few "
                         "seconds.", rule="R-18")  # fmt: skip
    if issue is not None:
        return _with_issue(issue, status, mapping)
    if mapping is not None:
        event_id = mapping.sf_event_id or mapping.occurrence_of
        if mapping.role is Role.INVITEE:
            return ItemState(StateKind.INVITEE, "Saved: you are an invitee",
                             "The organiser's Salesforce Event lists you as an invitee.",
                             rule="R-11", sf_event_id=event_id, can_unsync=True)  # fmt: skip
        return ItemState(StateKind.SAVED, "Saved to Salesforce", status or labels.STATUS_SAVED,
                         rule="R-10", sf_event_id=event_id, can_save=True,
                         can_unsync=True)  # fmt: skip
    if labels.wants_save(item, settings):
        return ItemState(StateKind.SAVING, "Saving…",
                         "calsync writes it to Salesforce on the next sync, in a few seconds.",
                         rule="R-04", can_save=True)  # fmt: skip
    if labels.was_unsynced(item):
        return ItemState(StateKind.UNSYNCED, "Removed from Salesforce",
                         "You unsynced it; autosave leaves it alone until you save it again.",
                         rule="R-18", can_save=True)  # fmt: skip
    return _undecided(decision)


def _with_issue(issue: Issue, status: str, mapping: Mapping | None) -> ItemState:
    kind = issue_type(issue.code)
    failed = kind.severity is Severity.ERROR
    return ItemState(
        StateKind.FAILED if failed else StateKind.WAITING,
        ("Not saved: " if failed else "Waiting: ") + kind.title,
        issue.message or status or kind.meaning,
        code=issue.code,
        todo=kind.action,
        rule=kind.rule,
        sf_event_id=(mapping.sf_event_id if mapping else ""),
        can_save=True,
        can_unsync=mapping is not None,
        can_retry=failed,
    )


def _undecided(decision: Decision | None) -> ItemState:
    """An item calsync has not written anything for: what the rules would do with it now."""
    if decision is None:
        return ItemState(StateKind.NOT_SAVED, "Not saved to Salesforce", can_save=True)
    if decision.verdict is Verdict.SKIP:
        return ItemState(StateKind.SKIPPED, "Not saved: " + decision.reason,
                         "calsync leaves this item alone. Save it to keep it in Salesforce "
                         "anyway.", rule=decision.rule, can_save=True)  # fmt: skip
    if decision.verdict in (Verdict.SAVE, Verdict.JOIN):
        return ItemState(StateKind.SAVING, "Not saved yet",
                         "Autosave saves it on the next sync.", rule=decision.rule,
                         can_save=True)  # fmt: skip
    if decision.issue_code:
        kind = issue_type(decision.issue_code)
        failed = decision.verdict is Verdict.FAIL
        return ItemState(StateKind.FAILED if failed else StateKind.WAITING,
                         ("Cannot be saved: " if failed else "Waiting: ") + kind.title,
                         decision.reason, code=kind.code, todo=kind.action, rule=decision.rule,
                         can_save=True)  # fmt: skip
    return ItemState(StateKind.NOT_SAVED, "Not saved to Salesforce", decision.reason,
                     rule=decision.rule, can_save=True)  # fmt: skip
