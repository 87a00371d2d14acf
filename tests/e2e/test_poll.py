"""`newswatch poll --once` against a real loopback site and a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.helpers import db, newswatch, page, rss, write_config
from tests.support.server import LoopbackServer

POSITIVE = ("India and Pakistan held secret talks, officials say",
            "NEW DELHI: Officials from India and Pakistan held secret talks in a Gulf capital last month, "
            "three people familiar with the meetings said.\nThe backchannel, run by the two national security "
            "advisers, aimed to restore the ceasefire along the Line of Control.")
NEGATIVE = ("Pakistan beat India by six wickets in Colombo",
            "COLOMBO: Pakistan chased down 241 with an over to spare against India on Sunday.\n"
            "The captain praised the bowlers after the match.")
SIDEBAR = "<li><a href='/x'>India, Pakistan NSAs in secret talks: a backchannel opens</a></li>"


def _site(server: LoopbackServer) -> None:
    server.route("/news/1", page(*POSITIVE))
    server.route("/news/2", page(*NEGATIVE, sidebar=SIDEBAR))
    server.route("/news/3", page("Markets close higher", "KARACHI: Stocks rose on Friday.", sidebar=SIDEBAR))
    items = [
        {"title": POSITIVE[0], "link": server.url("/news/1?utm_source=rss&utm_medium=feed")},
        {"title": NEGATIVE[0], "link": server.url("/news/2")},
        {"title": "Markets close higher", "link": server.url("/news/3#top")},
    ]
    server.route("/feed.xml", rss(items), content_type="application/rss+xml",
                 etag='"v1"', last_modified="Fri, 27 Nov 2026 03:00:00 GMT")
    atom = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>World</title><id>urn:x</id><updated>2026-11-27T08:00:00Z</updated>
<entry><title>{POSITIVE[0]}</title><link href="{server.url('/news/1')}"/><id>urn:1</id>
<updated>2026-11-27T08:00:00Z</updated></entry></feed>"""
    server.route("/atom.xml", atom, content_type="application/atom+xml", etag='"a1"')


def test_first_poll_flags_then_second_uses_conditional_get(tmp_path: Path, server: LoopbackServer) -> None:
    _site(server)
    cfg = write_config(tmp_path, [
        {"name": "rss", "url": server.url("/feed.xml"), "source": "Test RSS"},
        {"name": "atom", "url": server.url("/atom.xml")},
    ])
    first = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
    assert first.returncode == 0, first.stderr
    reports = {r["feed"]: r for r in json.loads(first.stdout)}
    assert reports["rss"]["ok"] and reports["atom"]["ok"]
    assert reports["rss"]["new_articles"] + reports["atom"]["new_articles"] == 3  # /news/1 stored once

    with db(tmp_path) as conn:
        urls = {r["url"] for r in conn.execute("select url from articles")}
        flagged = {r["url"] for r in conn.execute(
            "select a.url from matches m join articles a on a.id = m.article_id")}
    assert urls == {server.url("/news/1"), server.url("/news/2"), server.url("/news/3")}  # canonical: no utm, no fragment
    assert flagged == {server.url("/news/1")}  # the sidebar's on-topic headline did not leak in
    assert server.hits("/news/1") == 1

    listed = newswatch(tmp_path, "review", "list", "--config", str(cfg), "--json")
    rows = json.loads(listed.stdout)
    assert [r["url"] for r in rows] == [server.url("/news/1")]
    assert {"id", "url", "title", "source", "published", "topic", "score", "state", "matched_terms"} <= set(rows[0])
    assert rows[0]["topic"] == "backchannel-test"
    # Both feeds list /news/1 and are polled at once: the one that stores it first gives its source.
    assert rows[0]["source"] == {"rss": "Test RSS", "atom": None}[rows[0]["feed"]], rows[0]

    server.reset_log()
    second = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
    assert second.returncode == 0, second.stderr
    assert all(r["not_modified"] for r in json.loads(second.stdout))
    feed_reqs = server.requests_for("/feed.xml")
    assert feed_reqs[0].headers.get("if-none-match") == '"v1"'
    assert "if-modified-since" not in feed_reqs[0].headers  # ETag wins; never both
    assert server.requests_for("/atom.xml")[0].headers.get("if-none-match") == '"a1"'
    assert not [r for r in server.requests if r.path.startswith("/news/")]  # no page fetched again

    status = json.loads(newswatch(tmp_path, "status", "--config", str(cfg), "--json").stdout)
    rss_status = next(f for f in status["feeds"] if f["name"] == "rss")
    assert rss_status["http_status"] == 304 and rss_status["not_modified"] == 1 and rss_status["polls"] == 2


def test_unfetchable_pages_fall_back_to_feed_text(tmp_path: Path, server: LoopbackServer) -> None:
    server.route("/feed.xml", rss([
        {"title": "India, Pakistan in backchannel contact", "link": server.url("/gone"),
         "description": "Islamabad and New Delhi kept a backchannel open, sources said."},
        {"title": "India Pakistan secret talks", "link": "https://news.google.com/rss/articles/CBMiQWh0dHBzOi8v?oc=5",
         "description": "Reports of secret talks between Delhi and Islamabad."},
    ]), content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "f", "url": server.url("/feed.xml")}])
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
    assert res.returncode == 0, res.stderr
    (report,) = json.loads(res.stdout)
    assert report["new_articles"] == 2 and report["flagged"] == 2 and report["page_errors"] == 1
    with db(tmp_path) as conn:
        rows = {r["url"]: r for r in conn.execute("select * from articles")}
    gone = rows[server.url("/gone")]
    assert gone["text_from"] == "feed" and "404" in gone["fetch_error"]
    token = next(r for u, r in rows.items() if "news.google.com" in u)
    assert token["text_from"] == "feed" and "redirect token" in token["fetch_error"]
    assert not [r for r in server.requests if "google" in r.path]


def test_broken_config_names_every_mistake(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("""
[http]
timeout = "ten seconds"
per_host_concurrency = 0

[schedule]
intervall = "5m"

[[feeds]]
name = "x"
url = "ftp://example.com/feed"
""")
    res = newswatch(tmp_path, "check", "--config", str(cfg))
    assert res.returncode == 2
    err = res.stderr
    for key in ("http.timeout", "http.per_host_concurrency", "schedule.intervall", "feeds[0].url"):
        assert key in err, err
    assert str(cfg) in err
    assert "Traceback" not in err


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[http]\ntimeout = "1s\n')
    res = newswatch(tmp_path, "check", "--config", str(cfg))
    assert res.returncode == 2 and "line 2" in res.stderr and "Traceback" not in res.stderr


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    res = newswatch(tmp_path, "check", "--config", str(tmp_path / "nope.toml"))
    assert res.returncode == 2 and "not found" in res.stderr


def test_run_with_an_unreachable_database_exits_1_without_traceback(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [])
    cfg.write_text(cfg.read_text().replace(f"sqlite:///{tmp_path / 'newswatch.db'}",
                                           "postgresql+psycopg://nobody:x@127.0.0.1:1/none"))
    res = newswatch(tmp_path, "run", "--config", str(cfg))
    assert res.returncode == 1 and "cannot open the database" in res.stderr and "Traceback" not in res.stderr
