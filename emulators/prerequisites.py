"""The tools the local stack needs besides Python packages: Java 17+ and the Google Cloud CLI
(for the Firestore emulator). Standard library only, so that `make` can run it with the system
Python before it spends half a minute installing the virtualenvs (F15 of the newcomer trial).

    python3 emulators/prerequisites.py    # exit 0, or 1 with what to install
"""

from __future__ import annotations

import shutil
import sys


class MissingTool(SystemExit):
    """A prerequisite is not installed: the message says what to install."""

    def __init__(self, message: str):
        super().__init__(f"error: {message}")


def check_tools() -> None:
    if shutil.which("java") is None:
        raise MissingTool(
            "Java 17+ is not installed; the Firestore emulator needs it "
            "(Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`; macOS: "
            "`brew install openjdk@17`)"
        )
    if shutil.which("gcloud") is None:
        raise MissingTool(
            "the Google Cloud CLI (gcloud) is not installed; install it "
            "(https://cloud.google.com/sdk/docs/install) and its Firestore emulator "
            "(`gcloud components install cloud-firestore-emulator`, or the Debian package "
            "google-cloud-cli-firestore-emulator)"
        )


if __name__ == "__main__":
    check_tools()
    sys.exit(0)
