"""Backtest speed: replay the default topic over N stored articles in a SQLite file.

Target (issue 3): 100,000 stored articles in under 60 s. The anchor printed
beside it is the time to merely read every article back through the same Store
API (the floor any backtest pays), so the ratio shows what matching adds.

    .venv/bin/python bench/backtest.py [--articles 100000] [--words 500] [--db PATH]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from crawler.rules import load_topics  # noqa: E402
from crawler.rules.backtest import backtest  # noqa: E402
from storage import Store, content_hash  # noqa: E402
from storage.schema import articles  # noqa: E402

TOPIC_WORDS = [
    "india", "pakistan", "delhi", "islamabad", "cricket", "quiet", "secret", "backchannel", "envoy",
    "dubai", "talks", "meeting", "officials", "security", "adviser", "ceasefire",
]
COMMON = [
    "the", "of", "and", "to", "in", "a", "said", "on", "for", "that", "with", "was", "by", "as", "at",
    "from", "his", "its", "it", "an", "were", "which", "are", "this", "government", "minister",
    "officials", "meeting", "security", "border", "economy", "trade", "province", "court", "election",
    "army", "spokesman", "statement", "week", "capital", "report", "people", "year", "new", "would",
    "also", "after", "police", "city", "country", "president", "party", "state", "last", "two", "first",
    "since", "told", "other", "could", "more", "been", "about", "over", "when", "while", "their",
    "will", "has", "had", "into", "under", "against", "budget", "water", "treaty", "line", "control",
    "prices", "market",
]


def _words(rng: random.Random, n: int, dense: bool) -> str:
    """Article text: in `dense` mode every word is a topic word (the worst case for the matcher);
    otherwise ordinary prose in which about one article in five mentions the region."""
    if dense:
        return " ".join(rng.choice(TOPIC_WORDS + COMMON[:20]) for _ in range(n))
    words = [rng.choice(COMMON) for _ in range(n)]
    if rng.random() < 0.2:
        for _ in range(rng.randint(1, 12)):
            words[rng.randrange(n)] = rng.choice(TOPIC_WORDS)
    return " ".join(words)


def fill(store: Store, n: int, words: int, dense: bool) -> None:
    """Bulk-load generated articles (setup only; the product writes through Store.add_article)."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    batch = []
    with store.engine.begin() as conn:
        for i in range(n):
            text = _words(rng, words, dense)
            title = _words(rng, 8, dense).capitalize()
            batch.append({
                "url": f"https://news.example/{i}", "link": f"https://news.example/{i}", "feed_name": "bench",
                "source": "Bench", "title": title, "text": text, "summary": "", "fetched_at": now - timedelta(minutes=i),
                "authors": [], "method": "generic", "text_from": "page", "content_hash": content_hash(title, text),
            })
            if len(batch) == 5000:
                conn.execute(insert(articles), batch)
                batch.clear()
        if batch:
            conn.execute(insert(articles), batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--words", type=int, default=500, help="words per article (~6 characters each)")
    ap.add_argument("--db", type=Path, help="reuse or create this SQLite file")
    ap.add_argument("--dense", action="store_true", help="every word a topic word: the matcher's worst case")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory() if args.db is None else None
    db = args.db or Path(tmp.name) / "bench.db"  # type: ignore[union-attr]
    store = Store.open(f"sqlite:///{db}")
    if store.count_articles() < args.articles:
        t0 = time.perf_counter()
        fill(store, args.articles - store.count_articles(), args.words, args.dense)
        print(f"setup: stored {args.articles} articles in {time.perf_counter() - t0:.1f} s ({db})")
    rs = load_topics(sorted((ROOT / "config" / "rules").glob("*.toml")))

    t0 = time.perf_counter()
    read = sum(1 for _ in store.iter_articles(with_matches=True))
    t_read = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = backtest(store, rs, since=None)
    t_bt = time.perf_counter() - t0
    store.close()
    flagged = sum(len(t["newly_flagged"]) for t in result["topics"])
    kind = "dense worst case" if args.dense else "news-like text"
    print(f"\n{result['articles']} articles ({kind}), {len(rs.topics)} topic(s), ~{args.words} words each")
    print(f"{'pass':<28}{'seconds':>9}{'articles/s':>12}{'ratio':>8}")
    print(f"{'read only (anchor)':<28}{t_read:>9.1f}{read / t_read:>12.0f}{1.0:>7.1f}x")
    print(f"{'backtest (read + match)':<28}{t_bt:>9.1f}{result['articles'] / t_bt:>12.0f}{t_bt / t_read:>7.1f}x")
    print(f"newly flagged: {flagged}; target: 100,000 articles in under 60 s")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
