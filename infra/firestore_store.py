"""The settings store on Firestore: the org settings document and one document per user.

User documents are read field by field (audit M6): one that an admin garbled in the console (a
string where a map belongs, `enabled: "false"`, no email) is left out and reported, never raised
through the sweep, `status`, the webhook or another user's session. The user's state is written
field by field (audit M1), under the session's fence where there is one (R-29).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from core.errors import LeaseLost
from core.ports import Fence, UserProblem
from core.users import HeldDelete, SyncState, User, normalise_email
from infra.config import Config
from infra.lease import holds, lease_ref

ORG = "calsync_org"
ORG_DOC = (ORG, "settings")
ORG_STATUS = (ORG, "status")
USERS = "calsync_users"
LAST_VALID = "_last_valid"  # inside the org settings document: the last clean copy (SPEC §7)


def client_for(config: Config) -> firestore.Client:
    """A Firestore client for the configured project (the emulator when FIRESTORE_EMULATOR_HOST is set)."""
    return firestore.Client(project=config.project, database=config.firestore_database)


class Unreadable(ValueError):
    """A user document whose fields are not what calsync writes."""


def _state_from(raw: Any) -> SyncState:
    if raw is None:
        return SyncState()
    if not isinstance(raw, Mapping):
        raise Unreadable("state is not a map")
    values: dict[str, Any] = {}
    for f in fields(SyncState):
        if f.name not in raw or raw[f.name] is None:
            continue
        value = raw[f.name]
        if f.name == "group_sync_tokens":
            if not isinstance(value, Mapping) or not all(
                isinstance(v, str) for v in value.values()
            ):
                raise Unreadable("state.group_sync_tokens is not a map of strings")
            values[f.name] = dict(value)
        elif f.name == "held_deletes":
            if not isinstance(value, list) or not all(isinstance(h, Mapping) for h in value):
                raise Unreadable("state.held_deletes is not a list of maps")
            try:
                values[f.name] = tuple(HeldDelete(**h) for h in value)
            except TypeError:
                raise Unreadable("state.held_deletes has unknown fields") from None
        elif f.name in ("recent_deletes", "sf_changed"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise Unreadable(f"state.{f.name} is not a list of strings")
            values[f.name] = tuple(value)
        elif f.name == "channel_expiration_ms":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Unreadable("state.channel_expiration_ms is not a number")
            values[f.name] = int(value)
        elif isinstance(value, str):
            values[f.name] = value
        else:
            raise Unreadable(f"state.{f.name} is not a string")
    return SyncState(**values)


def user_from(doc_id: str, data: Mapping[str, Any]) -> User:
    """A user document as a User; Unreadable names the first field that is wrong."""
    email = data.get("email")
    if not isinstance(email, str):
        raise Unreadable("no email")
    try:
        address = normalise_email(email)
    except ValueError:
        raise Unreadable("email is not an address") from None
    if doc_id and address != doc_id:
        raise Unreadable("email differs from the document id")
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        raise Unreadable("enabled is not true or false")  # "false" must never enable anyone
    sf_user_id = data.get("sf_user_id") or ""
    if not isinstance(sf_user_id, str):
        raise Unreadable("sf_user_id is not a string")
    settings = data.get("settings") or {}
    last_valid = data.get("settings_last_valid") or {}
    if not isinstance(settings, Mapping) or not isinstance(last_valid, Mapping):
        raise Unreadable("settings is not a map")
    return User(email=address, enabled=enabled, sf_user_id=sf_user_id, settings=dict(settings),
                state=_state_from(data.get("state")), settings_last_valid=dict(last_valid))  # fmt: skip


def storable(value: Any) -> Any:
    """A SyncState field value as Firestore stores it (dataclasses as maps, tuples as lists)."""
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, (tuple, list)):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    return value


class FirestoreSettingsStore:
    """Implements core.ports.SettingsStore."""

    def __init__(self, client: firestore.Client):
        self._db = client

    def _org(self, part: tuple[str, str] = ORG_DOC) -> firestore.DocumentReference:
        return self._db.collection(part[0]).document(part[1])

    def _user(self, email: str) -> firestore.DocumentReference:
        return self._db.collection(USERS).document(normalise_email(email))

    def _read(self, snapshot: firestore.DocumentSnapshot,
              problems: list[UserProblem] | None = None) -> User | None:  # fmt: skip
        try:
            return user_from(snapshot.id, snapshot.to_dict() or {})
        except Unreadable as exc:
            if problems is not None:
                problems.append(UserProblem(snapshot.id, str(exc)))
            return None

    # -- org --------------------------------------------------------------------------------

    def org_settings(self) -> dict[str, Any]:
        snapshot = self._org().get()
        doc = dict(snapshot.to_dict() or {}) if snapshot.exists else {}
        doc.pop(LAST_VALID, None)
        return doc

    def last_valid_org_settings(self) -> dict[str, Any]:
        snapshot = self._org().get()
        value = (snapshot.to_dict() or {}).get(LAST_VALID) if snapshot.exists else None
        return dict(value) if isinstance(value, Mapping) else {}

    def remember_valid_settings(self, email: str, values: Mapping[str, Any]) -> None:
        if not email:
            # update (not merge) of the one field: a setting removed since must not linger
            try:
                self._org().update({LAST_VALID: dict(values)})
            except NotFound:
                pass  # no org document: the defaults are all there is
            return
        try:
            self._user(email).update({"settings_last_valid": dict(values)})
        except NotFound:
            pass  # removed meanwhile: nothing to remember

    def set_org_settings(self, values: Mapping[str, Any]) -> None:
        self._org().set(dict(values), merge=True)

    def org_status(self) -> dict[str, Any]:
        snapshot = self._org(ORG_STATUS).get()
        return dict(snapshot.to_dict() or {}) if snapshot.exists else {}

    def set_org_status(self, values: Mapping[str, Any]) -> None:
        self._org(ORG_STATUS).set(dict(values), merge=True)

    # -- users ------------------------------------------------------------------------------

    def get_user(self, email: str) -> User | None:
        snapshot = self._user(email).get()
        return self._read(snapshot) if snapshot.exists else None

    def get_users(self, emails: Iterable[str]) -> list[User]:
        refs = []
        for email in sorted(set(emails)):
            try:
                refs.append(self._user(email))
            except ValueError:
                continue  # not an address: nobody's user document
        if not refs:
            return []
        found = [self._read(s) for s in self._db.get_all(refs) if s.exists]
        return sorted((u for u in found if u is not None), key=lambda u: u.email)

    def user_for_channel(self, channel_id: str) -> User | None:
        """The user whose stored watch channel has this id (R-34)."""
        if not channel_id:
            return None
        query = self._db.collection(USERS).where(
            filter=firestore.FieldFilter("state.channel_id", "==", channel_id)
        )
        found = [self._read(doc) for doc in query.limit(2).stream()]
        return found[0] if len(found) == 1 else None

    def list_users(self, problems: list[UserProblem] | None = None) -> list[User]:
        docs = self._db.collection(USERS).stream()
        users = [u for doc in docs if (u := self._read(doc, problems)) is not None]
        return sorted(users, key=lambda u: u.email)

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
                update["state"] = storable(SyncState())
            txn.set(ref, update, merge=True)

        enable(transaction)
        user = self.get_user(address)
        if user is None:
            raise Unreadable(f"the document of {address} cannot be read; fix or delete it")
        return user

    def disable_user(self, email: str) -> None:
        ref = self._user(email)
        if not ref.get().exists:
            raise KeyError(email)
        ref.set({"enabled": False}, merge=True)

    def set_sf_user_id(self, email: str, sf_user_id: str) -> None:
        try:
            self._user(email).update({"sf_user_id": sf_user_id})
        except NotFound:
            raise KeyError(email) from None

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
        """The whole state at once: for tests and tools that arrange a user; sessions, the sweep
        and the CLI write field by field (set_state_fields)."""
        self._user(email).set({"state": storable(state)}, merge=True)

    def add_sf_changes(self, email: str, event_ids: Iterable[str]) -> None:
        ids = sorted(set(event_ids))
        if not ids:
            return
        try:
            self._user(email).update({"state.sf_changed": firestore.ArrayUnion(ids)})
        except NotFound:
            raise KeyError(email) from None

    def remove_sf_changes(self, email: str, event_ids: Iterable[str], *,
                          fence: Fence | None = None) -> None:  # fmt: skip
        ids = sorted(set(event_ids))
        if not ids:
            return
        update = {"state.sf_changed": firestore.ArrayRemove(ids)}
        if fence is None:
            self._user(email).update(update)
            return
        ref = self._user(email)

        @firestore.transactional
        def write(txn: firestore.Transaction) -> None:
            lease = lease_ref(self._db, fence.email).get(transaction=txn)
            if not lease.exists or not holds(lease.to_dict() or {}, fence):
                raise LeaseLost(f"the lease of {fence.email} was taken over")
            txn.update(ref, update)

        write(self._db.transaction())

    def set_state_fields(self, email: str, values: Mapping[str, Any], *,
                         fence: Fence | None = None,
                         expect: Mapping[str, Any] | None = None) -> bool:  # fmt: skip
        """Field-path update of `state.<name>` only; KeyError for an unknown field or user."""
        known = SyncState.__dataclass_fields__
        unknown = sorted((set(values) | set(expect or {})) - set(known))
        if unknown:
            raise KeyError(f"not SyncState fields: {', '.join(unknown)}")
        update = {f"state.{k}": storable(v) for k, v in values.items()}
        ref = self._user(email)
        if fence is None and not expect:
            try:
                ref.update(update)
            except NotFound:
                raise KeyError(email) from None
            return True

        @firestore.transactional
        def write(txn: firestore.Transaction) -> bool:
            if fence is not None:
                lease = lease_ref(self._db, fence.email).get(transaction=txn)
                if not lease.exists or not holds(lease.to_dict() or {}, fence):
                    raise LeaseLost(f"the lease of {fence.email} was taken over")
            snapshot = ref.get(transaction=txn)
            if not snapshot.exists:
                raise KeyError(email)
            state = (snapshot.to_dict() or {}).get("state") or {}
            defaults = SyncState()
            for name, value in (expect or {}).items():
                stored = state.get(name, storable(getattr(defaults, name)))
                if stored != storable(value):
                    return False
            txn.update(ref, update)
            return True

        return bool(write(self._db.transaction()))
