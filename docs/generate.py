"""Regenerate the README's tables from their catalogues: `python -m docs.generate` (or `make docs`).

tests/test_readme.py fails when the README and a catalogue disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from core.issues import render_markdown
from core.settings import markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"
SECTIONS = {"settings": markdown_table, "issues": lambda: render_markdown().strip()}


def render(text: str) -> str:
    for marker, table in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(\n<!-- {marker}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md lacks the <!-- {marker}:start/end --> markers")
        text = pattern.sub(lambda m, t=table: m.group(1) + t() + m.group(2), text)
    return text


def main() -> int:
    README.write_text(render(README.read_text()))
    print(f"regenerated the tables of {README.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
