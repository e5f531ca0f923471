"""Injected refusals of chosen records, answered as a validation rule (or a delete trigger) does.

A refusal is org configuration, like a validation rule: every write of a record it selects fails
with FIELD_CUSTOM_VALIDATION_EXCEPTION, whatever the endpoint (single record, upsert, sObject
Collections), until the rule is cleared or its `count` is spent. It is checked where Salesforce
runs validation rules: after the system checks and before-save logic, before the record is saved.
Configured through POST /_admin/faults with `"kind": "FIELD_CUSTOM_VALIDATION_EXCEPTION"`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from . import ids
from .errors import ApiError, bad_request
from .fields import coerce
from .objects import SObject
from .store import Record

KIND = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
# Validation rules run on insert and update (an upsert is one of the two); deletes are refused
# by a before-delete trigger's addError, which Salesforce reports with the same code.
OPERATIONS = ("create", "update", "delete")
DEFAULT_MESSAGE = "This record is refused by a validation rule (injected by the emulator)."
_UNMATCHABLE = ("base64", "junctionidlist")


class ValidationError(ApiError):
    """A custom validation failure; its single-record body always carries `fields`."""

    def body(self) -> list[dict[str, object]]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]


@dataclass
class Refusal:
    sobject: str
    match: dict[str, tuple[Any, ...]]  # field -> stored values it accepts (any of them)
    ids: frozenset[str]
    operations: frozenset[str]
    remaining: int | None  # refuse this many writes, then the rule is gone
    fraction: float | None  # or only this share of the selected records (stable per record)
    seed: str
    key_fields: tuple[str, ...]  # what `fraction` hashes (first non-empty): stable per record
    message: str
    fields: list[str]

    def selects(self, sobject: str, operation: str, rec: Record) -> bool:
        if sobject != self.sobject or operation not in self.operations:
            return False
        if self.ids and rec["Id"] not in self.ids:
            return False
        if any(rec.get(name) not in values for name, values in self.match.items()):
            return False
        if self.fraction is None:
            return True
        key = next((rec[f] for f in self.key_fields if rec.get(f)), rec["Id"])
        return _share(self.seed, key) < self.fraction

    def describe(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "sobject": self.sobject,
            "match": {k: [_plain(v) for v in vs] for k, vs in self.match.items()},
            "ids": sorted(self.ids),
            "operations": sorted(self.operations),
            "remaining": self.remaining,
            "fraction": self.fraction,
            "key_fields": list(self.key_fields),
            "message": self.message,
            "fields": self.fields,
        }


class Refusals:
    """The refusal rules of one org; callers hold the org lock."""

    def __init__(self) -> None:
        self.rules: list[Refusal] = []
        self.injected = 0

    def add(self, spec: dict[str, Any], schema: dict[str, SObject]) -> Refusal:
        rule = parse(spec, schema)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def check(self, sobject: str, operation: str, rec: Record) -> None:
        """Raise the validation error of the first rule that selects this write."""
        for rule in self.rules:
            if not rule.selects(sobject, operation, rec):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.rules.remove(rule)
            self.injected += 1
            raise ValidationError(400, KIND, rule.message, list(rule.fields))

    def describe(self) -> list[dict[str, Any]]:
        return [rule.describe() for rule in self.rules]


def parse(spec: dict[str, Any], schema: dict[str, SObject]) -> Refusal:
    """A rule from the admin request body; 400 INVALID_INPUT for anything it cannot mean."""
    sobject = _sobject(spec.get("sobject"), schema)
    count, fraction = spec.get("count"), spec.get("fraction")
    if count is not None and fraction is not None:
        raise _invalid("give count or fraction, not both (neither: refuse every time)")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise _invalid("count must be a whole number of refusals, at least 1")
    if fraction is not None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise _invalid("fraction must be a number between 0 and 1")
        if not 0 <= fraction <= 1:
            raise _invalid("fraction must be a number between 0 and 1")
    operations = spec.get("operations", list(OPERATIONS))
    if not isinstance(operations, list) or not operations or set(operations) - set(OPERATIONS):
        raise _invalid(
            f"operations must be a non-empty list of {list(OPERATIONS)} "
            "(an upsert is a create or an update)"
        )
    fields = [_field(sobject, name).name for name in _strings(spec.get("fields", []), "fields")]
    message = spec.get("message", DEFAULT_MESSAGE)
    if not isinstance(message, str) or not message:
        raise _invalid("message must be a non-empty string")
    return Refusal(
        sobject=sobject.name,
        match=_match(sobject, spec.get("match", {})),
        ids=frozenset(_id(raw) for raw in _strings(spec.get("ids", []), "ids")),
        operations=frozenset(operations),
        remaining=count,
        fraction=None if fraction is None else float(fraction),
        seed=str(spec.get("seed", "")),
        key_fields=_key_fields(sobject, spec.get("key_field")),
        message=message,
        fields=fields,
    )


def _sobject(name: Any, schema: dict[str, SObject]) -> SObject:
    if not isinstance(name, str):
        raise _invalid('sobject is required, e.g. "Event"')
    lowered = name.lower()
    found = next((s for s in schema.values() if s.name.lower() == lowered), None)
    if found is None:
        raise _invalid(f"unknown sobject {name}")
    return found


def _field(sobject: SObject, name: Any) -> Any:
    found = sobject.lookup(name) if isinstance(name, str) else None
    if found is None:
        raise _invalid(f"no field {name} on {sobject.name}")
    return found


def _match(sobject: SObject, match: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(match, dict):
        raise _invalid("match must be an object of field -> value (or list of values)")
    out: dict[str, tuple[Any, ...]] = {}
    for name, wanted in match.items():
        field = _field(sobject, name)
        if field.type in _UNMATCHABLE:
            raise _invalid(f"{field.name} ({field.type}) cannot be matched")
        values = wanted if isinstance(wanted, list) else [wanted]
        try:
            out[field.name] = tuple(coerce(field, value) for value in values)
        except ApiError as exc:
            raise _invalid(f"match value for {field.name}: {exc.message}") from None
    return out


def _key_fields(sobject: SObject, name: Any) -> tuple[str, ...]:
    """The given field, else the external id field, then the name field (Event: Subject)."""
    if name is not None:
        return (str(_field(sobject, name).name),)
    external = [f.name for f in sobject.fields.values() if f.external_id]
    return tuple(dict.fromkeys([*external, *([sobject.name_field] if sobject.name_field else [])]))


def _id(raw: str) -> str:
    canonical = ids.normalise(raw)
    if canonical is None:
        raise _invalid(f"malformed id {raw}")
    return canonical


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{name} must be a list of strings")
    return value


def _share(seed: str, value: Any) -> float:
    """A stable number in [0, 1) for a record's key: the same record is always chosen or not."""
    digest = hashlib.sha256(f"{seed}\x00{str(value).lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _invalid(message: str) -> ApiError:
    return bad_request("INVALID_INPUT", message)
