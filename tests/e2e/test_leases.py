"""Leases: a daemon killed mid-poll holds nothing once it is gone (issue 11, defect 1).

A real daemon is SIGKILLed while every feed's request is in flight (the server answers
slowly), then a new one starts at once: it must poll every feed again within seconds,
not wait out the dead process's leases. And `poll --once` says which feeds it skipped
because a live instance holds them.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tests.e2e.helpers import Daemon, newswatch, rss, write_config
from tests.support.server import LoopbackServer, RecordedRequest, Response

FEEDS = 4
SLOW = 20.0
"""How long the first answer of each feed takes: far longer than the test waits for a restart."""


def _slow_then_fast(server: LoopbackServer) -> None:
    """Each feed answers its first request slowly (a poll in flight) and later ones at once."""
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def fn(req: RecordedRequest) -> Response:
        with lock:
            seen[req.path] = seen.get(req.path, 0) + 1
            first = seen[req.path] == 1
        body = rss([{"title": f"Story of {req.path}", "link": server.url(f"/story{req.path}")}]).encode()
        return Response(200, body, {"Content-Type": "application/rss+xml"}, delay=SLOW if first else 0.0)

    for i in range(FEEDS):
        server.handler(f"/f{i}.xml", fn)
        server.route(f"/story/f{i}.xml", "<html><body><article><p>Nothing to flag.</p></article></body></html>")


def _config(tmp: Path, server: LoopbackServer, storage_url: str) -> Path:
    cfg = write_config(tmp, [{"name": f"f{i}", "url": server.url(f"/f{i}.xml"), "interval": "1h"}
                             for i in range(FEEDS)])
    text = cfg.read_text().replace('timeout = "3s"', 'timeout = "60s"')
    cfg.write_text(text.replace(f"sqlite:///{tmp / 'newswatch.db'}", storage_url))
    return cfg


def _wait_requests(server: LoopbackServer, n: int, timeout: float) -> float:
    """Wait until every feed has had `n` requests; return the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if all(len(server.requests_for(f"/f{i}.xml")) >= n for i in range(FEEDS)):
            return time.monotonic() - start
        time.sleep(0.05)
    got = {i: len(server.requests_for(f"/f{i}.xml")) for i in range(FEEDS)}
    raise AssertionError(f"not every feed had {n} requests within {timeout}s: {got}")


def test_a_daemon_restarted_after_sigkill_polls_every_feed_again_at_once(
        tmp_path: Path, server: LoopbackServer, store_url: str, daemons) -> None:
    _slow_then_fast(server)
    cfg = _config(tmp_path, server, store_url)
    first = Daemon(tmp_path, cfg)
    daemons.append(first)
    _wait_requests(server, 1, timeout=30)  # every feed's poll is in flight, its lease held
    first.kill()  # SIGKILL: no release, no record of the polls

    second = Daemon(tmp_path, cfg)
    daemons.append(second)
    took = _wait_requests(server, 2, timeout=15)
    second.wait_for("event=leases.reclaimed")
    for i in range(FEEDS):
        second.wait_for(f"event=feed.polled feed=f{i} ", timeout=10)
    assert took < 15


def test_poll_once_names_the_feeds_another_instance_holds(tmp_path: Path, server: LoopbackServer,
                                                          sqlite_url: str, daemons) -> None:
    _slow_then_fast(server)
    cfg = _config(tmp_path, server, sqlite_url)
    live = Daemon(tmp_path, cfg)
    daemons.append(live)
    _wait_requests(server, 1, timeout=30)

    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
    assert res.returncode == 0, res.stderr
    reports = {r["feed"]: r for r in json.loads(res.stdout)}
    assert set(reports) == {f"f{i}" for i in range(FEEDS)}
    assert all(r["held_by"] and str(live.proc.pid) in r["held_by"] for r in reports.values()), reports
    plain = newswatch(tmp_path, "poll", "--once", "--config", str(cfg))
    assert plain.returncode == 0, plain.stderr
    assert "Skipped 4 feeds another instance is polling: f0, f1, f2, f3." in " ".join(plain.stdout.split())

    live.kill()  # its leases die with it: the next pass polls every feed
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
    assert res.returncode == 0, res.stderr
    reports = {r["feed"]: r for r in json.loads(res.stdout)}
    assert all(r["ok"] and not r["held_by"] for r in reports.values()), reports
