"""The emulated org: its schema, records, clock and the generic record operations (DML).

Object-specific rules (Event, EventRelation, ContentVersion) live in their own modules and are
called through the hook table at the bottom; everything runs under the org's one lock.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from . import ids, profiles
from .errors import ApiError, bad_request, entity_is_deleted, not_found
from .fields import coerce_body, to_json
from .ids import IdFactory
from .objects import SObject, build_schema, find_type
from .refusals import Refusals
from .sharing import Sharing
from .store import UNIQUE_INDEXED, Record, Store
from .timeutil import Clock

API_VERSION = "59.0"
ADMIN_USERNAME = "integration@calsync.example"


class Hooks(Protocol):
    def before_save(
        self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]
    ) -> None: ...
    def after_save(
        self, org: Org, old: Record | None, rec: Record, given: dict[str, Any]
    ) -> None: ...
    def after_delete(self, org: Org, rec: Record) -> None: ...


class Org:
    """All state of one emulated org. Callers take `lock` around every operation."""

    def __init__(self, *, external_id_field: bool = True) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.ids = IdFactory()
        self.org_id = "00D" + "gK0000000001" + ids.checksum("00DgK0000000001")
        self.external_id_field = external_id_field
        self.schema: dict[str, SObject] = {}
        self.store = Store([])
        self.admin_user_id = ""
        self.running_user = ""
        self.sharing = Sharing()
        self.refusals = Refusals()
        self.profiles: dict[str, str] = {}  # standard profile name -> Id
        self.reset()

    def reset(self) -> None:
        self.schema = build_schema(self.external_id_field)
        self.store = Store(list(self.schema))
        self.running_user = ""
        self.sharing = Sharing()
        self.refusals = Refusals()
        self.profiles = profiles.install(self.store, self.ids, self.clock.now())
        admin = self.create(
            "User",
            {
                "Username": ADMIN_USERNAME,
                "FirstName": "Calsync",
                "LastName": "Integration",
                "Email": ADMIN_USERNAME,
                "Alias": "calsync",
                "TimeZoneSidKey": "GMT",
                "LocaleSidKey": "en_US",
                "LanguageLocaleKey": "en_US",
                "EmailEncodingKey": "UTF-8",
                "ProfileId": self.profiles[profiles.SYSTEM_ADMINISTRATOR],
            },
        )
        self.admin_user_id = admin

    def set_external_id_field(self, present: bool) -> None:
        """Add or remove Event.Calsync_Key__c; stored values survive but are hidden if absent."""
        self.external_id_field = present
        self.schema = build_schema(present)

    # -- lookups ---------------------------------------------------------------------------
    def sobject(self, name: str) -> SObject:
        found = find_type(self.schema, name)
        if found is None:
            raise not_found()
        return found

    def find(self, record_id: Any) -> tuple[str, Record] | None:
        canonical = ids.normalise(record_id)
        sobject = ids.type_of(canonical) if canonical else None
        if not canonical or sobject not in self.store.tables:
            return None
        rec = self.store.get(sobject, canonical)
        return (sobject, rec) if rec else None

    def live(self, sobject: str, record_id: str) -> Record:
        """The record for an update/delete: 404 NOT_FOUND if unknown, ENTITY_IS_DELETED if gone."""
        canonical = ids.normalise(record_id)
        if canonical is None or ids.type_of(canonical) != sobject:
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {record_id}"
            )
        rec = self.store.get(sobject, canonical)
        if rec is None:
            raise not_found()
        if rec["IsDeleted"]:
            raise entity_is_deleted()
        return rec

    def visible(self, sobject: str, record_id: str) -> Record:
        """The record for a GET: deleted records are NOT_FOUND, as in the real API."""
        try:
            return self.live(sobject, record_id)
        except ApiError as exc:
            if exc.code == "ENTITY_IS_DELETED":
                raise not_found() from None
            raise

    def user(self, user_id: str) -> Record | None:
        rec = self.store.get("User", user_id)
        return rec if rec and not rec["IsDeleted"] else None

    # -- DML -------------------------------------------------------------------------------
    def writable(self, name: str, operation: str) -> SObject:
        """The sObject for a create/update/delete, if the API may write its records."""
        sobject = self.sobject(name)
        if not sobject.writable:
            raise bad_request(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be {operation}: {sobject.name}"
            )
        return sobject

    def create(self, name: str, body: Any) -> str:
        sobject = self.writable(name, "inserted")
        given = coerce_body(sobject, body, creating=True)
        now = self.clock.now()
        user = self.running_user or None
        rec: Record = {f.name: f.default for f in sobject.fields.values()}
        rec.update(
            {
                f.name: False
                for f in sobject.fields.values()
                if f.type == "boolean" and f.default is None
            }
        )
        rec.update(
            Id=self.ids.new(sobject.name),
            CreatedDate=now,
            LastModifiedDate=now,
            SystemModstamp=now,
            CreatedById=user,
            LastModifiedById=user,
            IsDeleted=False,
        )
        if "OwnerId" in sobject.fields:
            rec["OwnerId"] = user
        rec.update(given)
        missing = [
            f.name for f in sobject.fields.values() if f.required and rec.get(f.name) in (None, "")
        ]
        if missing:
            raise bad_request(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        self._save(sobject, None, rec, given)
        return rec["Id"]

    def update(self, name: str, record_id: str, body: Any) -> Record:
        sobject = self.writable(name, "updated")
        old = self.live(sobject.name, record_id)
        given = coerce_body(sobject, body, creating=False)
        rec = {**old, **given}
        now = self.clock.now()
        rec.update(
            LastModifiedDate=now,
            SystemModstamp=now,
            LastModifiedById=self.running_user or old["LastModifiedById"],
        )
        self._save(sobject, old, rec, given)
        return rec

    def touch(self, sobject: str, rec: Record, changes: dict[str, Any]) -> Record:
        """Write system-made changes (no validation), bumping the audit fields."""
        now = self.clock.now()
        new = {**rec, **changes, "SystemModstamp": now, "LastModifiedDate": now}
        self.store.put(sobject, new)
        return new

    def delete(self, name: str, record_id: str) -> None:
        sobject = self.writable(name, "deleted")
        old = self.live(sobject.name, record_id)
        self.refusals.check(sobject.name, "delete", old)
        self.remove(sobject.name, old)

    def remove(self, sobject: str, old: Record) -> None:
        now = self.clock.now()
        rec = {
            **old,
            "IsDeleted": True,
            "_deleted_at": now,
            "SystemModstamp": now,
            "LastModifiedDate": now,
        }
        self.store.put(sobject, rec)
        hooks = HOOKS.get(sobject)
        if hooks:
            hooks.after_delete(self, rec)

    def upsert(self, name: str, field_name: str, value: str, body: Any) -> tuple[str, bool]:
        """PATCH sobjects/{name}/{field}/{value}: (id, created)."""
        sobject = self.sobject(name)
        field = sobject.lookup(field_name)
        if field is None or not (field.external_id or field.name == "Id"):
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {field_name}"
            )
        if field.name == "Id":
            if value:
                self.update(sobject.name, value, body)
                return ids.normalise(value) or value, False
            return self.create(sobject.name, body), True
        if not isinstance(body, dict):
            raise bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
        existing = self.store.find_unique(sobject.name, field.name, value) if value else None
        if existing:
            self.update(sobject.name, existing, body)
            return existing, False
        return self.create(sobject.name, {**body, field.name: value}), True

    def _save(
        self, sobject: SObject, old: Record | None, rec: Record, given: dict[str, Any]
    ) -> None:
        if {"FirstName", "LastName", "Name"} <= set(sobject.fields):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        hooks = HOOKS.get(sobject.name)
        if hooks:
            hooks.before_save(self, old, rec, given)
        self._check_references(sobject, rec, given)
        # custom validation runs after the system checks and before-save logic, as in Salesforce
        self.refusals.check(sobject.name, "create" if old is None else "update", rec)
        self._check_unique(sobject, rec)
        self.store.put(sobject.name, rec)
        if hooks:
            hooks.after_save(self, old, rec, given)

    def _check_references(self, sobject: SObject, rec: Record, given: dict[str, Any]) -> None:
        for name, value in given.items():
            field = sobject.fields[name]
            if field.type not in ("reference", "junctionidlist") or value is None:
                continue
            for target_id in value if isinstance(value, list) else [value]:
                found = self.find(target_id)
                if (
                    found is None
                    or found[1]["IsDeleted"]
                    or (found[0] == "User" and not found[1].get("IsActive", True))
                ):
                    raise bad_request(
                        "INVALID_CROSS_REFERENCE_KEY",
                        f"invalid cross reference id: {target_id}",
                        [name],
                    )

    def _check_unique(self, sobject: SObject, rec: Record) -> None:
        for table, field in UNIQUE_INDEXED:
            value = rec.get(field)
            if table != sobject.name or not value or field not in sobject.fields:
                continue
            existing = self.store.find_unique(table, field, value)
            if existing and existing != rec["Id"]:
                raise bad_request(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {field} duplicates value on record with id: "
                    f"{existing}",
                    [field],
                )

    # -- output ----------------------------------------------------------------------------
    def base_path(self, version: str = API_VERSION) -> str:
        return f"/services/data/v{version}"

    def render(
        self,
        sobject: SObject,
        rec: Record,
        fields: list[str] | None = None,
        version: str = API_VERSION,
    ) -> dict[str, Any]:
        url = f"{self.base_path(version)}/sobjects/{sobject.name}/{rec['Id']}"
        out: dict[str, Any] = {"attributes": {"type": sobject.name, "url": url}}
        for name in fields or list(sobject.fields):
            field = sobject.fields[name]
            if field.type == "junctionidlist":
                continue
            out[name] = to_json(field, rec.get(name), f"{url}/{name}")
        return out


HOOKS: dict[str, Hooks] = {}


def register(name: str, hooks: Hooks) -> None:
    HOOKS[name] = hooks
