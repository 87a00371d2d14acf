"""End-to-end poll: `newswatch poll --once` against the pipelines people write by hand.

One loopback news site (`--feeds` feeds × `--articles` pages of about 6 KB with on-topic
sidebars, `--latency` per response) is polled by each contender, each a whole process of
its own timed from outside (wall clock, and user + system CPU from `wait4`), into a fresh
SQLite file, interleaved run by run; medians of `--runs`:

- newswatch: `newswatch poll --once` on the shipped config (`config/newswatch.toml`: its
  concurrency, rules, site profiles), its feeds replaced by the site's and per-host politeness
  relaxed for the single loopback host (`per_host_delay = 0s`, `per_host_concurrency` = the
  reference's thread count);
- reference: what a Python user writes without newswatch: feedparser, one shared
  `httpx.Client`, 16 threads, trafilatura, one regex per term, sqlite3;
- naive (`--naive`): the same done sequentially with selectolax's body text;
- baseline (`--baseline DIR`): `poll --once` from another checkout (say, before a change),
  run the same way, to compare two versions of newswatch in one run.

Every contender must store every article; the run stops if one does not.

    .venv/bin/python bench/pipeline.py [--feeds 40] [--articles 50] [--latency 0.02] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loopsite import LoopSite  # noqa: E402

WORDS = ["government", "minister", "talks", "officials", "said", "meeting", "security", "border", "economy", "trade", "province", "court", "election", "army", "spokesman", "statement", "week", "capital", "report"]

TERMS = [
    "backchannel",
    "back channel",
    "secret talks",
    "quiet talks",
    "national security adviser",
    "india",
    "pakistan",
    "delhi",
    "islamabad",
    "track ii",
]
QUIET = {"backchannel", "back channel", "secret talks", "quiet talks", "track ii"}


def page(i: int, j: int) -> str:
    """An article page: eight paragraphs, every seventh on topic, sidebars always on topic."""
    rng = random.Random(i * 1000 + j)
    paras = [" ".join(rng.choice(WORDS) for _ in range(70)).capitalize() + "." for _ in range(8)]
    if j % 7 == 0:
        paras[3] += (
            " India and Pakistan kept a quiet backchannel open through their national security"
            " advisers, officials in Islamabad and New Delhi said."
        )
        paras[5] += " The secret talks between the two countries' advisers went on in Abu Dhabi."
    body = "".join(f"<p>{p}</p>" for p in paras)
    sidebar = "".join(
        f"<li><a href='/x/{k}'>India Pakistan backchannel talks {k}</a></li>" for k in range(8)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Story {i}-{j}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>Story {i}-{j}</h1><div class='story-body'>{body}"
        f"</div></article><aside class='trending'><h2>Trending</h2><ul>{sidebar}</ul></aside>"
        f"<footer>© 2026</footer></body></html>"
    )


def build_site(site: LoopSite, feeds: int, articles: int) -> list[str]:
    """Routes for the whole site; returns the feed paths."""
    paths = []
    for i in range(feeds):
        items = []
        for j in range(articles):
            path = f"/f{i}/a{j}"
            site.route(path, page(i, j))
            items.append(f"<item><title>Story {i}-{j}</title><link>{{base}}{path}</link></item>")
        paths.append(f"/f{i}.xml")
        site.route(
            f"/f{i}.xml",
            "<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>"
            f"<link>http://x/</link><description>d</description>{''.join(items)}</channel></rss>",
            content_type="application/rss+xml",
        )
    return paths


def fill_base(site: LoopSite, base: str) -> None:
    """Feeds name their items by absolute URL, known only once the port is."""
    for key, route in list(site._routes.items()):
        if key[1].endswith(".xml"):
            route.body = route.body.replace(b"{base}", base.encode())


# ---- the contenders, each run as `python bench/pipeline.py --worker NAME FEEDS DB` ----------


def _flagged(text: str, patterns: list[re.Pattern[str]]) -> bool:
    hits = {t for t, p in zip(TERMS, patterns, strict=True) if p.search(text)}
    return bool(
        ({"india", "delhi"} & hits) and ({"pakistan", "islamabad"} & hits) and (hits & QUIET)
    )


def _db(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("create table a (url text primary key, title text, text text, flagged int)")
    return conn


def reference_worker(feed_urls: list[str], db: str, threads: int) -> None:
    """feedparser, one shared httpx.Client, a thread pool, trafilatura, regexes, sqlite3."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import feedparser
    import httpx
    import trafilatura

    conn = _db(db)
    lock = threading.Lock()
    patterns = [re.compile(r"\b" + re.escape(t) + r"\b", re.I) for t in TERMS]
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    with httpx.Client(timeout=20, limits=limits) as client:

        def article(entry: dict) -> None:
            html = client.get(entry["link"]).text
            text = trafilatura.extract(html, include_comments=False) or ""
            flagged = _flagged(entry.get("title", "") + "\n" + text, patterns)
            with lock:
                conn.execute(
                    "insert or ignore into a values (?, ?, ?, ?)",
                    (entry["link"], entry.get("title", ""), text, int(flagged)),
                )
                conn.commit()

        def feed(url: str) -> list[dict]:
            return list(feedparser.parse(client.get(url).content).entries)

        with ThreadPoolExecutor(threads) as pool:
            entries = [e for found in pool.map(feed, feed_urls) for e in found]
            for done in pool.map(article, entries):
                del done
    conn.close()


def naive_worker(feed_urls: list[str], db: str) -> None:
    """Everything in sequence: get the feed, get each page, selectolax body text."""
    import feedparser
    import httpx
    from selectolax.lexbor import LexborHTMLParser

    conn = _db(db)
    patterns = [re.compile(r"\b" + re.escape(t) + r"\b", re.I) for t in TERMS]
    with httpx.Client(timeout=20) as client:
        for url in feed_urls:
            for e in feedparser.parse(client.get(url).content).entries:
                tree = LexborHTMLParser(client.get(e.link).text)
                text = tree.body.text(separator=" ") if tree.body else ""
                conn.execute(
                    "insert or ignore into a values (?, ?, ?, ?)",
                    (e.link, e.title, text, int(_flagged(text, patterns))),
                )
                conn.commit()
    conn.close()


def profiled_poll(out: str, argv: list[str]) -> None:
    """`newswatch ARGV` under cProfile in every thread, merged into OUT.

    `python -m cProfile` sees only the main thread, i.e. the event loop, while extraction,
    matching and storing run in worker threads: each thread gets a profiler of its own here,
    timed by the thread's own CPU clock, so waiting (for the network, for the interpreter
    lock) does not count and the figures add up to the process's CPU.
    """
    import cProfile
    import pstats
    import threading

    profiles: list[cProfile.Profile] = []

    def start(*_: object) -> None:  # the first event of a new thread: hand over to cProfile
        sys.setprofile(None)
        prof = cProfile.Profile(time.thread_time)
        profiles.append(prof)
        prof.enable()

    main_prof = cProfile.Profile(time.thread_time)
    threading.setprofile(start)
    sys.argv = ["newswatch", *argv]
    main_prof.enable()
    try:
        from crawler.cli import main as newswatch

        newswatch()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        main_prof.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        stats = pstats.Stats(main_prof)
        for prof in profiles:
            stats.add(prof)
        stats.dump_stats(out)


# ---- the driver ---------------------------------------------------------------------------


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def newswatch_config(
    tmp: Path, feed_urls: list[str], db: Path, concurrency: int | None, interval: str | None = None
) -> Path:
    """The shipped config with the site's feeds and a fresh database.

    With `concurrency`, per-host politeness is relaxed to that many requests at once and no
    delay (one loopback host stands for many real ones); with None it stays as shipped.
    """
    shipped = tomllib.loads((ROOT / "config" / "newswatch.toml").read_text())
    shipped["storage"] = {**shipped.get("storage", {}), "url": f"sqlite:///{db}"}
    http = shipped.setdefault("http", {})
    http["allow_private_networks"] = True
    if concurrency is not None:
        http.update(per_host_delay="0s", per_host_concurrency=concurrency)
    shipped.setdefault("rules", {})["files"] = [str(ROOT / "config" / "rules" / "*.toml")]
    shipped.setdefault("extract", {})["sites"] = str(ROOT / "config" / "sites.toml")
    shipped.setdefault("notify", {})["urls"] = []
    shipped["feeds"] = [
        {"name": f"f{i}", "url": u, **({"interval": interval} if interval else {})}
        for i, u in enumerate(feed_urls)
    ]
    out = []
    for section, table in shipped.items():
        if section == "feeds":
            continue
        out.append(f"[{section}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    for feed in shipped["feeds"]:
        out.append("[[feeds]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in feed.items()]
    path = tmp / "newswatch.toml"
    path.write_text("\n".join(out) + "\n")
    return path


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run a whole process; wall seconds, CPU seconds (user + system), peak RSS in MB."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code != 0:
            err.seek(0)
            sys.exit(f"{cmd[0]} failed ({code}):\n{err.read().decode()[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def stored(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


def match_figures(db: Path) -> str:
    """Matches stored by newswatch: how many, the average bytes of a row's stored values, the file size."""
    with sqlite3.connect(db) as conn:
        n, avg = conn.execute(
            "select count(*), avg(length(explanation) + length(matched_terms) + length(topic_id)"
            " + length(rules_version) + 40) from matches").fetchone()
    return f"{n} matches, {avg or 0:.0f} bytes per match row, database {db.stat().st_size / 1e6:.1f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--feeds", type=int, default=40)
    ap.add_argument("--articles", type=int, default=50)
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=16, help="the reference's thread count")
    ap.add_argument("--naive", action="store_true", help="also run the sequential pipeline")
    ap.add_argument("--profile", metavar="FILE",
                    help="only newswatch, once, under cProfile (every thread) into FILE")
    ap.add_argument("--baseline", metavar="DIR",
                    help="also time `poll --once` from another checkout of newswatch (before a change)")
    ap.add_argument("--worker", nargs=3, metavar=("NAME", "FEEDS", "DB"), help=argparse.SUPPRESS)
    ap.add_argument("--profiled", metavar="FILE", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args()
    if args.profiled:
        profiled_poll(args.profiled, rest)
        return
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.worker:
        name, feeds_file, db = args.worker
        urls = Path(feeds_file).read_text().split()
        if name == "reference":
            reference_worker(urls, db, args.threads)
        else:
            naive_worker(urls, db)
        return

    total = args.feeds * args.articles
    site = LoopSite(latency=args.latency)
    paths = build_site(site, args.feeds, args.articles)
    newswatch = str(Path(sys.executable).with_name("newswatch"))
    env = dict(os.environ)
    names = ["newswatch"] if args.profile else ["newswatch", "reference"] + (["naive"] if args.naive else [])
    if args.baseline and not args.profile:
        names.insert(1, "baseline")
    results: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}
    with site.running(), tempfile.TemporaryDirectory() as tmpdir:
        fill_base(site, site.url(""))
        feed_urls = [site.url(p) for p in paths]
        tmp = Path(tmpdir)
        (tmp / "feeds.txt").write_text("\n".join(feed_urls))
        for run in range(args.runs):
            order = names if run % 2 == 0 else list(reversed(names))
            for name in order:
                db = tmp / f"{name}-{run}.db"
                run_env = env
                if name in ("newswatch", "baseline"):
                    cfg = newswatch_config(tmp, feed_urls, db, args.threads)
                    cmd = [newswatch, "poll", "--once", "--config", str(cfg)]
                    if name == "baseline":  # the other checkout's packages shadow this one's
                        run_env = {**env, "PYTHONPATH": str(Path(args.baseline).resolve())}
                    if args.profile:
                        cmd = [sys.executable, __file__, "--profiled", args.profile, *cmd[1:]]
                    table = "articles"
                else:
                    cmd = [sys.executable, __file__, "--threads", str(args.threads),
                           "--worker", name, str(tmp / "feeds.txt"), str(db)]
                    table = "a"
                results[name].append(timed(cmd, run_env))
                n = stored(db, table)
                if n != total:
                    sys.exit(f"{name} stored {n} of {total} articles")
                wall, cpu, rss = results[name][-1]
                extra = f"  ({match_figures(db)})" if name in ("newswatch", "baseline") else ""
                print(f"run {run + 1} {name:<10} {wall:6.2f} s wall {cpu:6.2f} s CPU "
                      f"{rss:5.0f} MB peak RSS{extra}", flush=True)

    if args.profile:
        return
    print(f"\n{args.feeds} feeds × {args.articles} articles = {total}, {args.latency * 1000:.0f} ms "
          f"per response, medians of {args.runs} interleaved runs, every article stored by each")
    ref_wall = statistics.median(r[0] for r in results["reference"])
    ref_cpu = statistics.median(r[1] for r in results["reference"])
    print(f"{'pipeline':<11}{'articles/s':>11}{'wall s':>8}{'× ref':>7}{'CPU ms/art':>11}"
          f"{'× ref':>7}{'peak MB':>8}")
    for name in names:
        wall = statistics.median(r[0] for r in results[name])
        cpu = statistics.median(r[1] for r in results[name])
        rss = statistics.median(r[2] for r in results[name])
        print(f"{name:<11}{total / wall:>11.0f}{wall:>8.2f}{wall / ref_wall:>7.2f}"
              f"{cpu / total * 1000:>11.2f}{cpu / ref_cpu:>7.2f}{rss:>8.0f}")
    print("(× ref: the contender's wall time and CPU time as a fraction of the reference's;"
          " the target for newswatch is ≤ 0.33 wall and ≤ 0.50 CPU)")


if __name__ == "__main__":
    main()
