"""core/ is pure: stdlib, core itself and dateutil only; it never reads the clock (STYLE, issue 5)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
MODULES = sorted(CORE.glob("*.py"))
ALLOWED = set(sys.stdlib_module_names) | {"core", "dateutil"}
CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("datetime", "today"),
         ("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "time_ns")}  # fmt: skip


def _imports(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_imports_only_stdlib_core_and_dateutil(path):
    bad = [name for name in _imports(ast.parse(path.read_text())) if name not in ALLOWED]
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_never_reads_the_clock(path):
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        if (name, node.attr) in CLOCK:
            calls.append(f"{name}.{node.attr}")
    assert not calls, f"{path.name} reads the clock: {calls}"


def test_checker_sees_violations():
    tree = ast.parse("import requests\nfrom google.cloud import firestore\nimport datetime\n")
    assert [n for n in _imports(tree) if n not in ALLOWED] == ["requests", "google"]
