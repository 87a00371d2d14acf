"""sd_notify: tell systemd we are ready, reloading, stopping, and alive (watchdog).

The protocol is one datagram to `$NOTIFY_SOCKET`; it is a dozen lines, so we
speak it directly rather than depend on an unmaintained wrapper.
"""

from __future__ import annotations

import os
import socket
import time

__all__ = ["notify", "watchdog_interval"]


def notify(*states: str) -> bool:
    """Send `READY=1`, `RELOADING=1`, `STOPPING=1`, `WATCHDOG=1`, `STATUS=…`; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address[0] == "@":  # abstract namespace socket
        address = "\0" + address[1:]
    payload = "\n".join(states)
    if "RELOADING=1" in states:
        payload += f"\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(payload.encode())
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of `WatchdogSec`), or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2_000_000, 0.5)
    except ValueError:
        return None
