"""Pipeline.poll_feed with a real fetcher, a loopback server and a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.fetch import Fetcher
from crawler.pipeline import Pipeline
from crawler.runtime import load_runtime
from storage import FeedConfig, Store
from tests.e2e.helpers import page, rss, write_config
from tests.support.server import LoopbackServer

BODY = ("ISLAMABAD: India and Pakistan kept a backchannel open through the winter, officials in Delhi said.\n"
        "The contacts, run by the two national security advisers, were not announced.")


@pytest.fixture
def make(tmp_path: Path, server: LoopbackServer):
    made = []

    async def build(feeds: list[dict]):
        cfg = write_config(tmp_path, feeds)
        runtime = load_runtime(cfg)
        store = Store.open(runtime.config.storage_url())
        store.sync_feeds([FeedConfig(f["name"], f["url"]) for f in feeds])
        fetcher = Fetcher(runtime.config.settings.http)
        made.append((store, fetcher))
        return Pipeline(store, fetcher, runtime), store

    yield build
    for store, _ in made:
        store.close()


def _claim(store: Store, name: str):
    (feed,) = store.claim_due_feeds("t", limit=1, lease=60, names=[name])
    return feed


async def test_same_bytes_without_validators_count_as_unchanged(make, server: LoopbackServer) -> None:
    server.route("/f.xml", rss([{"title": "India, Pakistan backchannel", "link": server.url("/a")}]))
    server.route("/a", page("India, Pakistan backchannel", BODY))
    pipeline, store = await make([{"name": "f", "url": server.url("/f.xml")}])
    first = await pipeline.poll_feed(_claim(store, "f"))
    assert first.ok and first.new_articles == 1 and first.flagged == 1
    second = await pipeline.poll_feed(_claim(store, "f"))
    assert second.ok and second.not_modified and second.entries == 0
    assert server.hits("/a") == 1
    await pipeline.fetcher.aclose()


async def test_failure_backs_off_and_success_recovers(make, server: LoopbackServer) -> None:
    server.route("/f.xml", "down", status=503, headers={"Retry-After": "120"})
    pipeline, store = await make([{"name": "f", "url": server.url("/f.xml")}])
    report = await pipeline.poll_feed(_claim(store, "f"))
    assert not report.ok and report.status == 503
    state = store.get_feed("f")
    assert state.consecutive_failures == 1 and "503" in state.last_error
    assert (state.next_poll_at - datetime.now(UTC)).total_seconds() > 90  # Retry-After honoured
    server.route("/f.xml", rss([]))
    assert (await pipeline.poll_feed(_claim(store, "f"))).ok
    state = store.get_feed("f")
    assert state.consecutive_failures == 0 and state.failing_since is None
    await pipeline.fetcher.aclose()


async def test_feeds_that_do_not_fetch_articles_match_their_summary(make, server: LoopbackServer) -> None:
    server.route("/f.xml", rss([{"title": "Talks", "link": server.url("/never"),
                                 "description": "India and Pakistan held secret talks, officials in Islamabad said."}]))
    pipeline, store = await make([{"name": "f", "url": server.url("/f.xml"), "fetch_articles": False}])
    report = await pipeline.poll_feed(_claim(store, "f"))
    assert report.flagged == 1 and server.hits("/never") == 0
    (row,) = store.list_flagged()
    art = store.get_article(row.id)
    assert art.text_from == "feed" and art.fetch_error == "article fetching is off for this feed"
    await pipeline.fetcher.aclose()


async def test_one_story_in_two_feeds_polled_at_once_is_fetched_once(make, server: LoopbackServer) -> None:
    import asyncio

    item = [{"title": "India, Pakistan backchannel", "link": server.url("/a")}]
    server.route("/f1.xml", rss(item))
    server.route("/f2.xml", rss(item))
    server.route("/a", page("India, Pakistan backchannel", BODY), delay=0.3)
    pipeline, store = await make([{"name": "f1", "url": server.url("/f1.xml")},
                                  {"name": "f2", "url": server.url("/f2.xml")}])
    r1, r2 = await asyncio.gather(pipeline.poll_feed(_claim(store, "f1")), pipeline.poll_feed(_claim(store, "f2")))
    assert r1.new_articles + r2.new_articles == 1
    assert server.hits("/a") == 1
    await pipeline.fetcher.aclose()


async def test_a_thin_page_loses_to_the_feeds_full_text(make, server: LoopbackServer) -> None:
    full = " ".join(["Officials in Delhi and Islamabad kept a backchannel open, India and Pakistan said."] * 12)
    feed = f"""<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>T</title><link>http://x/</link><description>d</description>
<item><title>Talks</title><link>{server.url('/app')}</link><description>A teaser.</description>
<content:encoded><![CDATA[<p>{full}</p>]]></content:encoded></item></channel></rss>"""
    server.route("/f.xml", feed)
    server.route("/app", "<html><body><div id='consent'><p>We use cookies and similar technologies to "
                         "improve your experience. Accept all or manage your choices.</p></div>"
                         "<div id='root'></div><script>window.__STATE__={}</script></body></html>")
    pipeline, store = await make([{"name": "f", "url": server.url("/f.xml")}])
    report = await pipeline.poll_feed(_claim(store, "f"))
    assert report.new_articles == 1
    art = next(store.iter_articles())
    assert art.text_from == "feed" and art.text.startswith("Officials in Delhi")
    assert "fewer than the feed" in art.fetch_error
    await pipeline.fetcher.aclose()


async def test_the_feeds_own_ttl_still_counts_after_a_304(make, server: LoopbackServer) -> None:
    """A feed that says `<ttl>120</ttl>` is polled every two hours, not only after a poll that parsed it.

    A 304 (or the same bytes again) carries no body, so the hint must come from the last body parsed.
    """
    items = [{"title": "India, Pakistan backchannel", "link": server.url("/a")}]
    server.route("/f.xml", rss(items, ttl=120), content_type="application/rss+xml", etag='"v1"')
    server.route("/g.xml", rss(items, ttl=120), content_type="application/rss+xml")
    server.route("/a", page("India, Pakistan backchannel", BODY))
    pipeline, store = await make([{"name": "f", "url": server.url("/f.xml")},
                                  {"name": "g", "url": server.url("/g.xml")}])
    for name in ("f", "g"):
        first = await pipeline.poll_feed(_claim(store, name))
        assert first.ok and not first.not_modified
        after_parse = store.get_feed(name)
        assert after_parse is not None and after_parse.next_poll_reason == "RSS <ttl> 2h"
        second = await pipeline.poll_feed(_claim(store, name))
        assert second.ok and second.not_modified  # f: a 304; g: the same bytes again
        state = store.get_feed(name)
        assert state is not None and state.next_poll_reason == "RSS <ttl> 2h", name
        assert state.next_poll_at - state.last_poll_at > timedelta(hours=1, minutes=30)  # 2 h, less jitter
    assert server.hits("/a") == 1
    await pipeline.fetcher.aclose()
