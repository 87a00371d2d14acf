"""The shipped unit file: a second SSRF layer in the kernel, and a sandbox score that does not slip."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "newswatch.service"
_NAMED = {"link-local": ["169.254.0.0/16", "fe80::/64"], "multicast": ["224.0.0.0/4", "ff00::/8"],
          "localhost": ["127.0.0.0/8", "::1/128"], "any": ["0.0.0.0/0", "::/0"]}


def _directives(name: str) -> list[str]:
    values: list[str] = []
    for line in UNIT.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            values += value.split()
    return values


def _denied() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n) for v in _directives("IPAddressDeny") for n in _NAMED.get(v, [v])]


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.0.1", "fd00:ec2::254", "fe80::1",
                                     "100.100.100.200", "192.0.0.192", "224.0.0.251"])
def test_metadata_and_link_local_addresses_are_denied(address: str) -> None:
    """Defect 8's second layer: even a fetcher bug cannot reach the cloud metadata service."""
    ip = ipaddress.ip_address(address)
    assert any(ip in net for net in _denied()), _directives("IPAddressDeny")


def test_loopback_and_private_networks_stay_reachable() -> None:
    """PostgreSQL, SMTP and notifier endpoints live on them; the fetcher refuses them for feeds itself."""
    for address in ("127.0.0.1", "::1", "10.0.0.5", "192.168.1.10"):
        assert not any(ipaddress.ip_address(address) in net for net in _denied())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_security_exposure_stays_at_or_below_1_2() -> None:
    proc = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)],
                          capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout + proc.stderr)
    if m is None:
        pytest.skip(f"systemd-analyze cannot score units offline here: {proc.stderr.strip()[:200]}")
    assert float(m.group(1)) <= 1.2, proc.stdout
