"""Daemon footprint: RSS of an idle `newswatch run` on the shipped config (target ≤ 80 MB).

The daemon runs `config/newswatch.toml` as shipped (its topics, site profiles, politeness,
`[metrics]`), with its feeds replaced by `--feeds` loopback feeds (one article each, every
seventh on topic, ETag, so a repeat poll is a 304) and a fresh SQLite file. Once every feed has been polled and
`--idle` seconds have passed with nothing to do, its RSS is read from /proc. The anchor,
in the same run, is a bare interpreter (`python -c` sleeping) read the same way, so the
figure separates what newswatch loads from what any Python process costs. It also prints
the start-up time (to `daemon.started`) and whether the web framework was imported.
The daemon gets the environment systemd gives it (`systemd/newswatch.service` sets only
`PYTHONUNBUFFERED`): this shell's `SSL_CERT_FILE` and `SSL_CERT_DIR`, which point tools
at a CA bundle on some machines, are left out, so the figure is the service's.

    .venv/bin/python bench/footprint.py [--feeds 20] [--idle 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loopsite import LoopSite  # noqa: E402
from bench.pipeline import newswatch_config, page  # noqa: E402
from bench.scale import proc_stats, stop  # noqa: E402


def _loaded(pid: int, names: tuple[str, ...]) -> list[str]:
    """Which of these libraries the process has mapped (their compiled parts or sources)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [n for n in names if f"/{n}/" in maps]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=20)
    ap.add_argument("--idle", type=float, default=20.0, help="seconds idle before reading RSS")
    args = ap.parse_args()
    site = LoopSite()
    paths = []
    for i in range(args.feeds):
        paths.append(f"/feed/{i}.xml")
        site.route(f"/a/{i}/0", page(i, i % 7))  # every seventh on topic: some are flagged
    newswatch = str(Path(sys.executable).with_name("newswatch"))
    with site.running(), tempfile.TemporaryDirectory() as tmpdir:
        for i, path in enumerate(paths):
            site.route(path, "<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>"
                       "<link>http://x/</link><description>d</description>"
                       f"<item><title>Item {i}</title><link>{site.url(f'/a/{i}/0')}</link>"
                       f"<guid>i{i}</guid></item></channel></rss>",
                       content_type="application/rss+xml", etag=f'"f{i}"')
        tmp = Path(tmpdir)
        cfg = newswatch_config(tmp, [site.url(p) for p in paths], tmp / "idle.db", concurrency=None)
        log = tmp / "daemon.log"
        t0 = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        with log.open("wb") as out:
            proc = subprocess.Popen([newswatch, "run", "--config", str(cfg)], stdout=out,
                                    stderr=subprocess.STDOUT, env={**env, "PYTHONUNBUFFERED": "1"})
        anchor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        try:
            started = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                text = log.read_text(errors="replace")
                if started is None and "event=daemon.started" in text:
                    started = time.monotonic() - t0
                if text.count("event=feed.polled") >= args.feeds:
                    break
                if proc.poll() is not None:
                    sys.exit(f"the daemon exited ({proc.returncode}):\n{text[-2000:]}")
                time.sleep(0.2)
            else:
                sys.exit("the daemon did not poll every feed within 2 minutes")
            busy_rss, _ = proc_stats(proc.pid)
            time.sleep(args.idle)
            rss, cpu = proc_stats(proc.pid)
            base, _ = proc_stats(anchor.pid)
            web = _loaded(proc.pid, ("fastapi", "starlette", "jinja2", "uvicorn", "scipy", "datasketch"))
        finally:
            anchor.kill()
            anchor.wait()
            stop(proc)
    print(f"newswatch run, shipped config, {args.feeds} loopback feeds, idle {args.idle:g} s after "
          "polling them all")
    print(f"  start-up to daemon.started: {started:.2f} s")
    print(f"  RSS right after the polls: {busy_rss:.0f} MB; idle: {rss:.1f} MB (target ≤ 80 MB); "
          f"CPU so far {cpu:.1f} s")
    print(f"  anchor, a bare interpreter: {base:.1f} MB; newswatch idle = {rss / base:.1f}× the anchor, "
          f"{rss - base:.1f} MB above it")
    print(f"  web/story libraries loaded: {', '.join(web) if web else 'none'}")


if __name__ == "__main__":
    main()
