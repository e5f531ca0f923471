"""The sObject types the emulator knows: their fields, field properties and describe output."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ids import KEY_PREFIXES
from .locales import EMAIL_ENCODINGS, LANGUAGES, LOCALES, TIME_ZONES
from .profiles import USER_TYPES

EXTERNAL_ID_FIELD = "Calsync_Key__c"


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # id string textarea email phone url picklist boolean int double date datetime
    #            reference base64 junctionidlist
    length: int = 0
    create: bool = True
    update: bool = True
    nillable: bool = True
    required: bool = False  # must be given on create (or have a default)
    references: tuple[str, ...] = ()
    relationship: str | None = None
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    default: object = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False  # only `picklist` values are accepted


@dataclass
class SObject:
    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    name_field: str | None = None
    writable: bool = True  # False: records are made by the org only (Profile)

    @property
    def key_prefix(self) -> str | None:
        return KEY_PREFIXES.get(self.name)  # None for read-only views (UserRecordAccess)

    def lookup(self, name: str) -> Field | None:
        """Field by API name, case-insensitively (SOQL and JSON bodies both ignore case)."""
        found = self.fields.get(name)
        if found:
            return found
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.name.lower() == lowered:
                return candidate
        return None

    def relationship(self, name: str) -> Field | None:
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationship and candidate.relationship.lower() == lowered:
                return candidate
        return None


def _s(name: str, length: int = 255, **kw: object) -> Field:
    return Field(name, "string", length, **kw)  # type: ignore[arg-type]


def _ref(name: str, targets: tuple[str, ...], rel: str | None, **kw: object) -> Field:
    return Field(name, "reference", 18, references=targets, relationship=rel, **kw)  # type: ignore[arg-type]


def _ro(name: str, type_: str, **kw: object) -> Field:
    return Field(name, type_, create=False, update=False, **kw)  # type: ignore[arg-type]


def _bool(name: str, default: bool = False, **kw: object) -> Field:
    return Field(name, "boolean", default=default, nillable=False, **kw)  # type: ignore[arg-type]


def _restricted(name: str, values: tuple[str, ...]) -> Field:
    """A required restricted picklist (User's locale fields)."""
    return Field(
        name, "picklist", 40, required=True, nillable=False, picklist=values, restricted=True
    )


def _audit() -> list[Field]:
    return [
        _ro("CreatedDate", "datetime", nillable=False),
        _ref("CreatedById", ("User",), "CreatedBy", create=False, update=False),
        _ro("LastModifiedDate", "datetime", nillable=False),
        _ref("LastModifiedById", ("User",), "LastModifiedBy", create=False, update=False),
        _ro("SystemModstamp", "datetime", nillable=False),
        _ro("IsDeleted", "boolean", nillable=False),
    ]


def _owner() -> Field:
    return _ref("OwnerId", ("User",), "Owner", nillable=False)


PEOPLE = ("Contact", "Lead")
WHATS = ("Account", "Opportunity")

_EVENT_FIELDS = [
    _s("Subject"),
    _s("Location"),
    Field("Description", "textarea", 32000),
    Field("StartDateTime", "datetime"),
    Field("EndDateTime", "datetime"),
    Field("ActivityDateTime", "datetime"),
    Field("ActivityDate", "date"),
    _ro("EndDate", "date"),
    Field("DurationInMinutes", "int"),
    _bool("IsAllDayEvent"),
    Field("ShowAs", "picklist", 40, picklist=("Busy", "OutOfOffice", "Free"), default="Busy"),
    _bool("IsPrivate"),
    _owner(),
    _ref("WhoId", PEOPLE, "Who"),
    _ref("WhatId", WHATS, "What"),
    _ref("AccountId", ("Account",), "Account", create=False, update=False),
    _ro("WhoCount", "int"),
    _ro("WhatCount", "int"),
    Field("Type", "picklist", 40, picklist=("Call", "Email", "Meeting", "Other")),
    Field("EventSubtype", "picklist", 40, update=False, picklist=("Event",), default="Event"),
    _bool("IsReminderSet"),
    Field("ReminderDateTime", "datetime"),
    _ro("IsGroupEvent", "boolean", nillable=False),
    _ro("GroupEventType", "picklist", picklist=("0", "1", "2", "3")),
    _ro("IsChild", "boolean", nillable=False),
    _ro("IsArchived", "boolean", nillable=False),
    _bool("IsVisibleInSelfService"),
    # classic recurrence: stored and validated, not expanded
    Field("IsRecurrence", "boolean", update=False, nillable=False, default=False),
    Field("RecurrenceType", "picklist", 40),
    Field("RecurrenceInterval", "int"),
    Field("RecurrenceDayOfWeekMask", "int"),
    Field("RecurrenceDayOfMonth", "int"),
    Field("RecurrenceStartDateTime", "datetime"),
    Field("RecurrenceEndDateOnly", "date"),
    _ref("RecurrenceActivityId", ("Event",), "RecurrenceActivity", create=False, update=False),
    # Lightning event series
    Field("IsRecurrence2", "boolean", update=False, nillable=False, default=False),
    _ro("IsRecurrence2Exception", "boolean", nillable=False),
    _ro("IsRecurrence2Exclusion", "boolean", nillable=False),
    Field("Recurrence2PatternText", "textarea", 512, update=False),
    _ro("Recurrence2PatternTimeZone", "string", length=255),
    _ro("Recurrence2PatternVersion", "picklist", picklist=("1",)),
    Field("Recurrence2PatternStartDate", "datetime", update=False),
    Field("EventWhoIds", "junctionidlist", references=PEOPLE),
    *_audit(),
]

_OBJECTS: list[SObject] = [
    SObject(
        "User",
        {
            f.name: f
            for f in [
                _s("Username", 80, required=True, unique=True),
                _s("FirstName", 40),
                _s("LastName", 80, required=True),
                _ro("Name", "string", length=121),
                Field("Email", "email", 128, required=True),
                _s("Alias", 8, required=True, nillable=False),
                _bool("IsActive", True),
                _restricted("TimeZoneSidKey", TIME_ZONES),
                _restricted("LocaleSidKey", LOCALES),
                _restricted("LanguageLocaleKey", LANGUAGES),
                _restricted("EmailEncodingKey", EMAIL_ENCODINGS),
                _ref("ProfileId", ("Profile",), "Profile", required=True, nillable=False),
                _ro("UserType", "picklist", length=40, picklist=USER_TYPES),
                *_audit(),
            ]
        },
        "Name",
    ),
    SObject(
        "Profile",
        {
            f.name: f
            for f in [
                _ro("Name", "string", length=255, nillable=False),
                _ro("UserType", "picklist", length=40, picklist=USER_TYPES),
                _ro("Description", "string", length=255),
                *_audit(),
            ]
        },
        "Name",
        writable=False,
    ),
    SObject(
        "Account",
        {
            f.name: f
            for f in [
                _s("Name", required=True),
                Field("Website", "url", 255),
                Field("Type", "picklist", 40),
                _owner(),
                *_audit(),
            ]
        },
        "Name",
    ),
    SObject(
        "Contact",
        {
            f.name: f
            for f in [
                _s("FirstName", 40),
                _s("LastName", 80, required=True),
                _ro("Name", "string", length=121),
                Field("Email", "email", 80),
                Field("Phone", "phone", 40),
                _s("Title", 128),
                _ref("AccountId", ("Account",), "Account"),
                _owner(),
                *_audit(),
            ]
        },
        "Name",
    ),
    SObject(
        "Lead",
        {
            f.name: f
            for f in [
                _s("FirstName", 40),
                _s("LastName", 80, required=True),
                _ro("Name", "string", length=121),
                _s("Company", 255, required=True),
                Field("Email", "email", 80),
                Field("Status", "picklist", 40, default="Open - Not Contacted"),
                _ro("IsConverted", "boolean", nillable=False),
                _owner(),
                *_audit(),
            ]
        },
        "Name",
    ),
    SObject(
        "Opportunity",
        {
            f.name: f
            for f in [
                _s("Name", 120, required=True),
                Field("StageName", "picklist", 255, required=True),
                Field("CloseDate", "date", required=True),
                Field("Amount", "double"),
                _ref("AccountId", ("Account",), "Account"),
                _owner(),
                *_audit(),
            ]
        },
        "Name",
    ),
    SObject("Event", {f.name: f for f in _EVENT_FIELDS}, "Subject"),
    SObject(
        "EventRelation",
        {
            f.name: f
            for f in [
                _ref("EventId", ("Event",), "Event", required=True, update=False),
                _ref(
                    "RelationId",
                    ("User", "Contact", "Lead", "Account", "Opportunity"),
                    "Relation",
                    required=True,
                    update=False,
                ),
                _bool("IsInvitee"),
                _bool("IsParent"),
                _bool("IsWhat", update=False),
                Field("Status", "picklist", 40, default="New"),
                _s("Response", 255),
                Field("RespondedDate", "datetime"),
                _ref("AccountId", ("Account",), "Account", create=False, update=False),
                *_audit(),
            ]
        },
    ),
    SObject(
        "ContentVersion",
        {
            f.name: f
            for f in [
                _s("Title", 255),
                _s("PathOnClient", 500, required=True, update=False),
                Field("VersionData", "base64", required=True, update=False),
                _ref("ContentDocumentId", ("ContentDocument",), "ContentDocument", update=False),
                _ref(
                    "FirstPublishLocationId",
                    ("Event", "Account", "Contact", "Lead", "Opportunity", "User"),
                    None,
                    update=False,
                ),
                _ro("FileExtension", "string", length=40),
                _ro("FileType", "string", length=20),
                _ro("ContentSize", "int"),
                _ro("Checksum", "string", length=50),
                _ro("IsLatest", "boolean", nillable=False),
                _ro("VersionNumber", "string", length=20),
                Field("Description", "textarea", 1000),
                _s("ReasonForChange", 1000, update=False),
                Field(
                    "ContentLocation",
                    "picklist",
                    40,
                    update=False,
                    picklist=("S", "E", "L"),
                    default="S",
                ),  # fmt: skip
                Field("Origin", "picklist", 40, update=False, picklist=("C", "H"), default="C"),
                _owner(),
                *_audit(),
            ]
        },
        "Title",
    ),
    SObject(
        "ContentDocument",
        {
            f.name: f
            for f in [
                _s("Title", 255),
                _ref(
                    "LatestPublishedVersionId",
                    ("ContentVersion",),
                    "LatestPublishedVersion",
                    create=False,
                    update=False,
                ),
                _ro("FileExtension", "string", length=40),
                _ro("FileType", "string", length=20),
                _ro("ContentSize", "int"),
                _owner(),
                *_audit(),
            ]
        },
        "Title",
    ),
    SObject(
        "ContentDocumentLink",
        {
            f.name: f
            for f in [
                _ref(
                    "ContentDocumentId",
                    ("ContentDocument",),
                    "ContentDocument",
                    required=True,
                    update=False,
                ),
                _ref(
                    "LinkedEntityId",
                    ("Event", "Account", "Contact", "Lead", "Opportunity", "User"),
                    "LinkedEntity",
                    required=True,
                    update=False,
                ),
                Field("ShareType", "picklist", 40, picklist=("V", "C", "I"), default="V"),
                Field(
                    "Visibility",
                    "picklist",
                    40,
                    picklist=("AllUsers", "InternalUsers", "SharedUsers"),
                    default="AllUsers",
                ),
                *_audit(),
            ]
        },
    ),
]

_OBJECTS.append(
    SObject(
        "UserRecordAccess",
        {
            f.name: f
            for f in [
                _ref("UserId", ("User",), None, create=False, update=False),
                Field("RecordId", "picklist", 40, create=False, update=False),
                *(_ro(name, "boolean", nillable=False) for name in (
                    "HasReadAccess", "HasEditAccess", "HasDeleteAccess", "HasTransferAccess",
                    "HasAllAccess")),
                _ro("MaxAccessLevel", "picklist", length=40,
                    picklist=("None", "Read", "Edit", "Delete", "Transfer", "All")),
            ]
        },
        writable=False,  # computed per query (emulators/salesforce/sharing.py), never stored
    )
)  # fmt: skip

_ID = Field("Id", "id", 18, create=False, update=False, nillable=False)


def build_schema(external_id_field: bool) -> dict[str, SObject]:
    """All sObjects, with Event's `Calsync_Key__c` present or not."""
    schema: dict[str, SObject] = {}
    for sobject in _OBJECTS:
        fields = {"Id": _ID, **sobject.fields}
        if sobject.name == "Event" and external_id_field:
            fields[EXTERNAL_ID_FIELD] = Field(
                EXTERNAL_ID_FIELD, "string", 255, external_id=True, unique=True, custom=True
            )
        schema[sobject.name] = SObject(sobject.name, fields, sobject.name_field, sobject.writable)
    return schema


def find_type(schema: dict[str, SObject], name: str) -> SObject | None:
    found = schema.get(name)
    if found:
        return found
    lowered = name.lower()
    return next((s for s in schema.values() if s.name.lower() == lowered), None)


def describe_field(f: Field) -> dict[str, object]:
    return {
        "name": f.name,
        "label": f.name,
        "type": f.type,
        "length": f.length
        if f.type in ("string", "textarea", "email", "phone", "url", "picklist", "id", "reference")
        else 0,
        "createable": f.create,
        "updateable": f.update,
        "nillable": f.nillable,
        "externalId": f.external_id,
        "unique": f.unique,
        "idLookup": f.name == "Id" or f.external_id,
        "custom": f.custom,
        "filterable": f.type not in ("textarea", "base64", "junctionidlist"),
        "sortable": f.type not in ("textarea", "base64", "junctionidlist"),
        "referenceTo": list(f.references),
        "relationshipName": f.relationship,
        "defaultValue": f.default,
        "restrictedPicklist": f.restricted,
        "picklistValues": [
            {"value": v, "label": v, "active": True, "defaultValue": v == f.default}
            for v in f.picklist
        ],
    }


def describe_summary(sobject: SObject, base: str) -> dict[str, object]:
    url = f"{base}/sobjects/{sobject.name}"
    return {
        "name": sobject.name,
        "label": sobject.name,
        "keyPrefix": sobject.key_prefix,
        "createable": sobject.writable,
        "updateable": sobject.writable,
        "deletable": sobject.writable,
        "queryable": True,
        "retrieveable": True,
        "searchable": False,
        "custom": False,
        "urls": {
            "sobject": url,
            "describe": f"{url}/describe",
            "rowTemplate": f"{url}/{{ID}}",
        },
    }


def describe(sobject: SObject, base: str) -> dict[str, object]:
    return {
        **describe_summary(sobject, base),
        "fields": [describe_field(f) for f in sobject.fields.values()],
    }
