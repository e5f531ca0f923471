"""A stand-in for `terraform validate` where the provider registry cannot be reached.

    python -m tools.terraform_schema fetch DEST     # npm pack the pinned cdktf packages, keep schemas
    python -m tools.terraform_schema check DIR DEST # check DIR/*.tf against them

`fetch` takes each provider's schema from cdktf's prebuilt package on npm (its `.jsii` file lists
every resource and data source with its arguments, blocks and exported attributes, generated from
the provider's own schema) and keeps a compact JSON per provider under DEST.

`check` parses every `.tf` file with python-hcl2 and reports what `terraform validate` would:
unknown resource and data source types, unknown arguments and blocks (at every depth, `dynamic`
blocks included), missing required arguments and blocks, a single block given twice, provider
configuration arguments, and references to resources, data sources, variables and locals that are
not declared or to attributes their type does not export. It does not evaluate expressions nor
check value types.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PINS = Path(__file__).with_name("terraform_providers.json")
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle"}
META_BLOCKS = {"lifecycle", "provisioner", "connection", "dynamic"}
# Built into Terraform itself (no provider package): terraform_data's schema, from the docs.
BUILTIN_RESOURCES = {
    "terraform_data": {
        "arguments": {"input": False, "triggers_replace": False},
        "blocks": {},
        "outputs": {"id": None, "input": None, "output": None, "triggers_replace": None},
    }
}
_LINK = re.compile(r"\{@link \S+/docs/(resources|data-sources)/\S+ (\w+)\}")
_ANCHOR = re.compile(r"#(\w+) \w+#\w+\}")


# --- fetching -------------------------------------------------------------------------------


class FetchError(RuntimeError):
    pass


def pins() -> dict[str, dict[str, str]]:
    return dict(json.loads(PINS.read_text())["providers"])


def fetch(dest: Path) -> list[Path]:
    """Download each pinned package with npm, check its integrity, keep its compact schema."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(
            "npm is not installed; the Terraform schema check needs it to download the provider "
            "schemas (Debian/Ubuntu: `apt-get install npm`, or Node.js from nodejs.org)"
        )
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, pin in pins().items():
        target = dest / f"{name}.json"
        if target.exists() and json.loads(target.read_text()).get("npm") == pin["npm"]:
            written.append(target)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [npm, "pack", pin["npm"], "--silent", "--pack-destination", tmp],
                capture_output=True,
                text=True,
                timeout=600,
            )
            tarballs = list(Path(tmp).glob("*.tgz"))
            if done.returncode != 0 or len(tarballs) != 1:
                raise FetchError(f"npm pack {pin['npm']} failed: {done.stderr.strip()[-500:]}")
            data = tarballs[0].read_bytes()
            digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
            if digest != pin["integrity"]:
                raise FetchError(f"{pin['npm']}: integrity {digest} is not the pinned one")
            with tarfile.open(tarballs[0]) as archive:
                member = archive.extractfile("package/.jsii")
                if member is None:
                    raise FetchError(f"{pin['npm']} has no .jsii file")
                assembly = json.load(member)
        schema = {"npm": pin["npm"], "version": pin["version"], **convert(assembly)}
        target.write_text(json.dumps(schema, sort_keys=True))
        written.append(target)
    return written


# --- the .jsii assembly as a schema -----------------------------------------------------------


def _key(name: str) -> str:
    """Names compared without case and underscores: cdktf's `uniqueId`/`crc32C` are Terraform's
    `unique_id`/`crc32c`."""
    return name.replace("_", "").lower()


def _tf_name(prop: dict[str, Any]) -> str:
    found = _ANCHOR.search(prop.get("docs", {}).get("remarks", ""))
    if found:
        return found.group(1)
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", prop["name"]).lower()


def _struct_of(type_: dict[str, Any]) -> tuple[str, bool] | None:
    """(fqn, is_list) when a config property is a nested block, None for an argument."""
    if "fqn" in type_ and not type_["fqn"].startswith("cdktf."):
        return type_["fqn"], False
    if "union" in type_:
        for member in type_["union"]["types"]:
            found = _struct_of(member)
            if found:
                return found[0], True
    collection = type_.get("collection")
    if collection and collection.get("kind") == "array":
        inner = _struct_of(collection["elementtype"])
        if inner:
            return inner[0], True
    return None


class _Assembly:
    def __init__(self, assembly: dict[str, Any]):
        self.types: dict[str, Any] = assembly["types"]

    def block(self, fqn: str, depth: int = 0) -> dict[str, Any]:
        arguments: dict[str, bool] = {}
        blocks: dict[str, Any] = {}
        for prop in self.types[fqn].get("properties", []):
            name = _tf_name(prop)
            required = not prop.get("optional", False)
            nested = _struct_of(prop["type"])
            if nested and depth < 12:
                blocks[name] = {
                    "list": nested[1],
                    "required": required,
                    "block": self.block(nested[0], depth + 1),
                }
            else:
                arguments[name] = required
        return {"arguments": arguments, "blocks": blocks}

    def outputs(self, fqn: str, depth: int = 0) -> dict[str, Any]:
        """Exported attributes of a resource class or an OutputReference: name -> nested or None."""
        out: dict[str, Any] = {}
        for prop in self.types[fqn].get("properties", []):
            name = prop["name"]
            if prop.get("static") or name.endswith("Input") or name in {"internalValue"}:
                continue
            nested = self._output_type(prop["type"])
            out[_key(name)] = self.outputs(nested, depth + 1) if nested and depth < 12 else None
        return out

    def _output_type(self, type_: dict[str, Any]) -> str | None:
        fqn = type_.get("fqn", "")
        if not fqn or fqn.startswith("cdktf."):
            return None
        kind = self.types.get(fqn, {})
        for method in kind.get("methods", []):
            if method["name"] == "get" and "returns" in method:  # a ComplexList: get(index)
                return str(method["returns"]["type"]["fqn"])
        return fqn if kind.get("kind") == "class" else None


def convert(assembly: dict[str, Any]) -> dict[str, Any]:
    types = _Assembly(assembly)
    resources: dict[str, Any] = {}
    data_sources: dict[str, Any] = {}
    provider: dict[str, Any] = {"arguments": {}, "blocks": {}}
    for fqn, kind in types.types.items():
        base = kind.get("base")
        config = kind.get("initializer", {}).get("parameters", [{}])[-1].get("type", {}).get("fqn")
        if base == "cdktf.TerraformProvider" and config:
            provider = types.block(config)
            continue
        if base not in {"cdktf.TerraformResource", "cdktf.TerraformDataSource"} or not config:
            continue
        link = _LINK.search(kind.get("initializer", {}).get("docs", {}).get("summary", ""))
        if not link:
            continue
        schema = {**types.block(config), "outputs": types.outputs(fqn)}
        (resources if link.group(1) == "resources" else data_sources)[link.group(2)] = schema
    return {"provider": provider, "resources": resources, "data_sources": data_sources}


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _body_keys(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in body.items():
        if not key.startswith("__"):
            yield key, value


class Schemas:
    def __init__(self, directory: Path):
        self.resources: dict[str, Any] = dict(BUILTIN_RESOURCES)
        self.data_sources: dict[str, Any] = {}
        self.providers: dict[str, Any] = {}
        for name in pins():
            path = directory / f"{name}.json"
            if not path.exists():
                raise FetchError(
                    f"{path} is missing: `make install` fetches the provider schemas "
                    "(python -m tools.terraform_schema fetch .tools/terraform-schemas)"
                )
            schema = json.loads(path.read_text())
            self.resources.update(schema["resources"])
            self.data_sources.update(schema["data_sources"])
            self.providers[name] = schema["provider"]


def load_files(directory: Path) -> dict[str, dict[str, Any]]:
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(with_comments=False)
    return {
        path.name: hcl2.loads(path.read_text(), serialization_options=options)
        for path in sorted(directory.glob("*.tf"))
    }


class Checker:
    def __init__(self, schemas: Schemas, files: dict[str, dict[str, Any]]):
        self.schemas = schemas
        self.files = files
        self.problems: list[Problem] = []
        self.declared = self._declarations()

    def _declarations(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {
            "resource": set(),
            "data": set(),
            "var": set(),
            "local": set(),
        }
        for doc in self.files.values():
            for kind in ("resource", "data"):
                for entry in doc.get(kind, []):
                    for rtype, named in _body_keys(entry):
                        for name, _ in _body_keys(named):
                            found[kind].add(f"{_unquote(rtype)}.{_unquote(name)}")
            for entry in doc.get("variable", []):
                found["var"].update(_unquote(k) for k, _ in _body_keys(entry))
            for entry in doc.get("locals", []):
                found["local"].update(k for k, _ in _body_keys(entry))
        return found

    def run(self) -> list[Problem]:
        for file, doc in self.files.items():
            for entry in doc.get("resource", []):
                for rtype, named in _body_keys(entry):
                    for name, body in _body_keys(named):
                        self._resource(file, "resource", _unquote(rtype), _unquote(name), body)
            for entry in doc.get("data", []):
                for rtype, named in _body_keys(entry):
                    for name, body in _body_keys(named):
                        self._resource(file, "data", _unquote(rtype), _unquote(name), body)
            for entry in doc.get("provider", []):
                for name, body in _body_keys(entry):
                    self._provider(file, _unquote(name), body)
            self._references(file, doc)
        return self.problems

    def _add(self, file: str, where: str, message: str) -> None:
        self.problems.append(Problem(file, where, message))

    def _resource(self, file: str, kind: str, rtype: str, name: str, body: Any) -> None:
        table = self.schemas.resources if kind == "resource" else self.schemas.data_sources
        where = f"{'data.' if kind == 'data' else ''}{rtype}.{name}"
        schema = table.get(rtype)
        if schema is None:
            self._add(file, where, f"no {'resource' if kind == 'resource' else 'data source'} "
                      f"type {rtype!r} in the checked providers")  # fmt: skip
            return
        self._block(file, where, schema, body, top=True)

    def _provider(self, file: str, name: str, body: Any) -> None:
        schema = self.schemas.providers.get(name)
        if schema is None:
            self._add(file, f"provider.{name}", f"provider {name!r} is not a checked provider")
            return
        self._block(file, f"provider.{name}", {**schema, "arguments": {
            **{k: False for k in schema["arguments"]}}}, body, top=False)  # fmt: skip

    def _block(self, file: str, where: str, schema: dict[str, Any], body: Any, top: bool) -> None:
        bodies = body if isinstance(body, list) else [body]
        for one in bodies:
            if not isinstance(one, dict):
                continue
            self._one_block(file, where, schema, one, top)

    def _one_block(
        self, file: str, where: str, schema: dict[str, Any], body: dict[str, Any], top: bool
    ) -> None:
        arguments: dict[str, bool] = schema["arguments"]
        blocks: dict[str, Any] = schema["blocks"]
        seen_blocks: dict[str, int] = {}
        for key, value in _body_keys(body):
            if key == "dynamic" and _is_block(value):
                for dyn in value:
                    for label, content in _body_keys(dyn):
                        self._dynamic(file, where, blocks, _unquote(label), content, seen_blocks)
                continue
            if top and (key in META_ARGUMENTS or key in META_BLOCKS):
                continue
            if _is_block(value):
                if key not in blocks:
                    hint = " (it is an argument: write `name = value`)" if key in arguments else ""
                    self._add(file, where, f"unsupported block {key!r}{hint}")
                    continue
                seen_blocks[key] = seen_blocks.get(key, 0) + len(value)
                self._block(file, f"{where}.{key}", blocks[key]["block"], value, top=False)
                continue
            if key not in arguments:
                hint = " (it is a block: write `name { ... }`)" if key in blocks else ""
                self._add(file, where, f"unsupported argument {key!r}{hint}")
        given = {k for k, _ in _body_keys(body)}
        for name, required in arguments.items():
            if required and name not in given and name not in {"id"}:
                self._add(file, where, f"missing required argument {name!r}")
        for name, spec in blocks.items():
            count = seen_blocks.get(name, 0)
            if spec["required"] and count == 0:
                self._add(file, where, f"missing required block {name!r}")
            if not spec["list"] and count > 1:
                self._add(file, where, f"block {name!r} may appear only once")

    def _dynamic(self, file: str, where: str, blocks: dict[str, Any], label: str, content: Any,
                 seen: dict[str, int]) -> None:  # fmt: skip
        if label not in blocks:
            self._add(file, where, f"unsupported block {label!r} (in a dynamic block)")
            return
        seen[label] = seen.get(label, 0) + 1
        for dyn in content if isinstance(content, list) else [content]:
            for inner in dyn.get("content", []) if isinstance(dyn, dict) else []:
                self._block(file, f"{where}.{label}", blocks[label]["block"], inner, top=False)

    # -- references ---------------------------------------------------------------------------

    _REF = re.compile(
        r"(?<![\w.\"])(data\.)?([a-z][a-z0-9_]*)\.([a-z_][a-z0-9_-]*)((?:\[[^\]]*\]|\.[a-z_][a-z0-9_]*)*)"
    )

    def _references(self, file: str, doc: dict[str, Any]) -> None:
        for text in _strings(doc):
            for expr in _interpolations(text):
                self._expression(file, expr)

    def _expression(self, file: str, expr: str) -> None:
        expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals hold no references
        for match in self._REF.finditer(expr):
            data, head, name, rest = match.groups()
            if head in {"each", "count", "path", "self", "terraform", "module"} and not data:
                continue
            if head == "var" and not data:
                if name not in self.declared["var"]:
                    self._add(file, f"var.{name}", "reference to an undeclared variable")
                continue
            if head == "local" and not data:
                if name not in self.declared["local"]:
                    self._add(file, f"local.{name}", "reference to an undeclared local value")
                continue
            kind = "data" if data else "resource"
            table = self.schemas.data_sources if data else self.schemas.resources
            if head not in table:
                if "_" in head or data:  # a resource type; other words are functions' locals
                    self._add(file, f"{data or ''}{head}.{name}", "reference to an unknown type")
                continue
            if f"{head}.{name}" not in self.declared[kind]:
                self._add(file, f"{data or ''}{head}.{name}", f"reference to an undeclared {kind}")
                continue
            self._attribute_path(file, f"{data or ''}{head}.{name}", table[head]["outputs"], rest)

    def _attribute_path(self, file: str, where: str, outputs: Any, rest: str) -> None:
        for step in re.findall(r"\[[^\]]*\]|\.[a-z_][a-z0-9_]*", rest):
            if step.startswith("["):
                continue
            if outputs is None:
                return  # a map or a list of primitives: anything may follow
            key = _key(step[1:])
            if key not in outputs:
                self._add(file, where, f"no attribute {step[1:]!r} on this type")
                return
            outputs = outputs[key]
            where += step


def _interpolations(text: str) -> Iterator[str]:
    """The expressions inside `${...}` (python-hcl2 writes every expression so), braces matched."""
    start = text.find("${")
    while start != -1:
        depth, i = 0, start + 1
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        yield text[start + 2 : i]
        start = text.find("${", i)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _strings(inner)
            if isinstance(key, str) and "${" in key:
                yield key
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def check(directory: Path, schemas_dir: Path) -> list[Problem]:
    return Checker(Schemas(schemas_dir), load_files(directory)).run()


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "fetch":
        try:
            for path in fetch(Path(argv[1])):
                print(f"provider schema: {path}")
        except (FetchError, subprocess.TimeoutExpired) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if len(argv) == 3 and argv[0] == "check":
        try:
            problems = check(Path(argv[1]), Path(argv[2]))
        except FetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
