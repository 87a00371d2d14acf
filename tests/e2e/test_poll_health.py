"""`poll --once` and `status` as an administrator reads them: a dead network, a stretched interval."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from crawler.extract import load_site_profiles
from crawler.scrape import read_page
from storage import NewArticle, Store
from tests.e2e.helpers import newswatch, page, rss, write_config
from tests.support.server import LoopbackServer


def test_poll_once_exits_1_only_when_every_feed_failed(tmp_path: Path, server: LoopbackServer) -> None:
    server.route("/down.xml", "oops", status=503)
    server.route("/gone.xml", "no", status=404)
    server.route("/ok.xml", rss([]), content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "down", "url": server.url("/down.xml")},
                                  {"name": "gone", "url": server.url("/gone.xml")},
                                  {"name": "ok", "url": server.url("/ok.xml"), "enabled": False}])
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Every feed failed: check the network, DNS and any proxy" in res.stderr
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
    assert res.returncode == 1 and [r["ok"] for r in json.loads(res.stdout)] == [False, False]
    assert newswatch(tmp_path, "feeds", "enable", "ok", "--config", str(cfg)).returncode == 0
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg))
    assert res.returncode == 0, res.stdout + res.stderr  # one feed answered: the network is there
    assert "Every feed failed" not in res.stderr


def test_status_shows_why_the_next_poll_is_later(tmp_path: Path, server: LoopbackServer) -> None:
    server.route("/slow.xml", rss([], ttl=120), content_type="application/rss+xml")  # <ttl> in minutes
    server.route("/plain.xml", rss([]), content_type="application/rss+xml")
    server.route("/down.xml", "oops", status=500)
    cfg = write_config(tmp_path, [{"name": "slow", "url": server.url("/slow.xml")},
                                  {"name": "plain", "url": server.url("/plain.xml")},
                                  {"name": "down", "url": server.url("/down.xml"), "interval": "1m"}],
                       schedule='max_interval = "6h"')
    newswatch(tmp_path, "poll", "--once", "--config", str(cfg))
    for _ in range(2):
        newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--feed", "down")
    res = newswatch(tmp_path, "status", "--config", str(cfg), "--json")
    assert res.returncode == 0, res.stderr
    why = {f["name"]: f["next_poll_reason"] for f in json.loads(res.stdout)["feeds"]}
    assert why == {"slow": "RSS <ttl> 2h", "plain": None, "down": "back-off after 3 failures in a row"}
    table = newswatch(tmp_path, "status", "--config", str(cfg)).stdout
    assert "(RSS <ttl> 2h)" in table and "(back-off after 3 failures in a row)" in table



def test_check_warns_of_stale_profiles_and_status_counts_their_fallbacks(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [])
    sites = tmp_path / "config" / "sites.toml"
    sites.write_text('[sites.dawn]\ndomains = ["dawn.com"]\nbody = [".story__gone"]\nverified = 2026-01-15\n\n'
                     '[sites.fresh]\ndomains = ["fresh.example"]\nbody = [".x"]\nverified = 2099-01-01\n',
                     encoding="utf-8")
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(re.sub(r'(?m)^sites = .*$', 'sites = "sites.toml"\nprofile_max_age = "90d"', text),
                   encoding="utf-8")
    res = newswatch(tmp_path, "check", "--config", str(cfg))
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == [
        f"warning: {sites}: profile dawn: last verified 2026-01-15, due again 2026-04-15; check its selectors "
        "against the site and update `verified` (extract.profile_max_age = 90d)"]
    # a page of the profile's site whose body selector finds nothing: read by another method, and counted
    scraped = read_page(page("Markets close higher", "KARACHI: Stocks rose on Friday.\nTrading was brisk.").encode(),
                        "https://www.dawn.com/news/1", "text/html", load_site_profiles(sites))
    assert scraped.profile_failed == "dawn" and scraped.article is not None and "Stocks rose" in scraped.article.text
    store = Store.open(f"sqlite:///{tmp_path / 'newswatch.db'}")
    for i in range(2):
        store.add_article(NewArticle(url=f"https://www.dawn.com/news/{i}", link=f"https://www.dawn.com/news/{i}",
                                     title="t", text="x", method=scraped.article.method, text_from="page",
                                     fetched_at=datetime.now(UTC), profile_failed=scraped.profile_failed))
    store.close()
    status = json.loads(newswatch(tmp_path, "status", "--config", str(cfg), "--json").stdout)
    assert status["profile_fallbacks"] == {"dawn": 2}
    table = " ".join(newswatch(tmp_path, "status", "--config", str(cfg)).stdout.split())
    assert "Site profiles that found no body, so another method was used: dawn 2×" in table
