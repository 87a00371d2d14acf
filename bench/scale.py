"""Polling scale: can one `newswatch run` keep 10,000 feeds on a 10-minute interval?

The setup the issue names: `--feeds` feeds (10,000) spread over `--hosts` loopback hosts
(100 addresses 127.0.0.2 … on one port), each response delayed 50–200 ms, every feed with an
ETag (a repeat poll is a 304) and two items of its own, so the first round also fetches
20,000 article pages. The daemon runs on the shipped config (politeness as shipped:
`per_host_concurrency`, `per_host_delay`, robots.txt), only its feeds, database and the
private-network switch changed, every feed at `interval = "10m"`.

Every `--sample` seconds the bench reads the RSS and CPU time of the daemon and its worker
process from /proc and counts `feed.polled` / `feed.failed` log lines. At the end (`--minutes`, default 10) it
prints: how many feeds were polled at least once and when the last first poll happened,
polls per minute per window, CPU seconds per minute, peak RSS; then stops the daemon
with SIGTERM.

    .venv/bin/python bench/scale.py [--feeds 10000] [--hosts 100] [--minutes 10]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loopsite import LoopSite  # noqa: E402
from bench.pipeline import newswatch_config, page  # noqa: E402

_POLLED = re.compile(r"event=feed\.(polled|failed) .*?feed=(\S+)(?:.*? seconds=([0-9.]+))?")


def build(site: LoopSite, feeds: int, hosts: list[str]) -> list[str]:
    """Feed i lives on host i % len(hosts); returns the feed URLs (port filled in later)."""
    paths = []
    for i in range(feeds):
        host = hosts[i % len(hosts)]
        items = "".join(
            f"<item><title>Item {i}-{j}</title><link>http://{host}:{{port}}/a/{i}/{j}</link>"
            f"<guid>i{i}-{j}</guid></item>"
            for j in range(2)
        )
        site.route(
            f"/feed/{i}.xml",
            "<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>"
            f"<link>http://x/</link><description>d</description>{items}</channel></rss>",
            content_type="application/rss+xml",
            etag=f'"f{i}-v1"',
            host=host,
        )
        for j in range(2):
            site.route(f"/a/{i}/{j}", page(i, j), host=host)
        paths.append((host, f"/feed/{i}.xml"))
    return paths


def _tree(pid: int) -> list[int]:
    """The process and its descendants (the daemon's worker process counts as the daemon)."""
    pids, i = [pid], 0
    while i < len(pids):
        try:
            for task in Path(f"/proc/{pids[i]}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
        i += 1
    return pids


def proc_stats(pid: int) -> tuple[float, float]:
    """RSS in MB and CPU seconds (user + system) of a live process and its children, from /proc.

    Live children's CPU is read from their own entries and ended ones' from the daemon's
    `cutime`/`cstime`, so the total never falls when a child ends; their RSS is added to
    the daemon's, counting pages they share twice, so it errs high.
    """
    rss = cpu = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        cpu += (int(fields[11]) + int(fields[12])) / ticks
        if p == pid:  # children that ended and were reaped (a stopped worker, the stories pass) count too
            cpu += (int(fields[13]) + int(fields[14])) / ticks
    return rss, cpu


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as systemd would; SIGKILL if it has not stopped within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--profile", metavar="FILE", help="run the daemon under cProfile, written to FILE on stop")
    args = ap.parse_args()
    if args.hosts > 250:
        sys.exit("--hosts: at most 250 (127.0.0.2 … 127.0.0.251)")
    hosts = [f"127.0.0.{2 + k}" for k in range(args.hosts)]
    site = LoopSite(hosts=hosts, latency=(0.05, 0.2))
    paths = build(site, args.feeds, hosts)
    newswatch = str(Path(sys.executable).with_name("newswatch"))
    with site.running() as port, tempfile.TemporaryDirectory() as tmpdir:
        for route in site._routes.values():
            route.body = route.body.replace(b"{port}", str(port).encode())
        tmp = Path(tmpdir)
        urls = [f"http://{h}:{port}{p}" for h, p in paths]
        cfg = newswatch_config(tmp, urls, tmp / "scale.db", concurrency=None, interval="10m")
        log = tmp / "daemon.log"
        cmd = [newswatch, "run", "--config", str(cfg)]
        if args.profile:
            cmd = [sys.executable, "-m", "cProfile", "-o", args.profile, *cmd]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        first_poll: dict[str, float] = {}
        polls = failures = 0
        durations: list[float] = []
        offset = 0
        samples: list[tuple[float, int, float, float]] = []
        peak = 0.0
        try:
            while (elapsed := time.monotonic() - t0) < args.minutes * 60:
                time.sleep(min(args.sample, args.minutes * 60 - elapsed))
                if proc.poll() is not None:
                    sys.exit(f"the daemon exited early ({proc.returncode}); log: {log}")
                with log.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                cut = chunk.rfind(b"\n") + 1
                offset += cut
                now = time.monotonic() - t0
                for m in _POLLED.finditer(chunk[:cut].decode(errors="replace")):
                    polls += 1
                    failures += m.group(1) == "failed"
                    first_poll.setdefault(m.group(2), now)
                    if m.group(3):
                        durations.append(float(m.group(3)))
                rss, cpu = proc_stats(proc.pid)
                peak = max(peak, rss)
                samples.append((now, polls, cpu, rss))
                print(f"{now:6.0f} s  polls {polls:6d} ({failures} failed)  feeds seen "
                      f"{len(first_poll):6d}/{args.feeds}  CPU {cpu:7.1f} s  RSS {rss:5.0f} MB "
                      f"(site answered {site.requests}, {site.not_modified} × 304)", flush=True)
        finally:
            stop(proc)
    print(f"\n{args.feeds} feeds on {args.hosts} loopback hosts, 50–200 ms per response, "
          f"interval 10m, {args.minutes:g} minutes")
    all_polled = len(first_poll) == args.feeds
    last_first = max(first_poll.values()) if first_poll else float("nan")
    print(f"feeds polled at least once: {len(first_poll)} of {args.feeds}"
          + (f" (the last by {last_first:.0f} s)" if all_polled else " — NOT all"))
    print(f"polls: {polls} ({failures} failed), {polls / (samples[-1][0] / 60):.0f} per minute "
          "over the run")
    if durations:
        durations.sort()
        print(f"seconds per poll (feed and its new pages, waits for the host included): median "
              f"{statistics.median(durations):.2f}, 90th percentile {durations[len(durations) * 9 // 10]:.2f}")
    prev = (0.0, 0, 0.0, 0.0)
    for s in samples:
        span = (s[0] - prev[0]) / 60
        if span > 0:
            print(f"  {prev[0]:5.0f}–{s[0]:5.0f} s: {(s[1] - prev[1]) / span:7.0f} polls/min, "
                  f"CPU {(s[2] - prev[2]) / span:5.1f} s/min, RSS {s[3]:4.0f} MB")
        prev = s
    print(f"peak RSS {peak:.0f} MB (target < 300 MB); every feed polled within 10 min: "
          f"{'yes' if all_polled and last_first <= 600 else 'no'}")


if __name__ == "__main__":
    main()
