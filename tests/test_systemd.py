import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from crawler.systemd import notify, watchdog_interval


def test_notify_sends_datagram(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert notify("READY=1", "STATUS=ok")
    assert sock.recv(1024) == b"READY=1\nSTATUS=ok"
    assert notify("RELOADING=1")
    assert b"MONOTONIC_USEC=" in sock.recv(1024)
    sock.close()


def test_notify_is_a_noop_outside_systemd(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False


def test_watchdog_interval(monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "120000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 60
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None


# ---- the unit files ---------------------------------------------------------------

UNITS = Path(__file__).resolve().parent.parent / "systemd"
DAEMON, REVIEW = UNITS / "newswatch.service", UNITS / "newswatch-review.service"

# What the review unit may set otherwise than the daemon's: how it starts and stops, and
# the IP address policy (the daemon fetches feeds from anywhere; the review app only answers).
MAY_DIFFER = {"Type", "NotifyAccess", "ExecStartPre", "ExecStart", "ExecReload", "WatchdogSec",
              "User", "IPAddressDeny", "IPAddressAllow", "PrivateMounts"}


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit file, each key with every value it is given (systemd allows repeats)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not key=value: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_review_unit_serves_the_review_app_with_the_daemons_config() -> None:
    daemon, review = unit(DAEMON)["Service"], unit(REVIEW)["Service"]
    start = review["ExecStart"][0].split()
    program, config = daemon["ExecStart"][0].split()[0], daemon["ExecStart"][0].split()[-1]
    assert start[0] == program and start[1] == "serve"
    assert start[start.index("--config") + 1] == config
    assert unit(REVIEW)["Install"]["WantedBy"] == unit(DAEMON)["Install"]["WantedBy"]


def test_review_unit_shares_the_daemons_user_and_state() -> None:
    daemon, review = unit(DAEMON)["Service"], unit(REVIEW)["Service"]
    assert daemon["DynamicUser"] == review["DynamicUser"] == ["yes"]
    # a dynamic user is named after its unit unless User= names it; the same name is one UID
    daemon_user = daemon.get("User", [DAEMON.name.removesuffix(".service")])
    assert review["User"] == daemon_user
    for key in ("StateDirectory", "StateDirectoryMode", "ConfigurationDirectory", "UMask"):
        assert review[key] == daemon[key], key


def test_review_unit_is_sandboxed_like_the_daemon() -> None:
    daemon, review = unit(DAEMON)["Service"], unit(REVIEW)["Service"]
    for key, values in daemon.items():
        if key not in MAY_DIFFER:
            assert review.get(key) == values, f"{key}: review {review.get(key)} != daemon {values}"
    assert review["IPAddressDeny"] == ["any"]  # it only answers on loopback, unless widened


def _exposure(path: Path) -> float:
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)],
                         capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out.stdout)
    assert found, out.stdout + out.stderr
    return float(found.group(1))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("path", [DAEMON, REVIEW], ids=lambda p: p.name)
def test_units_score_at_most_1_5_in_systemd_analyze_security(path: Path) -> None:
    assert _exposure(path) <= 1.5
