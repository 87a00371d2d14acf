"""Finding a running daemon and asking it to reload, for the commands that edit its config.

`newswatch run` writes its pid to `newswatch.pid` in the data directory; under
systemd the service manager knows the main pid. A reload is SIGHUP, the same as
`systemctl reload newswatch`: the daemon re-reads config and rules and keeps the
old ones if the new are invalid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from ..settings import data_dir

__all__ = ["PID_FILE", "pid_file", "pid_file_written", "reload_daemon", "running_daemon"]

PID_FILE = "newswatch.pid"
SYSTEMD_UNIT = "newswatch.service"


def pid_file() -> Path:
    return data_dir() / PID_FILE


@contextlib.contextmanager
def pid_file_written() -> Iterator[Path]:
    """Write this process's pid for as long as the daemon runs; removed on the way out."""
    path = pid_file()
    path.write_text(f"{os.getpid()}\n", encoding="ascii")
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            if path.read_text(encoding="ascii").strip() == str(os.getpid()):
                path.unlink()


def _is_daemon(pid: int) -> bool:
    """Whether `pid` is alive and a `newswatch run` (a stale file may name a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"run" in cmdline and any(b"newswatch" in part or b"crawler.cli" in part for part in cmdline)


def _from_pid_file() -> int | None:
    try:
        pid = int(pid_file().read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and _is_daemon(pid) else None


def _from_systemd() -> int | None:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return None
    try:
        done = subprocess.run([systemctl, "show", "--property=MainPID", "--value", SYSTEMD_UNIT],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        pid = int(done.stdout.strip() or 0)
    except ValueError:
        return None
    return pid if pid > 0 else None


def running_daemon() -> int | None:
    """The pid of the daemon using this data directory, else systemd's newswatch.service."""
    return _from_pid_file() or _from_systemd()


def reload_daemon() -> str:
    """Send SIGHUP to the running daemon; a sentence saying what happened, for the user."""
    pid = running_daemon()
    if pid is None:
        return "No running daemon found: the change applies when it starts."
    try:
        os.kill(pid, signal.SIGHUP)
    except PermissionError:
        return (f"The daemon (pid {pid}) is not yours to signal: run `sudo systemctl reload newswatch` "
                "(it also notices the edited file by itself).")
    except ProcessLookupError:
        return "No running daemon found: the change applies when it starts."
    return f"Asked the running daemon (pid {pid}) to reload."
