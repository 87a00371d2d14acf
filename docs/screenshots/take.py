"""Take the review app's screenshots for the docs (list, article, dashboard).

    .venv/bin/python docs/screenshots/take.py

Polls the offline demo news site through the real pipeline, adds a few weeks of
generated flagged coverage (with near-duplicate stories) and a feed that keeps
failing, serves the real app on loopback and photographs it with Debian's Chromium
(headless; no browser is downloaded).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from crawler.daemon import feed_configs, poll_once  # noqa: E402
from crawler.demo import DemoSite, demo_config  # noqa: E402
from crawler.runtime import load_runtime  # noqa: E402
from crawler.settings import FeedSettings  # noqa: E402
from crawler.web import create_app  # noqa: E402
from storage import PollOutcome, ReviewFilter, Store  # noqa: E402
from tests.e2e.test_browser import CHROMIUM_ARGS, fill  # noqa: E402

OUT = Path(__file__).resolve().parent


def build(tmp: Path) -> tuple[object, Store]:
    runtime = load_runtime(ROOT / "config" / "newswatch.toml")
    with DemoSite() as site:
        runtime.config = demo_config(runtime.config, site, f"sqlite:///{tmp / 'demo.db'}")
        runtime.config.settings.feeds.append(FeedSettings(name="geo-rss", url=site.base_url + "/feeds/geo.xml",
                                                          source="Geo News"))
        store = Store.open(runtime.config.storage_url())
        sample = fill(store, runtime, seed=11, stories=30)
        store.mark(sample.hostile, "irrelevant", note="test article with markup")
        # the missing feed has been failing for a while: show it as the dashboard would
        store.sync_feeds(feed_configs(runtime))
        feed = store.get_feed("geo-rss")
        assert feed is not None
        start = datetime.now(UTC) - timedelta(hours=7)
        for i in range(6):
            when = start + timedelta(hours=i)
            store.record_poll(feed.id, PollOutcome(ok=False, status=404, polled_at=when, error="HTTP 404 Not Found",
                                                   next_poll_at=when + timedelta(hours=1)))
        asyncio.run(poll_once(runtime, store))
    # some review history
    rows = store.review_page(ReviewFilter(), limit=None).rows
    for r in rows[8:20:2]:
        store.mark(r.id, "relevant", note="confirmed by a second outlet")
    for r in rows[9:18:4]:
        store.mark(r.id, "irrelevant")
    return runtime, store


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="newswatch-shots-"))
    runtime, store = build(tmp)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime.config, store, runtime.rules.topics), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    demo = next(r for r in store.review_page(ReviewFilter(state="all"), limit=None).rows
                if "Abu Dhabi" in r.title and r.text_from == "page" and "news.example" not in r.url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(base + "/")
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.screenshot(path=str(OUT / "list.png"))
        page.goto(f"{base}/articles/{demo.id}")
        page.screenshot(path=str(OUT / "article.png"))
        page.goto(base + "/dashboard")
        page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)
        browser.close()
    server.should_exit = True
    store.close()
    print(f"screenshots in {OUT} (database {tmp / 'demo.db'})")


if __name__ == "__main__":
    main()
