"""The README tells the truth: its tables are the catalogues' (settings, issue codes), its commands exist."""

import re
from pathlib import Path

from docs.generate import README, render

ROOT = Path(__file__).resolve().parents[1]


def test_tables_match_the_catalogues():
    """R-31: the issue codes table follows core/issues.py; the settings table core/settings.py."""
    text = README.read_text()
    assert text == render(text), "run `make docs` to regenerate the README's tables"


def test_make_targets_in_the_readme_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z]+):", makefile, re.M))
    mentioned = set(re.findall(r"\bmake ([a-z]+)", README.read_text()))
    assert {"demo", "test", "up", "down", "bench"} <= mentioned
    assert mentioned <= targets


def test_every_rule_id_cited_anywhere_is_stated_in_docs_rules():
    """F5 of the newcomer trial: each R-xx of the README, docs, code and tests can be looked up."""
    rules = (ROOT / "docs" / "rules.md").read_text()
    stated = set(re.findall(r"^- \*\*(R-\d\d[a-z]?)\*\*", rules, re.M))
    assert stated >= {f"R-{n:02d}" for n in range(1, 40)} | {"R-13a"}
    cited: dict[str, str] = {}
    for path in [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("[bcfiet]*/**/*.py")]:
        if ".venv" in path.parts:
            continue
        for rule in re.findall(r"\bR-\d\d[a-z]?\b", path.read_text()):
            cited.setdefault(rule, str(path.relative_to(ROOT)))
    unknown = {rule: where for rule, where in cited.items() if rule not in stated}
    assert unknown == {}
    assert "docs/rules.md" in README.read_text()


def test_the_readme_promises_only_what_is_built():
    first = README.read_text().split("\n\n")[1]
    assert "Planned, not built yet" in first
    for planned in ("down-sync", "sidebar", "dashboard", "backfill"):
        assert planned in first.split("Planned, not built yet", 1)[1]
