"""The daemon's health as an administrator meets it: journald priorities, one line when every
feed fails, and Prometheus scraping `/metrics` and `/healthz` of the running daemon on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.helpers import CLI, TEST_TOPIC, Daemon, env, rss, write_config
from tests.support.server import LoopbackServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JournaldDaemon(Daemon):
    """`newswatch run` with stderr on a file that `$JOURNAL_STREAM` names, as systemd sets it up."""

    def __init__(self, tmp: Path, cfg: Path) -> None:
        self.log = tmp / "journal.log"
        stream = self.log.open("w")
        st = os.fstat(stream.fileno())
        e = env(tmp) | {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        self.proc = subprocess.Popen([*CLI, "run", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                                     stderr=stream, env=e, cwd=tmp)
        stream.close()


def _wait(check, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_every_feed_failing_is_said_once_with_what_to_check(tmp_path: Path, server: LoopbackServer,
                                                             daemons) -> None:
    server.route("/a.xml", "down", status=503)
    cfg = write_config(tmp_path, [
        {"name": "a", "url": server.url("/a.xml")},
        {"name": "b", "url": f"http://127.0.0.1:{_free_port()}/b.xml"},  # nothing listens there
    ], schedule='max_interval = "1s"')
    d = JournaldDaemon(tmp_path, cfg)
    daemons.append(d)
    _wait(lambda: server.hits("/a.xml") >= 4)  # several rounds, all failing
    rules = tmp_path / "config" / "rules" / "test.toml"
    rules.write_text(TEST_TOPIC.replace("query = '", "query = '(( "), encoding="utf-8")
    d.proc.send_signal(signal.SIGHUP)  # a rules error with its caret, under journald
    d.wait_for("event=reload.refused")
    server.route("/a.xml", rss([]), content_type="application/rss+xml")
    d.wait_for("event=feeds.recovered")
    rc, _ = d.stop()
    assert rc == 0
    lines = d.logs().splitlines()
    summary = [line for line in lines if "event=feeds.all_failing" in line]
    assert len(summary) == 1, summary  # one line, not one per round
    assert summary[0].startswith("<4>level=warning ") and "feeds=2" in summary[0]
    assert "check DNS" in summary[0] and "HTTPS_PROXY" in summary[0]
    assert sum("event=feed.failed feed=a" in line for line in lines) >= 3
    # every line carries its syslog priority, for `journalctl -p warning`
    assert lines and all(line[:3] in ("<3>", "<4>", "<6>") for line in lines), lines[:5]
    assert any(line.startswith("<6>level=info ") and "event=daemon.started" in line for line in lines)
    refused = next(i for i, line in enumerate(lines) if "event=reload.refused" in line)
    assert lines[refused].startswith("<3>level=error ") and "\\n" not in lines[refused]
    source, caret = lines[refused + 1], lines[refused + 2]  # the query line, then the caret under it
    assert source.startswith("<3>  | ") and "((" in source
    assert caret.startswith("<3>  | ") and caret.rstrip().endswith("^")
    assert "Traceback" not in d.logs()


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the scrape:\n{text[:2000]}")


def test_prometheus_scrapes_the_running_daemon(tmp_path: Path, server: LoopbackServer, daemons) -> None:
    server.route("/good.xml", rss([]), content_type="application/rss+xml")
    server.route("/bad.xml", "oops", status=500)
    port = _free_port()
    cfg = write_config(tmp_path, [{"name": "good", "url": server.url("/good.xml")},
                                  {"name": "bad", "url": server.url("/bad.xml")}],
                       schedule='max_interval = "1s"', extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    d = Daemon(tmp_path, cfg)
    daemons.append(d)
    d.wait_for("event=metrics.listening")
    _wait(lambda: server.hits("/good.xml") >= 2 and server.hits("/bad.xml") >= 2)
    base = f"http://127.0.0.1:{port}"
    scrape = httpx.get(f"{base}/metrics", headers={"Accept": "text/plain"}, timeout=5)
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    assert _sample(text, 'newswatch_poll_duration_seconds_count{outcome="ok"}') >= 1
    assert _sample(text, 'newswatch_poll_duration_seconds_count{outcome="failed"}') >= 2
    assert _sample(text, 'newswatch_poll_duration_seconds_bucket{le="+Inf",outcome="failed"}') >= 2
    assert _sample(text, 'newswatch_feeds{state="failing"}') == 1
    assert _sample(text, 'newswatch_feeds{state="ok"}') == 1
    assert _sample(text, "newswatch_all_feeds_failing") == 0
    assert _sample(text, 'newswatch_notifications_total{outcome="sent"}') == 0
    assert _sample(text, "process_resident_memory_bytes") > 0
    assert _sample(text, "process_start_time_seconds") > 0
    assert "# TYPE newswatch_poll_duration_seconds histogram" in text
    gzipped = httpx.get(f"{base}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert gzipped.headers.get("content-encoding") == "gzip" and "process_cpu_seconds_total" in gzipped.text

    health = httpx.get(f"{base}/healthz", timeout=5)
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["scheduler"] == "ticking"
    assert body["feeds"]["failing"] == 1 and body["all_feeds_failing"] is False
    assert httpx.get(f"{base}/nope", timeout=5).status_code == 404
    assert httpx.post(f"{base}/metrics", timeout=5).status_code == 405

    rc, _ = d.stop()
    assert rc == 0
    # the port is free again once the daemon stopped (closed connections may linger in TIME_WAIT)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
    assert "Traceback" not in d.logs()


def test_a_busy_metrics_port_is_logged_and_polling_goes_on(tmp_path: Path, server: LoopbackServer,
                                                           daemons) -> None:
    server.route("/a.xml", rss([]), content_type="application/rss+xml")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = write_config(tmp_path, [{"name": "a", "url": server.url("/a.xml")}],
                           extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        d = Daemon(tmp_path, cfg)
        daemons.append(d)
        d.wait_for("event=metrics.unavailable")
        d.wait_for("event=feed.polled feed=a")
        rc, _ = d.stop()
    assert rc == 0
    line = next(line for line in d.logs().splitlines() if "metrics.unavailable" in line)
    assert "level=error" in line and f"listen=127.0.0.1:{port}" in line and "in use" in line
    assert "Traceback" not in d.logs()


def test_metrics_listen_is_checked(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [], extra='[metrics]\nlisten = "9108"\n')
    res = subprocess.run([*CLI, "check", "--config", str(cfg)], capture_output=True, text=True,
                         env=env(tmp_path), cwd=tmp_path, timeout=60)
    assert res.returncode == 2
    assert "metrics.listen" in res.stderr and "HOST:PORT" in res.stderr and "Traceback" not in res.stderr
    assert json.dumps("9108") in res.stderr or "'9108'" in res.stderr
