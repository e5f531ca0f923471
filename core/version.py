"""calsync's version: one constant, printed by `python main.py --version`, answered by `status`,
and the first entry of CHANGELOG.md (a test keeps the two equal)."""

VERSION = "0.1.0"
