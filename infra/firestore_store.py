"""The settings store on Firestore: the org settings document and one document per user."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from core.users import HeldDelete, SyncState, User, normalise_email
from infra.config import Config

ORG_DOC = ("calsync_org", "settings")
USERS = "calsync_users"


def client_for(config: Config) -> firestore.Client:
    """A Firestore client for the configured project (the emulator when FIRESTORE_EMULATOR_HOST is set)."""
    return firestore.Client(project=config.project, database=config.firestore_database)


def _user_from(data: Mapping[str, Any]) -> User:
    state = data.get("state") or {}
    known = SyncState.__dataclass_fields__
    state = dict(state)
    if "held_deletes" in state:
        state["held_deletes"] = tuple(HeldDelete(**h) for h in state["held_deletes"] or ())
    return User(
        email=data["email"],
        enabled=bool(data.get("enabled", False)),
        sf_user_id=str(data.get("sf_user_id", "")),
        settings=dict(data.get("settings") or {}),
        state=SyncState(**{k: v for k, v in state.items() if k in known}),
    )


class FirestoreSettingsStore:
    """Implements core.ports.SettingsStore."""

    def __init__(self, client: firestore.Client):
        self._db = client

    def _org(self) -> firestore.DocumentReference:
        return self._db.collection(ORG_DOC[0]).document(ORG_DOC[1])

    def _user(self, email: str) -> firestore.DocumentReference:
        return self._db.collection(USERS).document(normalise_email(email))

    def org_settings(self) -> dict[str, Any]:
        snapshot = self._org().get()
        return dict(snapshot.to_dict() or {}) if snapshot.exists else {}

    def set_org_settings(self, values: Mapping[str, Any]) -> None:
        self._org().set(dict(values), merge=True)

    def get_user(self, email: str) -> User | None:
        snapshot = self._user(email).get()
        return _user_from(snapshot.to_dict() or {}) if snapshot.exists else None

    def get_users(self, emails: Iterable[str]) -> list[User]:
        refs = []
        for email in sorted(set(emails)):
            try:
                refs.append(self._user(email))
            except ValueError:
                continue  # not an address: nobody's user document
        if not refs:
            return []
        found = [_user_from(s.to_dict() or {}) for s in self._db.get_all(refs) if s.exists]
        return sorted(found, key=lambda u: u.email)

    def user_for_channel(self, channel_id: str) -> User | None:
        """The user whose stored watch channel has this id (R-34)."""
        if not channel_id:
            return None
        query = self._db.collection(USERS).where(
            filter=firestore.FieldFilter("state.channel_id", "==", channel_id)
        )
        found = [_user_from(doc.to_dict() or {}) for doc in query.limit(2).stream()]
        return found[0] if len(found) == 1 else None

    def list_users(self) -> list[User]:
        docs = self._db.collection(USERS).order_by("email").stream()
        return [_user_from(doc.to_dict() or {}) for doc in docs]

    def enable_user(self, email: str, sf_user_id: str = "") -> User:
        address = normalise_email(email)
        ref = self._user(address)
        transaction = self._db.transaction()

        @firestore.transactional
        def enable(txn: firestore.Transaction) -> None:
            snapshot = ref.get(transaction=txn)
            update: dict[str, Any] = {"email": address, "enabled": True}
            if sf_user_id:
                update["sf_user_id"] = sf_user_id
            if not snapshot.exists:
                update.setdefault("sf_user_id", "")
                update["settings"] = {}
                update["state"] = asdict(SyncState())
            txn.set(ref, update, merge=True)

        enable(transaction)
        user = self.get_user(address)
        assert user is not None
        return user

    def disable_user(self, email: str) -> None:
        ref = self._user(email)
        if not ref.get().exists:
            raise KeyError(email)
        ref.set({"enabled": False}, merge=True)

    def remove_user(self, email: str) -> None:
        ref = self._user(email)
        if not ref.get().exists:
            raise KeyError(email)
        ref.delete()

    def unset_org_settings(self, names: Iterable[str]) -> None:
        update = {FieldPath(name).to_api_repr(): firestore.DELETE_FIELD for name in names}
        if update and self._org().get().exists:
            self._org().update(update)

    def unset_user_settings(self, email: str, names: Iterable[str]) -> None:
        update = {
            FieldPath("settings", name).to_api_repr(): firestore.DELETE_FIELD for name in names
        }
        try:
            self._user(email).update(update or {"email": normalise_email(email)})
        except NotFound:
            raise KeyError(email) from None

    def ping(self, timeout: float) -> None:
        """One read with a deadline and no retries: raises at once when Firestore does not
        answer (the admin command line checks this before it does anything)."""
        self._org().get(retry=None, timeout=timeout)

    def set_user_settings(self, email: str, values: Mapping[str, Any]) -> None:
        ref = self._user(email)
        if not ref.get().exists:
            raise KeyError(email)
        ref.set({"settings": dict(values)}, merge=True)

    def save_sync_state(self, email: str, state: SyncState) -> None:
        self._user(email).set({"state": asdict(state)}, merge=True)

    def set_state_fields(self, email: str, values: Mapping[str, Any]) -> None:
        """Field-path update of `state.<name>` only; KeyError for an unknown field or user."""
        known = SyncState.__dataclass_fields__
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise KeyError(f"not SyncState fields: {', '.join(unknown)}")
        update = {f"state.{k}": _storable(v) for k, v in values.items()}
        try:
            self._user(email).update(update)
        except NotFound:
            raise KeyError(email) from None


def _storable(value: Any) -> Any:
    """A SyncState field value as Firestore stores it (dataclasses as maps, tuples as lists)."""
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, (tuple, list)):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    return value
