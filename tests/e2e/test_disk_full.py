"""`newswatch run` on a data dir that fills up, then turns read-only (issue 11).

The test mounts a small tmpfs of its own (root only), keeps the SQLite database on it,
fills it to the last byte while the daemon polls, and later remounts it read-only.
Each time the failure must be logged by feed, everything already stored must stay,
and polling must carry on by itself once the space (or write access) returns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Daemon, page, rss, write_config
from tests.support.server import LoopbackServer, RecordedRequest, Response

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None,
    reason="mounting a small tmpfs for the data dir needs root",
)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "disk"
    where.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(where))
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield where
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _mount("-o", "remount,rw", str(where))
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)


def _fill(disk: Path, leave: int = 0) -> Path:
    """Write a file until the file system has no byte left, then give back `leave` bytes.

    A few pages left free let small writes (claiming a feed, recording a poll) succeed
    while storing an article fails: the failure then belongs to a feed.
    """
    reserve = disk / "reserve"
    reserve.write_bytes(b"\0" * leave)
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    reserve.unlink()
    return filler


def _titles(db: Path, *, immutable: bool = False) -> set[str]:
    """What is stored; `immutable` reads a WAL database on a read-only file system."""
    conn = sqlite3.connect(f"file:{db}?{'immutable=1' if immutable else 'mode=ro'}", uri=True, timeout=10)
    try:
        return {row[0] for row in conn.execute("select title from articles")}
    finally:
        conn.close()


def _wait(daemon: Daemon, what: str, check, timeout: float = 40) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            if check():
                return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout}s: {what}\n{daemon.logs()[-4000:]}")


def test_disk_full_then_read_only_loses_nothing_and_recovers(
    tmp_path: Path, server: LoopbackServer, small_disk: Path
) -> None:
    stories: list[int] = list(range(1, 6))
    lock = threading.Lock()
    text = "\n".join(["A long paragraph of ordinary news text about trade, water and the economy."] * 40)

    def feed(_req: RecordedRequest) -> Response:
        with lock:
            items = [{"title": f"Story {i}", "link": server.url(f"/story/{i}")} for i in stories]
        return Response(200, rss(items).encode(), {"Content-Type": "application/rss+xml"})

    def story(req: RecordedRequest) -> Response:
        n = req.path.rsplit("/", 1)[-1]
        return Response(200, page(f"Story {n}", text).encode(), {"Content-Type": "text/html; charset=utf-8"})

    server.handler("/feed.xml", feed)
    for i in range(1, 40):
        server.handler(f"/story/{i}", story)
    db = small_disk / "newswatch.db"
    cfg = write_config(tmp_path, [{"name": "disk-feed", "url": server.url("/feed.xml")}],
                       schedule='max_interval = "2s"\nlease = "10s"')
    cfg.write_text(cfg.read_text().replace(f"sqlite:///{tmp_path / 'newswatch.db'}", f"sqlite:///{db}"))

    daemon = Daemon(tmp_path, cfg)
    try:
        _wait(daemon, "the first five stories stored", lambda: len(_titles(db)) == 5)
        before = _titles(db)

        # 1. The disk fills up while new stories appear: storing them fails, by feed.
        filler = _fill(small_disk, leave=16384)
        with lock:
            stories.extend(range(6, 11))
        _wait(daemon, "a disk-full failure logged for the feed",
              lambda: any("feed=disk-feed" in line and "disk is full" in line
                          for line in daemon.logs().splitlines()))
        time.sleep(2)  # a few more polls against a full disk
        assert daemon.proc.poll() is None, daemon.logs()[-3000:]
        assert before <= _titles(db)

        # 2. Space returns: polling carries on by itself.
        filler.unlink()
        _wait(daemon, "stories 6-10 stored once space returned", lambda: len(_titles(db)) == 10)

        # 3. Full to the last byte: not even a feed can be claimed; the daemon waits it out.
        filler = _fill(small_disk)
        with lock:
            stories.extend(range(11, 16))
        mark = len(daemon.logs())
        _wait(daemon, "a disk-full failure logged", lambda: "disk is full" in daemon.logs()[mark:])
        time.sleep(2)
        assert daemon.proc.poll() is None, daemon.logs()[-3000:]
        # Logged once, not on every 0.2 s tick: a full disk must not also flood the journal.
        assert daemon.logs()[mark:].count("event=claim.failed") <= 2, daemon.logs()[mark:]
        filler.unlink()
        _wait(daemon, "stories 11-15 stored once space returned", lambda: len(_titles(db)) == 15)
        assert "event=claim.recovered" in daemon.logs()[mark:]

        # 4. The database turns read-only (a remount needs no writer: the daemon is stopped first).
        rc, _ = daemon.stop(timeout=20)
        full_disk_logs = daemon.logs()
        assert rc == 0, full_disk_logs[-3000:]
        assert "Traceback" not in full_disk_logs, full_disk_logs[-5000:]
        _mount("-o", "remount,ro", str(small_disk))
        with lock:
            stories.extend(range(16, 21))
        daemon = Daemon(tmp_path, cfg)
        _wait(daemon, "a clear read-only error",
              lambda: "read-only" in daemon.logs().lower() or "readonly" in daemon.logs())
        time.sleep(3)
        read_only_logs = daemon.logs()
        assert "Traceback" not in read_only_logs, read_only_logs[-3000:]
        # Exit status 1, not 2 (a config error, which the unit's RestartPreventExitStatus= keeps down):
        # systemd restarts it, and the restart below stands for that.
        assert daemon.proc.poll() in (None, 1), read_only_logs[-3000:]
        assert len(_titles(db, immutable=True)) == 15

        # 5. Writable again: the rest arrives (after a restart if the daemon gave up, as systemd does).
        _mount("-o", "remount,rw", str(small_disk))
        if daemon.proc.poll() is not None:
            daemon = Daemon(tmp_path, cfg)
        _wait(daemon, "stories 16-20 stored once writable", lambda: len(_titles(db)) == 20)
        assert _titles(db) == {f"Story {i}" for i in range(1, 21)}
    finally:
        rc, _ = daemon.stop(timeout=20) if daemon.proc.poll() is None else (daemon.proc.returncode, 0)
    logs = daemon.logs()
    assert rc == 0, logs[-3000:]
    assert "Traceback" not in logs, logs[-5000:]
