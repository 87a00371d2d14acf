"""Review app at 100,000 articles, 5,000 flagged: request times of the real app (issue 10, target 5).

A SQLite file is filled with `--articles` generated articles (about 3 KB of text each, 40
sources, 200 feeds, a year of dates); every twentieth carries on-topic sentences and is
matched by the shipped rules, so its match rows are what a poll stores. Some flagged
articles are reviewed and grouped into stories. Then `create_app` runs under uvicorn on
127.0.0.1 in this process, and each page is asked once cold (the first request after the
start, which shows any stall) and then `--runs` times, the pages taking turns. The anchor,
in the same run, is `/healthz` (the app's cheapest route: middleware, one `SELECT 1`), so
the figures separate what a page costs from what any request costs.

    .venv/bin/python bench/review.py [--articles 100000] [--runs 15] [--db FILE] [--profile PATH]

`--db` keeps the database (built once, reused when it exists); `--profile PATH` prints the
cProfile of the slowest page's requests.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from bench.pipeline import newswatch_config  # noqa: E402
from crawler.models import document_of  # noqa: E402
from crawler.runtime import Runtime, load_runtime  # noqa: E402
from storage import NewArticle, Store, content_hash  # noqa: E402
from storage.articles import _match_row  # noqa: E402
from storage.schema import articles, marks, matches, story_members  # noqa: E402

VOCAB = ["government", "minister", "talks", "officials", "said", "meeting", "security", "border", "economy", "trade", "province", "court", "election", "army", "spokesman", "statement", "week", "capital", "report", "budget", "farmers", "prices", "rain", "hospital", "school", "teachers", "police", "market", "fuel", "exports", "imports", "bank", "inflation", "parliament", "committee", "opposition", "water", "river", "dam", "power", "shortage", "railway", "airport", "road", "district", "council", "mayor", "protest", "union", "wages", "factory", "tax", "reform", "inquiry", "judge", "hearing"]
ON_TOPIC = (
    " India and Pakistan kept a quiet backchannel open through their national security advisers,"
    " officials in Islamabad and New Delhi said.",
    " The secret talks between the two countries' advisers went on in Abu Dhabi, a diplomat said.",
)
SEARCHES = ("backchannel", "minister budget", '"security advisers"', "railway OR airport -dam")


def _text(rng: random.Random, on_topic: bool) -> str:
    paras = [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(45, 60))).capitalize() + "."
             for _ in range(7)]
    if on_topic:
        paras[2] += ON_TOPIC[0]
        paras[5] += ON_TOPIC[1]
    return "\n\n".join(paras)


def build(store: Store, runtime: Runtime, n: int, *, seed: int = 7) -> dict[str, int]:
    """Fill the store: `n` articles, every twentieth flagged by the shipped rules; returns counts."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch: list[dict[str, object]] = []
    found_rows: list[tuple[int, object]] = []
    flagged_ids: list[int] = []
    next_id = 1

    def flush() -> None:
        with store.engine.begin() as conn:
            conn.execute(insert(articles), batch)
            rows = [_match_row(aid, m, when) for aid, m, when in found_rows]  # type: ignore[misc]
            if rows:
                conn.execute(insert(matches), rows)
        batch.clear()
        found_rows.clear()

    for i in range(n):
        on_topic = i % 20 == 0
        when = start + timedelta(seconds=i * 315 + rng.randint(0, 300))  # a year over 100,000
        title = f"{rng.choice(VOCAB).capitalize()} {rng.choice(VOCAB)} {rng.choice(VOCAB)} {i}"
        if on_topic:
            title = f"India Pakistan backchannel {i}"
        text = _text(rng, on_topic)
        src = i % 40
        new = NewArticle(url=f"https://news{src}.example/a/{i}", link=f"https://news{src}.example/a/{i}",
                         title=title, text=text, method="generic", text_from="page", fetched_at=when,
                         feed_name=f"feed{i % 200}", source=f"Source {src}", published=when,
                         summary=text[:200], language="en")
        batch.append({
            "id": next_id, "url": new.url, "link": new.link, "feed_name": new.feed_name, "source": new.source,
            "title": title, "text": text, "summary": new.summary, "published": when, "fetched_at": when,
            "authors": [], "language": "en", "method": "generic", "text_from": "page",
            "content_hash": content_hash(title, text),
        })
        if on_topic:
            for m in runtime.rules.match(document_of(new)):
                found_rows.append((next_id, m, when))  # type: ignore[arg-type]
            flagged_ids.append(next_id)
        next_id += 1
        if len(batch) >= 5000:
            flush()
    if batch:
        flush()
    # reviews: a fifth of the flagged marked, by three reviewers
    states = ("relevant", "irrelevant", "later")
    with store.engine.begin() as conn:
        for k, aid in enumerate(flagged_ids[: len(flagged_ids) // 5]):
            who = ("asma", "ravi", "lena")[k % 3]
            state = states[k % 3]
            now = start + timedelta(days=300, minutes=k)
            conn.execute(update(matches).where(matches.c.article_id == aid).values(
                state=state, reviewed_at=now, reviewed_by=who))
            conn.execute(insert(marks), [{"article_id": aid, "topic_id": "india-pakistan-backchannel",
                                          "state": state, "created_at": now, "reviewer": who, "kind": "match"}])
        # stories: runs of five flagged articles make one story (its id is its first member)
        conn.execute(insert(story_members), [
            {"article_id": aid, "story_id": flagged_ids[k - k % 5], "signature": bytes(64),
             "created_at": start + timedelta(days=300)} for k, aid in enumerate(flagged_ids)])
        counts = {
            "articles": conn.execute(select(func.count()).select_from(articles)).scalar_one(),
            "matches": conn.execute(select(func.count()).select_from(matches)).scalar_one(),
            "flagged": len(flagged_ids),
            "reviewed": conn.execute(select(func.count()).select_from(matches).where(
                matches.c.state != "unreviewed")).scalar_one(),
        }
    return counts


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--db", type=Path, help="keep the database here (reused when it exists)")
    ap.add_argument("--profile", type=Path, help="write a cProfile of the slowest page's requests here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        db = args.db or tmp / "review.db"
        reuse = db.exists()
        runtime = load_runtime(newswatch_config(tmp, ["http://127.0.0.1:9/feed.xml"], db, concurrency=None))
        store = Store.open(runtime.config.storage_url())
        if reuse:
            print(f"reusing {db}")
        else:
            t0 = time.monotonic()
            counts = build(store, runtime, args.articles)
            print(f"built {db} in {time.monotonic() - t0:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
                  + f"; {db.stat().st_size / 1e6:.0f} MB")
        store.close()
        _serve_and_time(runtime, db, args.runs, args.profile)


def _serve_and_time(runtime: Runtime, db: Path, runs: int, profile: Path | None) -> None:
    import uvicorn

    from crawler.web.app import create_app, warm_up

    t0 = time.monotonic()
    store = Store.open(runtime.config.storage_url())
    app = create_app(runtime.config, store, runtime.rules.topics)
    warm_up(app)  # as `newswatch serve` does before it listens
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    startup = time.monotonic() - t0
    with store.engine.connect() as conn:
        some = conn.execute(select(matches.c.article_id).order_by(matches.c.article_id.desc()).limit(1)).scalar_one()
        # a different flagged article at every turn: the page as a reviewer walking the list meets it
        others = [r[0] for r in conn.execute(select(matches.c.article_id).where(matches.c.article_id < some)
                                             .order_by(matches.c.article_id.desc()).limit(runs + 1))]
    pages: dict[str, str | list[str]] = {
        "healthz (anchor)": "/healthz",
        "list": "/",
        "list, page 20": "/?page=20",
        "list, all states": "/?state=all",
        "search page": "/?q=" + SEARCHES[0],
        "api search": "/api/search?q=" + SEARCHES[1],
        "api search, phrase": "/api/search?q=" + SEARCHES[2],
        "article": f"/articles/{some}",
        "article, a new one each turn": [f"/articles/{aid}" for aid in others],
        "dashboard": "/dashboard",
        "feed.atom": "/feed.atom",
        "api articles": "/api/articles",
    }
    first: dict[str, float] = {}
    times: dict[str, list[float]] = {k: [] for k in pages}
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            def get(path: str) -> float:
                t = time.perf_counter()
                r = client.get(path)
                took = (time.perf_counter() - t) * 1000
                if r.status_code != 200:
                    sys.exit(f"{path}: HTTP {r.status_code}: {r.text[:300]}")
                return took
            def path_of(name: str, turn: int) -> str:
                paths = pages[name]
                return paths if isinstance(paths, str) else paths[turn]

            for name in pages:  # cold: each page's first request after the start
                first[name] = get(path_of(name, 0))
            for turn in range(1, runs + 1):
                for name in pages:
                    times[name].append(get(path_of(name, turn)))
            if profile is not None:
                import cProfile
                import pstats
                worst = max((k for k in pages if k != "healthz (anchor)"),
                            key=lambda k: statistics.median(times[k]))
                prof = cProfile.Profile()
                prof.enable()
                for turn in range(5):
                    get(path_of(worst, turn % (runs + 1)))
                prof.disable()
                prof.dump_stats(str(profile))
                print(f"profile of 5 × {worst} ({path_of(worst, 0)}):")
                pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()
    anchor = statistics.median(times["healthz (anchor)"])
    print(f"review app over {db.name}: start-up {startup * 1000:.0f} ms; medians of {runs}, pages taking turns")
    print("| page | median ms | first request ms | × anchor (median) | target |")
    print("|---|---|---|---|---|")
    for name in pages:
        med = statistics.median(times[name])
        target = "" if name.startswith("healthz") else ("ok" if med < 100 else "OVER")
        print(f"| {name} | {med:.1f} | {first[name]:.1f} | {med / anchor:.1f} | {target} |")


if __name__ == "__main__":
    main()
