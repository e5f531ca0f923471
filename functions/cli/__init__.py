"""The admin command line (`python main.py ...`), one module per command group: users,
settings, sync, issues, deletes. `app` holds the parser, the target line and the exit codes."""

from functions.cli.app import main, run

__all__ = ["main", "run"]
