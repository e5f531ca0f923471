"""Regenerate the README's tables from their catalogues: `python -m docs.generate` (or `make docs`).

tests/test_readme.py fails when the README and a catalogue disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from core.issues import render_markdown
from core.settings import markdown_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ISSUES = ROOT / "docs" / "issues.md"
SECTIONS = {"settings": markdown_table, "issues": lambda: render_markdown().strip()}
# Which generated tables each document carries.
DOCUMENTS = {README: ("settings", "issues"), ISSUES: ("issues",)}


def render(
    text: str, markers: tuple[str, ...] = ("settings", "issues"), name: str = "README.md"
) -> str:
    for marker in markers:
        table = SECTIONS[marker]
        pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(\n<!-- {marker}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{name} lacks the <!-- {marker}:start/end --> markers")
        text = pattern.sub(lambda m, t=table: m.group(1) + t() + m.group(2), text)
    return text


def main() -> int:
    for path, markers in DOCUMENTS.items():
        path.write_text(render(path.read_text(), markers, path.name))
        print(f"regenerated the tables of {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
