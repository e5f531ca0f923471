"""In-memory fakes of the ports in core/ports.py, for fast unit tests. Each adapter is tested on the real thing."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from core.backfill import BatchResult, Checkpoint
from core.errors import GoogleRefused, LockError
from core.ports import BudgetCheck, ItemPage
from core.users import SyncState, User, normalise_email


class InMemorySettingsStore:
    """core.ports.SettingsStore in a dict."""

    def __init__(self) -> None:
        self._org: dict[str, Any] = {}
        self._users: dict[str, User] = {}

    def org_settings(self) -> dict[str, Any]:
        return copy.deepcopy(self._org)

    def set_org_settings(self, values: Mapping[str, Any]) -> None:
        self._org.update(copy.deepcopy(dict(values)))

    def get_user(self, email: str) -> User | None:
        return self._users.get(normalise_email(email))

    def get_users(self, emails: Iterable[str]) -> list[User]:
        found = {e.strip().lower() for e in emails} & set(self._users)
        return [self._users[k] for k in sorted(found)]

    def user_for_channel(self, channel_id: str) -> User | None:
        found = [u for u in self._users.values() if channel_id and u.state.channel_id == channel_id]
        return found[0] if len(found) == 1 else None

    def list_users(self) -> list[User]:
        return [self._users[k] for k in sorted(self._users)]

    def enable_user(self, email: str, sf_user_id: str = "") -> User:
        address = normalise_email(email)
        user = self._users.get(address) or User(email=address, enabled=False)
        user = replace(user, enabled=True, sf_user_id=sf_user_id or user.sf_user_id)
        self._users[address] = user
        return user

    def disable_user(self, email: str) -> None:
        address = normalise_email(email)
        self._users[address] = replace(self._users[address], enabled=False)

    def set_user_settings(self, email: str, values: Mapping[str, Any]) -> None:
        address = normalise_email(email)
        user = self._users[address]
        self._users[address] = replace(
            user, settings={**user.settings, **copy.deepcopy(dict(values))}
        )

    def save_sync_state(self, email: str, state: SyncState) -> None:
        address = normalise_email(email)
        self._users[address] = replace(self._users[address], state=state)

    def set_state_fields(self, email: str, values: Mapping[str, Any]) -> None:
        unknown = set(values) - set(SyncState.__dataclass_fields__)
        if unknown:
            raise KeyError(f"not SyncState fields: {', '.join(sorted(unknown))}")
        address = normalise_email(email)
        user = self._users[address]
        self._users[address] = replace(user, state=replace(user.state, **dict(values)))


# --- backfill ------------------------------------------------------------------------


class InMemoryBackfillStore:
    """core.ports.BackfillStore in dicts; `saves` counts checkpoint writes."""

    def __init__(self) -> None:
        self.checkpoints: dict[str, Checkpoint] = {}
        self.holds: dict[str, tuple[str, Any]] = {}
        self.saves = 0

    def get(self, email: str):
        return self.checkpoints.get(email)

    def list(self):
        return [self.checkpoints[k] for k in sorted(self.checkpoints)]

    def save(self, checkpoint) -> None:
        self.checkpoints[checkpoint.email] = checkpoint
        self.saves += 1

    def claim(self, email: str, holder: str, now, ttl) -> bool:
        current = self.holds.get(email)
        if current and current[0] != holder and current[1] > now:
            return False
        self.holds[email] = (holder, now + ttl)
        return True

    def release(self, email: str, holder: str) -> None:
        if self.holds.get(email, ("",))[0] == holder:
            del self.holds[email]

    def held_until(self, email: str):
        current = self.holds.get(email)
        return current[1] if current else None


class FakePages:
    """core.ports.CalendarPages over lists of items per calendar; page tokens are offsets."""

    def __init__(self, items_by_calendar: dict[str, list]) -> None:
        self.items = items_by_calendar
        self.reads: list[tuple[str, str]] = []
        self.refuse_tokens = False  # answer a page token with 400, as an expired one would

    def _in_range(self, calendar_id: str, lo, hi) -> list:
        return [i for i in self.items.get(calendar_id, [])
                if i.span.start_utc < hi and i.span.end_utc > lo]  # fmt: skip

    def page(self, calendar_id, time_min, time_max, page_token, page_size):
        if page_token and self.refuse_tokens:
            self.refuse_tokens = False
            raise GoogleRefused("Invalid page token value.", status=400)
        self.reads.append((calendar_id, page_token))
        items = self._in_range(calendar_id, time_min, time_max)
        start = int(page_token or 0)
        chunk = items[start : start + page_size]
        more = start + page_size < len(items)
        return ItemPage(tuple(chunk), str(start + page_size) if more else "")

    def count(self, calendar_id, time_min, time_max) -> int:
        return len(self._in_range(calendar_id, time_min, time_max))


class FakeBatchRunner:
    """core.ports.BatchRunner as the session will be: idempotent by item key. Items titled
    "[skip]…" are skipped, "[fail]…" fail; the rest are saved once. Faults for the tests:
    `busy` raises LockError that many times; `crash_on` (a call number) saves the batch and
    then raises, as a crash before the checkpoint write; `interrupt_on` raises KeyboardInterrupt
    before saving anything."""

    def __init__(self) -> None:
        self.saved: list[str] = []
        self.calls: list[tuple[str, int, bool]] = []
        self.busy = 0
        self.crash_on: int | None = None
        self.interrupt_on: int | None = None

    def run(self, email, items, dry_run):
        if self.busy:
            self.busy -= 1
            raise LockError(f"a session of {email} is running")
        self.calls.append((email, len(items), dry_run))
        if self.interrupt_on == len(self.calls):
            raise KeyboardInterrupt
        result = BatchResult()
        for item in items:
            key = f"{email}/{item.key}"
            if item.title.startswith("[skip]") or key in self.saved:
                result += BatchResult(skipped=1)
            elif item.title.startswith("[fail]"):
                result += BatchResult(failed=1)
            else:
                if not dry_run:
                    self.saved.append(key)
                result += BatchResult(saved=1)
        if self.crash_on == len(self.calls):
            raise RuntimeError("crash after the batch, before the checkpoint")
        return result


class FakeBackfillQueue:
    def __init__(self) -> None:
        self.slices: list[tuple[str, str, int, Any]] = []

    def enqueue_slice(self, email, chain, slice_no, at) -> bool:
        self.slices.append((email, chain, slice_no, at))
        return True


class FixedBudget:
    """core.ports.ApiBudget answering the checks it is given, then ok."""

    def __init__(self, *checks) -> None:
        self.checks = list(checks)

    def check(self):
        return self.checks.pop(0) if self.checks else BudgetCheck(True)
