"""The issue catalogue (R-31): every code calsync records, its meaning, severity and the fix.

ISE-013 keeps the seed's code and text; the CS-xxx codes are calsync's own. `docs/issues.md` and
the README table are rendered from this catalogue (`render_markdown`), and a test keeps them equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Severity(Enum):
    ERROR = "error"  # the item carries the error label; someone must act (or it retries)
    PENDING = "pending"  # the item waits for something that will happen by itself; no error label
    WARNING = "warning"  # the item is saved, one part of it (a file) is not; no error label


class Audience(Enum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True)
class IssueType:
    code: str
    title: str
    meaning: str
    severity: Severity
    action: str
    audience: Audience
    rule: str


CATALOGUE: tuple[IssueType, ...] = (
    IssueType("ISE-013", "Meeting for attendees cannot be synchronized until the organizer synchronizes it",
              "The user tried to save a meeting they declined or did not answer.",
              Severity.ERROR, "Accept the meeting, or ask the admin to turn on `sync_unanswered_and_declined`.",
              Audience.USER, "R-08"),
    IssueType("CS-001", "Waiting for the organizer to synchronize the event",
              "An internal enabled user organises this meeting and has not saved it yet.",
              Severity.PENDING, "Nothing, or ask the organiser to save it; it is saved once they do.",
              Audience.USER, "R-11"),
    IssueType("CS-002", "No attendee is known in Salesforce",
              "A manually saved meeting whose attendees match no Contact, Lead or User.",
              Severity.ERROR, "Create a Contact or Lead for one attendee (it is saved by itself), or turn on `auto_create_unresolved`.",
              Audience.USER, "R-07"),
    IssueType("CS-003", "All-day item longer than 14 days",
              "Salesforce refuses multiday events over 14 days.",
              Severity.ERROR, "Shorten the item to 14 days or less, or split it.",
              Audience.USER, "R-09"),
    IssueType("CS-004", "Item longer than 14 days",
              "Salesforce refuses events over 14 days.",
              Severity.ERROR, "Shorten the item to 14 days or less.",
              Audience.USER, "R-09"),
    IssueType("CS-005", "Recurring item whose instances last more than 24 hours",
              "Salesforce refuses series whose occurrences last more than 24 hours.",
              Severity.ERROR, "Shorten the instances to 24 hours or less.",
              Audience.USER, "R-09"),
    IssueType("CS-006", "Unknown time zone",
              "The item's time zone is not in the IANA time zone database.",
              Severity.ERROR, "Set a standard time zone on the item.",
              Audience.USER, "R-09"),
    IssueType("CS-007", "Recurring items are not synchronised in this org",
              "A recurring item was saved while the org setting `recurring_enabled` is off.",
              Severity.ERROR, "Ask the admin to turn on `recurring_enabled`, or save single instances.",
              Audience.USER, "R-09"),
    IssueType("CS-008", "Group calendar event longer than 24 hours",
              "Events of group calendars are saved only when they last 24 hours or less.",
              Severity.ERROR, "Shorten the event to 24 hours or less.",
              Audience.USER, "R-19"),
    IssueType("CS-009", "Deletions held for the admin's confirmation",
              "This session would delete more SF Events than `max_deletes_per_session`, or more than half of the user's saved items.",
              Severity.PENDING, "See what would be deleted with `python main.py deletes show EMAIL`, then `deletes confirm EMAIL`.",
              Audience.ADMIN, "R-37"),
    IssueType("CS-010", "Salesforce refused the record",
              "Salesforce answered with a validation error (required field, limit, permission).",
              Severity.ERROR, "Read the message; fix the item or the Salesforce configuration it names.",
              Audience.ADMIN, "R-31"),
    IssueType("CS-011", "Salesforce or Google is temporarily unavailable",
              "Rate limit, server error or record lock; calsync retries on the next session.",
              Severity.PENDING, "Nothing; if it lasts, check the org's API limits.",
              Audience.ADMIN, "R-31"),
    IssueType("CS-012", "No Salesforce user for this calendar",
              "The enabled user matches no active Salesforce User.",
              Severity.ERROR, "Set the user's `sf_user_id`, or activate their Salesforce User.",
              Audience.ADMIN, "R-31"),
    IssueType("CS-013", "Salesforce series cannot be carried to Google",
              "A recurring series created in Salesforce Lightning cannot be copied down.",
              Severity.ERROR, "Create the series in Google Calendar and save it from there.",
              Audience.USER, "R-24"),
    IssueType("CS-014", "Google refused the change",
              "Google Calendar answered with a permanent error for this item's copy.",
              Severity.ERROR, "Read the message; the item may have been moved or made read-only.",
              Audience.ADMIN, "R-31"),
    IssueType("CS-015", "Item could not be processed",
              "calsync could not read or plan this item (for example a time it cannot convert); the other items went on.",
              Severity.ERROR, "Check the item's times and recurrence in Google Calendar and save it again; if it looks normal, report the message.",
              Audience.ADMIN, "R-31"),
    IssueType("CS-016", "Group calendar cannot be read",
              "A group calendar listed in `group_calendars` answered 404 or 403 (deleted, or no longer shared with the user).",
              Severity.ERROR, "Share the calendar with the user again, or remove it from `group_calendars`.",
              Audience.ADMIN, "R-19"),
    IssueType("CS-017", "User document cannot be read",
              "A user's Firestore document has a field of the wrong type (edited by hand); the user is skipped.",
              Severity.ERROR, "Fix the field named in the message in the Firestore console, or run `python main.py users enable EMAIL` again.",
              Audience.ADMIN, "R-31"),
    IssueType("CS-018", "Setting ignored",
              "A stored setting has an unknown name or a value of the wrong type; the last valid value stays in force.",
              Severity.ERROR, "Set it again with `python main.py settings set KEY VALUE`, which checks the value.",
              Audience.ADMIN, "R-31"),
    IssueType("CS-019", "Series too frequent to save",
              "A series Salesforce cannot take as one recurring Event repeats more often than daily, or has more than 100 instances in the window.",
              Severity.ERROR, "Save single instances instead, or simplify the rule in Google Calendar.",
              Audience.USER, "R-17"),
    IssueType("CS-020", "Sync session failed",
              "A user's whole session could not run for a reason a retry cannot fix (delegation refused, Salesforce login refused, an internal error).",
              Severity.ERROR, "Read the message; check domain-wide delegation and the Salesforce connected app (docs/deploy.md).",
              Audience.ADMIN, "R-31"),
    IssueType("CS-021", "Attachment too large to store",
              "A file attached to this saved item is larger than `attachment_max_bytes`, or is a Google Docs, Sheets or Slides file whose PDF is over Google's 10 MB export limit. The event is saved; the file is not.",
              Severity.WARNING, "Attach a smaller file (or a PDF of the document), or ask the admin to raise `attachment_max_bytes`.",
              Audience.USER, "R-20"),
    IssueType("CS-022", "Attachment cannot be read",
              "The user cannot read or download a file attached to this saved item (not shared with them, deleted, or downloads disabled by its owner). The event is saved; the file is not.",
              Severity.WARNING, "Share the file with the user (or ask its owner to allow downloads); it is stored when the item next changes.",
              Audience.USER, "R-20"),
    IssueType("CS-023", "Attachment of a type that cannot be stored",
              "An attachment of this saved item is not a file calsync can store: a Google Form, Site, map, folder or shortcut, or a link that is not a Drive file. The event is saved; the attachment is not.",
              Severity.WARNING, "Attach the content as a file (for example a PDF) if it belongs in Salesforce.",
              Audience.USER, "R-20"),
    IssueType("CS-024", "Salesforce changes cannot be read",
              "The poller that finds Events changed in Salesforce could not read them for a reason a retry cannot fix (the integration user's login or its access to Events); changes made in Salesforce do not reach Google until it reads again.",
              Severity.ERROR, "Read the message; check the connected app and that the integration user can read all Events (docs/deploy.md, step 2). It closes by itself after the next poll that reads.",
              Audience.ADMIN, "R-21"),
    IssueType("CS-025", "Public calendar cannot be written",
              "Google refused the copies of a Salesforce public calendar in the Google calendar the admin named (the `writer` of that entry of `sf_public_calendars` may not edit its events, or the calendar is gone).",
              Severity.ERROR, "Share the Google calendar with the writer (permission to change its events), or name another writer; the copies are written on the next poll.",
              Audience.ADMIN, "R-25"),
    IssueType("CS-026", "Initial sync waits for the Salesforce API budget",
              "The user's first session would take more of the org's daily Salesforce API calls than `api_budget_share` leaves to bulk work today. Nothing is written yet; the next session (a change, the hourly sweep) tries again, and the issue closes when it runs.",
              Severity.PENDING, "Nothing, or raise `api_budget_share` (`python main.py status` shows the budget).",
              Audience.ADMIN, "R-30"),
)  # fmt: skip

BY_CODE: dict[str, IssueType] = {t.code: t for t in CATALOGUE}


def issue_type(code: str) -> IssueType:
    """The catalogue entry of a code; KeyError names the unknown code."""
    try:
        return BY_CODE[code]
    except KeyError:
        raise KeyError(f"unknown issue code {code!r}") from None


@dataclass(frozen=True)
class Issue:
    """One open issue of one user (R-31): one per item and code, `key` "" for the user's session."""

    code: str
    user_email: str
    key: str = ""  # str(ItemKey) of the item, "" for session-wide issues
    message: str = ""
    title: str = ""  # the item's title, shown to the user and admin (never logged, STYLE)
    start: datetime | None = None

    @property
    def severity(self) -> Severity:
        return issue_type(self.code).severity

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.user_email, self.key, self.code)


def render_markdown() -> str:
    """The catalogue as the markdown table of docs/issues.md and the README."""
    lines = [
        "| code | title | severity | for | rule | meaning | what to do |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in CATALOGUE:
        cells = (t.code, t.title, t.severity.value, t.audience.value, t.rule, t.meaning, t.action)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
