import os
import socket

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
