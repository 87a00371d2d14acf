"""Fault soak: run `newswatch run` against a hostile loopback site and count what goes wrong.

F feeds are polled every second. Every poll of a feed lists the newest articles (the
same stories in several feeds, some with tracking parameters), and the site turns
hostile in rotation: connection resets, responses slower than the timeout, slow drip
under it, 429 and 503 with Retry-After, truncated bodies, undecodable charsets, gzip
and brotli bombs, and pages and feeds nested thousands of levels deep. Article pages
get the same treatment. At the end the site stops misbehaving for a drain period, and
the report says:

* crashes: the daemon exiting on its own, tracebacks in its log, a non-zero exit;
* lost articles: listed by a feed the daemon read, yet never stored;
* duplicated articles: one story stored under more than one row;
* peak (VmHWM) and final RSS of the daemon, and RSS after warm-up.

    .venv/bin/python bench/soak.py                       # 30 minutes, by hand
    .venv/bin/python bench/soak.py --minutes 0.4 --json  # the short run `make test` does
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import brotli

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.helpers import CLI, env, page, rss, write_config  # noqa: E402
from tests.support.server import LoopbackServer, RecordedRequest, Response  # noqa: E402

FEED_FAULTS = ["ok", "reset", "ok", "timeout", "ok", "drip", "429", "ok", "503", "truncated", "ok",
               "charset", "gzip-bomb", "ok", "br-bomb", "deep", "500", "ok"]
"""One fault per poll of a feed, in rotation; "ok" is a well-formed feed."""
PAGE_FAULTS = ["ok", "ok", "reset", "ok", "timeout", "drip", "429", "ok", "truncated", "charset",
               "gzip-bomb", "ok", "br-bomb", "deep", "503", "ok"]
"""Which fault article k's page shows, by k in rotation."""
ARTICLE_KEY = re.compile(r"/a/(\d+)")


def _zeros_compressed(coding: str, megabytes: int) -> bytes:
    """A compression bomb: `megabytes` MB of zeros, compressed piece by piece."""
    if coding == "br":
        c = brotli.Compressor(quality=5)
        return b"".join(c.process(b"\0" * 1_000_000) for _ in range(megabytes)) + c.finish()
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(z.compress(b"\0" * 1_000_000) for _ in range(megabytes)) + z.flush()


class ResetServer:
    """Accepts a connection, reads the request and answers with a TCP reset (SO_LINGER 0)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                conn.settimeout(2)
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            self.count += 1

    def close(self) -> None:
        self.sock.close()


class HostileSite:
    """The feeds and pages, and what was offered to the daemon (to count lost articles)."""

    def __init__(self, server: LoopbackServer, resets: ResetServer, timeout: float) -> None:
        self.server, self.resets, self.timeout = server, resets, timeout
        self.lock = threading.Lock()
        self.polls: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.newest = 0
        self.offered: set[int] = set()
        """Articles listed in a well-formed feed response that was sent whole."""
        self.draining = False
        self.gzip_bomb = _zeros_compressed("gzip", 50)
        self.br_bomb = _zeros_compressed("br", 50)
        self.deep_page = ("<html><body>" + "<div>" * 3000 + "<p>deep</p>" + "</div>" * 3000
                          + "</body></html>").encode()
        self.deep_feed = ('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
                          + "<x>" * 20000 + "</x>" * 20000 + "</channel></rss>").encode()
        self.body = page("Story", "\n".join(["A paragraph of ordinary news text about trade."] * 12))

    def link(self, k: int, feed: int) -> str:
        fault = PAGE_FAULTS[k % len(PAGE_FAULTS)]
        if fault == "reset":
            return f"http://127.0.0.1:{self.resets.port}/a/{k}"
        query = f"?utm_source=f{feed}" if feed % 2 else ""
        self.server.handler(f"/a/{k}", self.article)  # routes are exact paths
        return self.server.url(f"/a/{k}{query}")

    def _count(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def feed(self, req: RecordedRequest) -> Response:
        name = req.path.split("?")[0].strip("/").removesuffix(".xml")
        feed_no = int(name[1:])
        with self.lock:
            n = self.polls[name] = self.polls.get(name, 0) + 1
            if not self.draining:
                self.newest += 1
            newest = self.newest
            fault = "ok" if self.draining else FEED_FAULTS[(n + feed_no) % len(FEED_FAULTS)]
            self._count("feed:" + fault)
        ks = range(max(newest - 20, 0), newest)
        xml = rss([{"title": f"Story {k}", "link": self.link(k, feed_no)} for k in ks]).encode()
        headers = {"Content-Type": "application/rss+xml"}
        if fault == "ok":
            with self.lock:
                self.offered.update(ks)
            return Response(200, xml, headers)
        return self._fault(fault, xml, headers, deep=self.deep_feed)

    def article(self, req: RecordedRequest) -> Response:
        m = ARTICLE_KEY.search(req.path)
        k = int(m.group(1)) if m else 0
        fault = PAGE_FAULTS[k % len(PAGE_FAULTS)]
        with self.lock:
            self._count("page:" + fault)
        headers = {"Content-Type": "text/html; charset=utf-8"}
        body = self.body.replace("Story", f"Story {k}").encode()
        return Response(200, body, headers) if fault == "ok" else self._fault(fault, body, headers,
                                                                             deep=self.deep_page)

    def _fault(self, fault: str, body: bytes, headers: dict[str, str], *, deep: bytes) -> Response:
        if fault == "timeout":
            return Response(200, body, headers, delay=self.timeout + 2)
        if fault == "drip":
            return Response(200, body, {**headers, "Transfer-Encoding": "chunked"}, delay=self.timeout / 3)
        if fault in ("429", "503"):
            return Response(int(fault), b"slow down", {"Retry-After": "1"})
        if fault == "500":
            return Response(500, b"<html>not a feed</html>", {"Content-Type": "text/html"})
        if fault == "truncated":
            return Response(200, body[: len(body) // 2], {**headers, "Content-Length": str(len(body))})
        if fault == "charset":
            bad = body.replace(b"utf-8", b"x-no-such-charset").replace(b"UTF-8", b"x-no-such-charset")
            return Response(200, bad + b"\xff\xfe\xc3(\xa0\xa1",
                            {"Content-Type": "text/xml; charset=x-no-such-charset"})
        if fault == "gzip-bomb":
            return Response(200, self.gzip_bomb, {**headers, "Content-Encoding": "gzip"})
        if fault == "br-bomb":
            return Response(200, self.br_bomb, {**headers, "Content-Encoding": "br"})
        if fault == "deep":
            return Response(200, gzip.compress(deep), {**headers, "Content-Encoding": "gzip"})
        if fault == "reset":
            return Response(302, b"", {"Location": f"http://127.0.0.1:{self.resets.port}/reset"})
        raise ValueError(fault)


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process: its resident memory now and at its peak."""
    values = {"VmRSS": 0, "VmHWM": 0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in values:
                values[key] = int(line.split()[1])
    return values["VmRSS"], values["VmHWM"]


def stored(db: Path) -> tuple[dict[int, int], int, int]:
    """Rows per article number, and the feeds' poll and error totals."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        rows: dict[int, int] = {}
        for (url,) in conn.execute("select url from articles"):
            m = ARTICLE_KEY.search(url)
            if m:
                rows[int(m.group(1))] = rows.get(int(m.group(1)), 0) + 1
        polls, errors = conn.execute("select coalesce(sum(polls_total), 0), "
                                     "coalesce(sum(errors_total), 0) from feeds").fetchone()
    finally:
        conn.close()
    return rows, polls, errors


def soak(minutes: float, feeds: int, every: float, drain: float, quiet: bool) -> dict[str, Any]:
    resets = ResetServer()
    with LoopbackServer() as server, tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        site = HostileSite(server, resets, timeout=3.0)
        for i in range(feeds):
            server.handler(f"/f{i}.xml", site.feed)
        cfg = write_config(tmp, [{"name": f"f{i}", "url": server.url(f"/f{i}.xml")} for i in range(feeds)],
                           schedule='max_interval = "3s"')
        log_path = tmp / "daemon.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--log-level", "info"],
                                    stderr=log, stdout=subprocess.DEVNULL, env=env(tmp), cwd=tmp)
        start = time.monotonic()
        samples: list[float] = []
        crashed: str | None = None
        if not quiet:
            print(f"{'t (s)':>6} {'RSS MB':>8} {'peak MB':>8} {'articles':>9} {'polls':>7} {'errors':>7}")

        def sample() -> None:
            rss_now, _ = memory_kb(proc.pid)
            samples.append(rss_now / 1024)

        def report_line() -> None:
            rss_now, peak = memory_kb(proc.pid)
            try:
                rows, polls, errors = stored(tmp / "newswatch.db")
            except sqlite3.Error:
                rows, polls, errors = {}, 0, 0
            if not quiet:
                print(f"{time.monotonic() - start:>6.0f} {rss_now / 1024:>8.1f} {peak / 1024:>8.1f} "
                      f"{len(rows):>9} {polls:>7} {errors:>7}", flush=True)

        try:
            next_report = start + every
            while time.monotonic() - start < minutes * 60:
                time.sleep(0.5)
                if proc.poll() is not None:
                    crashed = f"daemon exited on its own with status {proc.returncode}"
                    break
                sample()
                if time.monotonic() >= next_report:
                    report_line()
                    next_report += every
            with site.lock:
                site.draining = True
            deadline = time.monotonic() + drain
            while crashed is None and time.monotonic() < deadline:
                time.sleep(0.5)
                if proc.poll() is not None:
                    crashed = f"daemon exited on its own with status {proc.returncode}"
                    break
                sample()
                with contextlib.suppress(sqlite3.Error):
                    rows, _, _ = stored(tmp / "newswatch.db")
                    with site.lock:
                        if site.offered <= set(rows):
                            break
            rss_final, peak = memory_kb(proc.pid)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            resets.close()
        rows, polls, errors = stored(tmp / "newswatch.db")
        log_text = log_path.read_text(errors="replace")
        with site.lock:
            offered = set(site.offered)
            faults = dict(sorted(site.faults.items()))
        half = samples[len(samples) // 2:] or [0.0]
        return {
            "seconds": round(time.monotonic() - start, 1),
            "feeds": feeds,
            "requests": len(server.requests),
            "resets_sent": resets.count,
            "faults_served": faults,
            "polls": polls,
            "poll_errors": errors,
            "crashed": crashed,
            "exit_status": proc.returncode,
            "tracebacks": log_text.count("Traceback"),
            "articles_offered": len(offered),
            "articles_stored": len(rows),
            "lost": sorted(offered - set(rows)),
            "duplicated": sorted(k for k, n in rows.items() if n > 1),
            "rss_peak_mb": round(peak / 1024, 1),
            "rss_final_mb": round(rss_final / 1024, 1),
            "rss_after_warmup_mb": [round(min(half), 1), round(max(half), 1)],
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--feeds", type=int, default=12)
    ap.add_argument("--every", type=float, default=30, help="seconds between progress lines")
    ap.add_argument("--drain", type=float, default=25, help="seconds of good behaviour at the end")
    ap.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = ap.parse_args()
    result = soak(args.minutes, args.feeds, args.every, args.drain, quiet=args.json)
    if args.json:
        print(json.dumps(result))
        return
    print()
    for key, value in result.items():
        if key in ("lost", "duplicated"):
            print(f"{key:>22}: {len(value)} {value[:20] if value else ''}")
        else:
            print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
