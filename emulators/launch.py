"""Start a local server as a child process in its own process group, wait until it is ready, stop it.

Used by the test fixtures and by `scripts/stack.py`. A server is "ready" when it prints a line that
starts with `ready ` (our emulators) or when its TCP port accepts connections (gcloud's).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class LaunchError(RuntimeError):
    """A server did not start; the message says which and shows the end of its log."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Server:
    """A started server: its process, its log file and, once known, its ready line."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_line: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the whole process group (gcloud's wrapper leaves Java behind otherwise)."""
        stop_group(self.process.pid, timeout)
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


def stop_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL what is left after `timeout`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        # reap our own child if it is one, so killpg(0) stops seeing a zombie leader
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start(
    name: str,
    argv: list[str],
    log_path: Path,
    *,
    ready_port: int | None = None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Server:
    """Start `argv` in a new session with output to `log_path`, and wait until it is ready.

    With `ready_port` the server is ready once the port accepts connections; otherwise once its
    log has a line starting with `ready `. Raises LaunchError (after stopping it) when the process
    exits or `timeout` passes first; never waits forever.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - the child keeps writing after we return
    try:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise LaunchError(f"{name}: cannot run {argv[0]!r} ({exc.strerror})") from exc
    finally:
        log.close()
    server = Server(name=name, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LaunchError(
                f"{name} exited with status {process.returncode} before it was ready:\n"
                f"{server.log_tail()}"
            )
        if ready_port is not None:
            if port_open(ready_port):
                return server
        else:
            for line in log_path.read_text(errors="replace").splitlines():
                if line.startswith("ready "):
                    server.ready_line = line.strip()
                    return server
        time.sleep(0.05)
    server.stop()
    raise LaunchError(f"{name} was not ready after {timeout:.0f} s:\n{server.log_tail()}")


def process_identity(pid: int) -> str | None:
    """What tells this process from a later one that reuses its pid: its start time (from
    /proc, else from `ps`). None when no such process runs (zombies count as gone)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return None
        return None if fields[0] == "Z" else f"start {fields[19]}"
    done = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True)
    started = done.stdout.strip()
    return f"start {started}" if done.returncode == 0 and started else None
