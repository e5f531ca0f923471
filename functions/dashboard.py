"""`dashboard`: placeholder while it is being built."""

from typing import Any


def dashboard(request: Any) -> tuple[str, int, dict[str, str]]:
    return "", 404, {}
