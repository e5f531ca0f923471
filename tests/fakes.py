"""In-memory fakes of the ports in core/ports.py, for fast unit tests. Each adapter is tested on the real thing."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

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

    def remove_user(self, email: str) -> None:
        del self._users[normalise_email(email)]

    def unset_org_settings(self, names: Iterable[str]) -> None:
        for name in names:
            self._org.pop(name, None)

    def unset_user_settings(self, email: str, names: Iterable[str]) -> None:
        address = normalise_email(email)
        user = self._users[address]
        kept = {k: v for k, v in user.settings.items() if k not in set(names)}
        self._users[address] = replace(user, settings=kept)

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
