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
