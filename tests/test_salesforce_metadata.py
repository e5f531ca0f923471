"""salesforce/ deploys what calsync's webhook accepts (R-21): the Flow on Event, its External
Service, Named Credential, External Credential and permission sets.

No Salesforce org is reachable here, so two checks stand in for `sf project deploy start`:

- **Schema.** Every `*-meta.xml` file under salesforce/force-app must validate against the XSD of
  its metadata type, as Salesforce's Metadata API WSDL defines it (elements, their order, their
  enumerations). The WSDL is the one simple-salesforce ships (`simple_salesforce/metadata.wsdl`,
  Metadata API 63.0, Salesforce's own file): a runtime dependency pinned in requirements.txt,
  and pinned here by its SHA-256 too, so a new simple-salesforce cannot change the schema
  unnoticed. sfdx-project.json deploys with the same API version.
- **Consistency.** The Flow's body has exactly the fields `infra/flow_callout.parse` reads (and
  the emulator's Flow sends); the JWT the External Credential describes passes calsync's own
  verifier; the Flow's action names the External Service, which names the Named Credential,
  which names the External Credential, whose principal the permission set grants; the deploy-time
  placeholders are all replaced from the variables infra/config.py reads.

`check(project)` returns the problems found; the last tests break a copy of each file and show
that the check names what broke. What neither check can say: whether a real org accepts the
files (the formulas, the apex type name of the body, the claim parameters): docs/deploy.md.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import time
from functools import cache
from pathlib import Path
from typing import Any

import jwt
import pytest
import simple_salesforce
from lxml import etree

from emulators.keys import keypair
from emulators.salesforce.flow import FlowConfig
from infra import flow_callout
from infra.flow_callout import FlowVerifier, parse, public_keys

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "salesforce"
WSDL = Path(simple_salesforce.__file__).with_name("metadata.wsdl")
WSDL_SHA256 = "7cab633d834c01fb4d0c05ff70a84f3ac9dc09c18b57d26f37079b86cb8020f4"
WSDL_VERSION = "63.0"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
MD = "http://soap.sforce.com/2006/04/metadata"
N = {"m": MD}

# Source-format folder and suffix → the metadata type its root element must be.
TYPES = {
    ("flows", ".flow-meta.xml"): "Flow",
    ("externalCredentials", ".externalCredential-meta.xml"): "ExternalCredential",
    ("namedCredentials", ".namedCredential-meta.xml"): "NamedCredential",
    ("externalServiceRegistrations", ".externalServiceRegistration-meta.xml"): (
        "ExternalServiceRegistration"
    ),
    ("permissionsets", ".permissionset-meta.xml"): "PermissionSet",
    ("customPermissions", ".customPermission-meta.xml"): "CustomPermission",
    ("fields", ".field-meta.xml"): "CustomField",
}
FLOW = "Calsync_Event_Changed"
CERTIFICATE = "calsync_flow"  # docs/deploy.md, step 1: the certificate the admin creates
INTEGRATION_PERMISSION = "Calsync_Integration"  # calsync's integration user: left out
CALLOUT_PERMISSION = "Calsync_Flow_Callout"  # granted with the credential: only they call out


# --- the schema --------------------------------------------------------------------------------


@cache
def metadata_schema() -> etree.XMLSchema:
    """The WSDL's embedded XSD, plus one global element per metadata type a file may hold (the
    WSDL declares the types; a source file's root element is named after its type)."""
    embedded = etree.parse(str(WSDL)).find(f".//{{{XSD_NS}}}schema")
    assert embedded is not None, f"no XSD in {WSDL}"
    # The `tns` prefix the type references use is declared on the WSDL's root: redeclare it.
    schema = etree.Element(f"{{{XSD_NS}}}schema", nsmap={"xsd": XSD_NS, "tns": MD},
                           attrib=dict(embedded.attrib))  # fmt: skip
    schema.extend(embedded)
    for name in sorted(set(TYPES.values())):
        etree.SubElement(schema, f"{{{XSD_NS}}}element", name=name, type=f"tns:{name}")
    return etree.XMLSchema(etree.ElementTree(schema))


def metadata_type(path: Path) -> str | None:
    for (folder, suffix), kind in TYPES.items():
        if path.parent.name == folder and path.name.endswith(suffix):
            return kind
    return None


def schema_problems(path: Path) -> list[str]:
    where = path.relative_to(path.parents[4]) if len(path.parents) > 4 else path
    kind = metadata_type(path)
    if kind is None:
        return [f"{where}: not a metadata type this check knows (add it to TYPES)"]
    try:
        doc = etree.parse(str(path))
    except etree.XMLSyntaxError as exc:
        return [f"{where}: not well-formed XML: {exc}"]
    if doc.getroot().tag != f"{{{MD}}}{kind}":
        return [f"{where}: the root element must be {kind} in the metadata namespace"]
    schema = metadata_schema()
    if schema.validate(doc):
        return []
    return [f"{where}:{e.line}: {e.message}" for e in schema.error_log]


# --- reading the files ---------------------------------------------------------------------------


def _text(el: Any, path: str) -> str:
    found = el.find(path, N)
    return (found.text or "").strip() if found is not None else ""


def _one(project: Path, folder: str) -> tuple[str, Any]:
    files = sorted((project / "force-app/main/default" / folder).glob("*-meta.xml"))
    assert len(files) == 1, f"{folder}: expected one file, found {[f.name for f in files]}"
    return files[0].name.split(".")[0], etree.parse(str(files[0])).getroot()


def _params(ec: Any, kind: str) -> list[Any]:
    return [p for p in ec.findall("m:externalCredentialParameters", N)
            if _text(p, "m:parameterType") == kind]  # fmt: skip


def parse_reads() -> set[str]:
    """The body fields infra/flow_callout.parse reads (its `.get("...")` calls), read from the
    source so that a field renamed there fails here."""
    tree = ast.parse(Path(flow_callout.__file__).read_text())
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "parse")
    return {
        n.args[0].value
        for n in ast.walk(func)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "get"
        and n.args and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)
    }  # fmt: skip


def emulator_sends() -> set[str]:
    """The keys of the body emulators/salesforce/flow.py posts (the dict naming eventId)."""
    tree = ast.parse((ROOT / "emulators/salesforce/flow.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if "eventId" in keys:
                return {str(k) for k in keys}
    raise AssertionError("the emulator's Flow body was not found")


def flow_body(flow: Any, variable: str) -> dict[str, Any]:
    """Field → the assigned value's element (elementReference / booleanValue / ...)."""
    out: dict[str, Any] = {}
    for item in flow.iterfind("m:assignments/m:assignmentItems", N):
        target = _text(item, "m:assignToReference")
        if target.startswith(variable + "."):
            value = item.find("m:value", N)
            out[target.split(".", 1)[1]] = value[0] if value is not None and len(value) else None
    return out


def reachable(flow: Any, start: str) -> list[str]:
    """The element names a path's connectors lead through, from `start`."""
    by_name = {_text(el, "m:name"): el for el in flow if el.find("m:name", N) is not None}
    seen: list[str] = []
    name = start
    while name and name not in seen and name in by_name:
        seen.append(name)
        name = _text(by_name[name], "m:connector/m:targetReference")
    return seen


def permission_sets(project: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Each permission set → (custom permissions, External Credential principals) it grants."""
    out = {}
    for f in sorted((project / "force-app/main/default/permissionsets").glob("*-meta.xml")):
        root = etree.parse(str(f)).getroot()
        perms = [_text(p, "m:name") for p in root.findall("m:customPermissions", N)
                 if _text(p, "m:enabled") == "true"]  # fmt: skip
        grants = [_text(a, "m:externalCredentialPrincipal")
                  for a in root.findall("m:externalCredentialPrincipalAccesses", N)
                  if _text(a, "m:enabled") == "true"]  # fmt: skip
        out[f.name.split(".")[0]] = (perms, grants)
    return out


# --- the whole check -----------------------------------------------------------------------------


def check(project: Path) -> list[str]:
    """Everything wrong with `project` (a copy of salesforce/), schema first."""
    problems: list[str] = []
    files = sorted((project / "force-app").rglob("*-meta.xml"))
    for path in files:
        problems += schema_problems(path)
    if problems:
        return problems

    def need(ok: object, message: str) -> None:
        if not ok:
            problems.append(message)

    sfdx = json.loads((project / "sfdx-project.json").read_text())
    need(sfdx.get("sourceApiVersion") == WSDL_VERSION,
         f"sfdx-project.json: deploy with the API version checked here ({WSDL_VERSION})")  # fmt: skip

    flow_name, flow = _one(project, "flows")
    esr_name, esr = _one(project, "externalServiceRegistrations")
    nc_name, nc = _one(project, "namedCredentials")
    ec_name, ec = _one(project, "externalCredentials")
    need(flow_name == FLOW, f"the Flow must be {FLOW}")
    need(_text(flow, "m:apiVersion") == WSDL_VERSION, f"Flow apiVersion must be {WSDL_VERSION}")

    # The trigger: after save of an Event, created or updated, on the asynchronous path only.
    start = flow.find("m:start", N)
    need(_text(start, "m:object") == "Event", "Flow: object must be Event")
    need(_text(start, "m:triggerType") == "RecordAfterSave", "Flow: must run after save")
    need(_text(start, "m:recordTriggerType") == "CreateAndUpdate",
         "Flow: must run on create and update")  # fmt: skip
    need(start.find("m:connector", N) is None,
         "Flow: nothing may run on the immediate path (no callouts allowed there)")  # fmt: skip
    formula = re.sub(r"\s+", "", _text(start, "m:filterFormula"))
    need("NOT({!$Record.IsChild})" in formula, "Flow: the entry condition must leave out IsChild")
    need(f"NOT({{!$Permission.{INTEGRATION_PERMISSION}}})" in formula,
         "Flow: the entry condition must leave out calsync's integration user")  # fmt: skip
    need(f"&&{{!$Permission.{CALLOUT_PERMISSION}}}" in formula,
         "Flow: the entry condition must keep only holders of the callout's permission")  # fmt: skip
    for permission in (INTEGRATION_PERMISSION, CALLOUT_PERMISSION):
        need((project / "force-app/main/default/customPermissions"
              / f"{permission}.customPermission-meta.xml").exists(),
             f"the custom permission {permission} must ship with the Flow")  # fmt: skip
    sets = permission_sets(project)
    need(any(INTEGRATION_PERMISSION in perms for perms, _ in sets.values()),
         f"a permission set must grant {INTEGRATION_PERMISSION}")  # fmt: skip
    paths = start.findall("m:scheduledPaths", N)
    need(len(paths) == 1 and _text(paths[0], "m:pathType") == "AsyncAfterCommit",
         "Flow: one scheduled path, the asynchronous one (AsyncAfterCommit)")  # fmt: skip
    chain = reachable(flow, _text(paths[0], "m:connector/m:targetReference")) if paths else []

    # The action: the External Service's operation, reached from the asynchronous path.
    actions = flow.findall("m:actionCalls", N)
    need(len(actions) == 1, "Flow: exactly one action, the callout")
    action = actions[0] if actions else etree.Element("none")
    need(_text(action, "m:name") in chain, "Flow: the callout must be on the asynchronous path")
    need(
        _text(action, "m:actionType") == "externalService",
        "Flow: the action must be externalService",
    )
    operations = [_text(o, "m:name") for o in esr.findall("m:operations", N)
                  if _text(o, "m:active") == "true"]  # fmt: skip
    expected = {f"{esr_name}.{op}" for op in operations}
    need(_text(action, "m:actionName") in expected,
         f"Flow: the action must be one of {sorted(expected)}")  # fmt: skip
    spec = json.loads(_text(esr, "m:schema"))
    posts = {
        (path, op["operationId"])
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method == "post"
    }
    need({op for _, op in posts} == set(operations),
         "External Service: its operations must be the schema's POST operationIds")  # fmt: skip
    webhook_path = next(iter(posts))[0] if len(posts) == 1 else ""
    need(webhook_path == "/salesforce_webhook", "External Service: POST /salesforce_webhook")

    # The body: the variable passed as `body`, typed by the schema's request body.
    inputs = {_text(p, "m:name"): _text(p, "m:value/m:elementReference")
              for p in action.findall("m:inputParameters", N)}  # fmt: skip
    variable = inputs.get("body", "")
    op = next(iter(spec["paths"].values()))["post"] if posts else {}
    ref = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema_name = ref.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
    declared = spec.get("components", {}).get("schemas", {}).get(schema_name, {})
    variables = {_text(v, "m:name"): v for v in flow.findall("m:variables", N)}
    need(variable in variables, "Flow: the action's body must be a variable of the Flow")
    if variable in variables:
        need(_text(variables[variable], "m:apexClass") == f"ExternalService__{esr_name}_{schema_name}",
             "Flow: the body's type must be the External Service's request body type")  # fmt: skip
    body = flow_body(flow, variable)
    fields = set(body)
    reads = parse_reads() - {"events"}  # `events` wraps several changes; the Flow sends one
    need(fields == reads, f"Flow body fields {sorted(fields)} != what parse reads {sorted(reads)}")
    need(set(declared.get("properties", {})) == fields == set(declared.get("required", [])),
         "External Service: the body schema must declare (and require) the Flow's fields")  # fmt: skip
    need(fields <= emulator_sends(), "the emulator's Flow must send the same fields")
    sources = {k: (etree.QName(v).localname, (v.text or "").strip()) if v is not None else None
               for k, v in body.items()}  # fmt: skip
    need(
        sources.get("orgId") == ("elementReference", "$Organization.Id"), "orgId ← $Organization.Id"
    )
    need(sources.get("eventId") == ("elementReference", "$Record.Id"), "eventId ← $Record.Id")
    need(
        sources.get("ownerId") == ("elementReference", "$Record.OwnerId"),
        "ownerId ← $Record.OwnerId",
    )
    need(sources.get("lastModifiedById") == ("elementReference", "$Record.LastModifiedById"),
         "lastModifiedById ← $Record.LastModifiedById")  # fmt: skip
    need(sources.get("isChild") == ("booleanValue", "false"), "isChild ← false")
    kind = (sources.get("change") or ("", ""))[1]
    formulas = {_text(f, "m:name"): _text(f, "m:expression") for f in flow.findall("m:formulas", N)}
    kinds = set(re.findall(r'"(\w+)"', formulas.get(kind, "")))
    need(kinds == {"created", "updated"} and kinds <= set(flow_callout.CHANGES),
         "Flow: change must be a formula of \"created\" / \"updated\"")  # fmt: skip

    # The Named Credential: the External Service's, authenticated by the External Credential.
    need(_text(esr, "m:namedCredentialReference") == nc_name,
         "External Service: must call through the Named Credential")  # fmt: skip
    need(
        _text(nc, "m:namedCredentialType") == "SecuredEndpoint", "Named Credential: SecuredEndpoint"
    )
    need(_text(nc, "m:generateAuthorizationHeader") == "true",
         "Named Credential: must generate the Authorization header")  # fmt: skip
    need(_text(nc, "m:allowMergeFieldsInBody") == "false"
         and _text(nc, "m:allowMergeFieldsInHeader") == "false",
         "Named Credential: no merge fields")  # fmt: skip
    nc_params = {
        _text(p, "m:parameterType"): p for p in nc.findall("m:namedCredentialParameters", N)
    }
    url = _text(nc_params["Url"], "m:parameterValue") if "Url" in nc_params else ""
    auth = nc_params.get("Authentication")
    need(auth is not None and _text(auth, "m:externalCredential") == ec_name,
         "Named Credential: must authenticate with the External Credential")  # fmt: skip

    # The External Credential: a JWT signed with the org's certificate, the claims calsync checks.
    need(_text(ec, "m:authenticationProtocol") == "Jwt", "External Credential: protocol Jwt")
    certs = [_text(p, "m:certificate") for p in _params(ec, "SigningCertificate")]
    need(certs == [CERTIFICATE], f"External Credential: signing certificate {CERTIFICATE}")
    claims = {_text(p, "m:parameterName"): _text(p, "m:parameterValue")
              for p in _params(ec, "JwtBodyClaim")}  # fmt: skip
    need(set(claims) >= {"iss", "aud", "sub", "exp"}, "External Credential: iss, aud, sub, exp")
    need(claims.get("aud") == url + webhook_path,
         "JWT aud must be the Named Credential's URL + the webhook's path")  # fmt: skip
    need(claims.get("sub") == FlowConfig().subject, "JWT sub must be what the emulator signs")
    lifetime = re.fullmatch(r'\{!TEXT\(FLOOR\(\(NOW\(\) - DATETIMEVALUE\("1970-01-01 00:00:00"\)\)'
                            r" \* 86400 \+ (\d+)\)\)\}", claims.get("exp", ""))  # fmt: skip
    need(lifetime and 30 <= int(lifetime[1]) <= flow_callout.MAX_LIFETIME,
         f"JWT exp must be now + at most {flow_callout.MAX_LIFETIME} s")  # fmt: skip
    need(lifetime and int(lifetime[1]) == FlowConfig().expiry_seconds,
         "JWT lifetime must be the emulator's")  # fmt: skip
    principals = [_text(p, "m:parameterName") for p in _params(ec, "NamedPrincipal")]
    need(len(principals) == 1, "External Credential: one named principal")

    # One permission set grants that principal, and with it the Flow's gate.
    granting = {name: perms for name, (perms, grants) in sets.items() if grants}
    need([grants for _, grants in sets.values() if grants] == [[f"{ec_name} - {p}" for p in principals]],
         f"a permission set must grant the principal {ec_name} - {principals}")  # fmt: skip
    need(all(CALLOUT_PERMISSION in perms for perms in granting.values()),
         f"the permission set granting the principal must grant {CALLOUT_PERMISSION} too")  # fmt: skip

    # Placeholders: replaced at deploy from the variables calsync itself is configured with.
    config_source = (ROOT / "infra/config.py").read_text()
    wanted = {"https://calsync-functions-url.invalid": "CALSYNC_FUNCTIONS_URL",
              "CALSYNC-SF-ORG-ID": "CALSYNC_SF_ORG_ID"}  # fmt: skip
    need(url == "https://calsync-functions-url.invalid", "Named Credential: URL placeholder")
    need(claims.get("iss") == "CALSYNC-SF-ORG-ID", "JWT iss: the org id placeholder")
    replaced = {(r.get("filename"), r.get("stringToReplace")): r.get("replaceWithEnv")
                for r in sfdx.get("replacements", [])}  # fmt: skip
    for path in files:
        relative = str(path.relative_to(project))
        for placeholder, env in wanted.items():
            if placeholder in path.read_text():
                need(replaced.get((relative, placeholder)) == env,
                     f"sfdx-project.json: {relative} needs {placeholder} replaced from {env}")  # fmt: skip
                need(f'get("{env}")' in config_source, f"{env} must be what infra/config.py reads")
    for (filename, _), _env in replaced.items():
        need((project / str(filename)).exists(), f"sfdx-project.json names a missing {filename}")
    return problems


# --- the tests -----------------------------------------------------------------------------------


def test_the_schema_is_the_pinned_metadata_api_wsdl():
    assert hashlib.sha256(WSDL.read_bytes()).hexdigest() == WSDL_SHA256, (
        "simple-salesforce ships another metadata.wsdl: check the files against it, then pin it"
    )
    assert f"Metadata API version {WSDL_VERSION}" in WSDL.read_text()[:200]


def test_every_metadata_file_is_valid_against_its_type():
    files = sorted((PROJECT / "force-app").rglob("*-meta.xml"))
    assert {metadata_type(f) for f in files} == set(TYPES.values())
    for path in files:
        assert schema_problems(path) == [], path


def test_the_flow_credentials_and_permission_sets_fit_the_webhook():
    assert check(PROJECT) == []


def _deployed(text: str, functions_url: str, org_id: str) -> str:
    """A file as `sf project deploy start` sends it, with the replacements applied."""
    return text.replace("https://calsync-functions-url.invalid", functions_url).replace(
        "CALSYNC-SF-ORG-ID", org_id
    )


def test_a_call_as_the_credential_describes_it_is_accepted_by_the_webhook():
    """Sign the claims the External Credential lists (as Salesforce would, adding iat) and post
    the body the Flow builds: calsync's verifier and parser accept both."""
    functions_url, org_id = "https://europe-west1-demo.cloudfunctions.net", "00D5g000004ABCDEAA"
    default = PROJECT / "force-app/main/default"
    ec = etree.fromstring(_deployed(
        (default / "externalCredentials/Calsync_Flow.externalCredential-meta.xml").read_text(),
        functions_url, org_id).encode())  # fmt: skip
    claims: dict[str, Any] = {_text(p, "m:parameterName"): _text(p, "m:parameterValue")
                              for p in _params(ec, "JwtBodyClaim")}  # fmt: skip
    now = int(time.time())
    lifetime = int(re.findall(r"\+ (\d+)\)\)\}$", claims["exp"])[0])
    claims.update(iat=now, exp=now + lifetime)
    key, cert = keypair("calsync-test-org")
    token = jwt.encode(claims, key, algorithm="RS256")
    # What infra/wiring.py builds from CALSYNC_FUNCTIONS_URL and CALSYNC_SF_ORG_ID.
    assert 'f"{cfg.functions_url}/salesforce_webhook"' in (ROOT / "infra/wiring.py").read_text()
    verifier = FlowVerifier(
        public_keys(cert.decode()), org_id, f"{functions_url}/salesforce_webhook"
    )
    assert verifier.verify(token)["sub"] == "calsync-flow"

    flow = etree.parse(str(default / "flows/Calsync_Event_Changed.flow-meta.xml")).getroot()
    samples = {"$Organization.Id": org_id, "$Record.Id": "00U5g00000AbCdEFGH",
               "$Record.OwnerId": "0055g00000AbCdEFGH", "$Record.LastModifiedById": "0055g00000XyZdEFGH",
               "Change_Kind": "updated"}  # fmt: skip
    body = {
        field: (samples[(value.text or "").strip()] if etree.QName(value).localname == "elementReference"
                else (value.text or "").strip() == "true")
        for field, value in flow_body(flow, "Callout_Body").items()
    }  # fmt: skip
    (change,) = parse(body, org_id)
    assert change.event.sf_event_id == "00U5g00000AbCdEFGH"
    assert change.event.owner_sf_id == "0055g00000AbCdEFGH" and not change.event.deleted


BREAKS = [
    (
        "flows/Calsync_Event_Changed.flow-meta.xml",
        " &amp;&amp; {!$Permission.Calsync_Flow_Callout}",
        "",
        "holders of the callout's permission",
    ),
    (
        "permissionsets/Calsync_Flow_Callout.permissionset-meta.xml",
        "<name>Calsync_Flow_Callout</name>",
        "<name>Calsync_Integration</name>",
        "must grant Calsync_Flow_Callout too",
    ),
    # (file under force-app/main/default, text, replaced by, what the check must say)
    (
        "flows/Calsync_Event_Changed.flow-meta.xml",
        "<pathType>AsyncAfterCommit</pathType>",
        "<pathType>RunNow</pathType>",
        "RunNow",
    ),
    (
        "flows/Calsync_Event_Changed.flow-meta.xml",
        "<apiVersion>63.0</apiVersion>",
        "<apiVersion>63.0</apiVersion><colour>blue</colour>",
        "colour",
    ),
    (
        "flows/Calsync_Event_Changed.flow-meta.xml",
        "Callout_Body.ownerId<",
        "Callout_Body.owner<",
        "what parse reads",
    ),
    (
        "flows/Calsync_Event_Changed.flow-meta.xml",
        "NOT({!$Record.IsChild}) &amp;&amp; ",
        "",
        "IsChild",
    ),
    (
        "flows/Calsync_Event_Changed.flow-meta.xml",
        "Calsync_Webhook.notify</actionName>",
        "Calsync_Hook.notify</actionName>",
        "the action must be one of",
    ),
    (
        "externalCredentials/Calsync_Flow.externalCredential-meta.xml",
        "/salesforce_webhook</parameterValue>",
        "/webhook</parameterValue>",
        "JWT aud",
    ),
    (
        "externalCredentials/Calsync_Flow.externalCredential-meta.xml",
        "<parameterValue>calsync-flow</parameterValue>",
        "<parameterValue>flow</parameterValue>",
        "JWT sub",
    ),
    (
        "externalCredentials/Calsync_Flow.externalCredential-meta.xml",
        "86400 + 120",
        "86400 + 3600",
        "JWT exp",
    ),
    (
        "externalCredentials/Calsync_Flow.externalCredential-meta.xml",
        "<certificate>calsync_flow</certificate>",
        "<certificate>other</certificate>",
        "signing certificate",
    ),
    (
        "namedCredentials/Calsync_Webhook.namedCredential-meta.xml",
        "<generateAuthorizationHeader>true",
        "<generateAuthorizationHeader>false",
        "Authorization",
    ),
    (
        "namedCredentials/Calsync_Webhook.namedCredential-meta.xml",
        "<externalCredential>Calsync_Flow<",
        "<externalCredential>Other<",
        "External Credential",
    ),
    (
        "externalServiceRegistrations/Calsync_Webhook.externalServiceRegistration-meta.xml",
        '"lastModifiedById": {',
        '"modifiedBy": {',
        "body schema",
    ),
    (
        "permissionsets/Calsync_Flow_Callout.permissionset-meta.xml",
        "Calsync_Flow - calsync",
        "Calsync_Flow - someone",
        "grant the principal",
    ),
    ("permissionsets/Calsync_Flow_Callout.permissionset-meta.xml", "<label>", "<labl>", "labl"),
]


@pytest.mark.parametrize("relative,old,new,said", BREAKS, ids=[b[3] for b in BREAKS])
def test_a_broken_file_fails_the_check(
    tmp_path: Path, relative: str, old: str, new: str, said: str
):
    copy = tmp_path / "salesforce"
    shutil.copytree(PROJECT, copy)
    path = copy / "force-app/main/default" / relative
    text = path.read_text()
    assert old in text, (relative, old)
    path.write_text(text.replace(old, new, 1))
    problems = check(copy)
    assert any(said in p for p in problems), problems


def test_a_placeholder_without_its_replacement_fails_the_check(tmp_path: Path):
    copy = tmp_path / "salesforce"
    shutil.copytree(PROJECT, copy)
    sfdx = json.loads((copy / "sfdx-project.json").read_text())
    sfdx["replacements"] = [
        r for r in sfdx["replacements"] if "namedCredentials" not in r["filename"]
    ]
    (copy / "sfdx-project.json").write_text(json.dumps(sfdx))
    assert any("CALSYNC_FUNCTIONS_URL" in p for p in check(copy))
