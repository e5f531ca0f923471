"""The README tells the truth: its settings table is the catalogue's, its commands exist."""

import re
from pathlib import Path

from core.settings import markdown_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def between(marker: str) -> str:
    match = re.search(rf"<!-- {marker}:start -->\n(.*?)\n<!-- {marker}:end -->", README, re.S)
    assert match, f"README lacks the {marker} markers"
    return match.group(1).strip()


def test_settings_table_matches_the_catalogue():
    assert between("settings") == markdown_table()


def test_make_targets_in_the_readme_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z]+):", makefile, re.M))
    mentioned = set(re.findall(r"\bmake ([a-z]+)", README))
    assert {"demo", "test", "up", "down", "bench"} <= mentioned
    assert mentioned <= targets
