"""Soak: run `newswatch run` against a busy loopback site and watch its memory and health.

The site has F feeds polled every second; each poll of a feed finds one new
article (and every fifth poll a failure: 500, junk, or a slow response), so in
a few minutes the daemon makes tens of thousands of requests. Printed every
`--every` seconds: the daemon's RSS, articles stored, polls and errors. A
daemon meant to run for weeks must show flat memory after warm-up.

    .venv/bin/python bench/soak.py [--minutes 5] [--feeds 20] [--every 30]
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.helpers import CLI, env, page, rss, write_config  # noqa: E402
from tests.support.server import LoopbackServer, RecordedRequest, Response  # noqa: E402


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--feeds", type=int, default=20)
    ap.add_argument("--every", type=float, default=30)
    args = ap.parse_args()
    counters = {"n": 0}
    lock = threading.Lock()
    body = page("Story", "\n".join(["A paragraph of ordinary news text about trade and the economy."] * 12))

    with LoopbackServer() as server, tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)

        def feed(req: RecordedRequest) -> Response:
            with lock:
                counters["n"] += 1
                n = counters["n"]
            if n % 5 == 0:
                return Response(500 if n % 3 else 200, b"<html>not a feed</html>", {})
            items = [{"title": f"Story {k}", "link": server.url(f"/a/{k}")} for k in range(max(n - 30, 0), n)]
            return Response(200, rss(items).encode(), {"Content-Type": "application/rss+xml"})

        def article(req: RecordedRequest) -> Response:
            return Response(200, body.encode(), {"Content-Type": "text/html; charset=utf-8"})

        for i in range(args.feeds):
            server.handler(f"/f{i}.xml", feed)
        server.handler("/a/", article)
        cfg = write_config(tmp, [{"name": f"f{i}", "url": server.url(f"/f{i}.xml")} for i in range(args.feeds)],
                           schedule='max_interval = "5s"')
        log = (tmp / "daemon.log").open("w")
        proc = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--log-level", "warning"],
                                stderr=log, stdout=subprocess.DEVNULL, env=env(tmp), cwd=tmp)
        start = time.monotonic()
        samples = []
        print(f"{'t (s)':>6} {'RSS MB':>8} {'articles':>9} {'polls':>7} {'errors':>7} {'requests':>9}")
        try:
            while time.monotonic() - start < args.minutes * 60:
                time.sleep(args.every)
                if proc.poll() is not None:
                    raise SystemExit(f"daemon exited with {proc.returncode}")
                conn = sqlite3.connect(tmp / "newswatch.db")
                arts = conn.execute("select count(*) from articles").fetchone()[0]
                polls, errors = conn.execute("select sum(polls_total), sum(errors_total) from feeds").fetchone()
                conn.close()
                mb = rss_kb(proc.pid) / 1024
                samples.append(mb)
                print(f"{time.monotonic() - start:>6.0f} {mb:>8.1f} {arts:>9} {polls:>7} {errors:>7} "
                      f"{len(server.requests):>9}", flush=True)
                server.reset_log()
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=15)
        half = samples[len(samples) // 2:]
        print(f"\nexit status {rc}; RSS after warm-up: {min(half):.1f}–{max(half):.1f} MB "
              f"(first sample {samples[0]:.1f} MB, last {samples[-1]:.1f} MB)")
        tracebacks = (tmp / "daemon.log").read_text().count("Traceback")
        print(f"tracebacks in the log: {tracebacks}")


if __name__ == "__main__":
    main()
