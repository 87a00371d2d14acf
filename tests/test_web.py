"""The review app's HTTP surface: pages, JSON API, auth, CSRF, escaping, Atom, exports, metrics.

Runs the real app (FastAPI's TestClient, in process) over a real SQLite database filled
through the real rules engine with the shipped default topic.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from crawler.models import Match
from crawler.runtime import Runtime, load_runtime
from crawler.stories import similarity
from crawler.web import create_app
from crawler.web.exports import csv_safe, to_csv
from crawler.web.render import highlight
from crawler.web.security import is_loopback
from storage import NewArticle, PollOutcome, ReviewFilter, Store
from tests.e2e.test_browser import HOSTILE_TITLE, Sample, fill

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://127.0.0.1"
TOKEN = "s3cret-token-for-tests"


def _config(tmp: Path, *, token: str | None = None, host: str = "127.0.0.1") -> Path:
    review = f'host = "{host}"\npage_size = 20\n' + (f'token = "{token}"\n' if token else "")
    path = tmp / "newswatch.toml"
    path.write_text(f"""
[storage]
url = "sqlite:///{tmp / 'newswatch.db'}"
[rules]
files = [{json.dumps(str(ROOT / 'config' / 'rules' / '*.toml'))}]
[extract]
sites = {json.dumps(str(ROOT / 'config' / 'sites.toml'))}
[review]
{review}
[[feeds]]
name = "dawn-pakistan"
url = "https://www.dawn.com/feeds/pakistan"
source = "Dawn"
[[feeds]]
name = "broken"
url = "https://broken.example/feed"
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Store, Sample, Path]]:
    tmp = tmp_path_factory.mktemp("web")
    runtime = load_runtime(_config(tmp))
    store = Store.open(runtime.config.storage_url())
    sample = fill(store, runtime, stories=12)
    from storage import FeedConfig

    store.sync_feeds([FeedConfig(name="dawn-pakistan", url="https://www.dawn.com/feeds/pakistan", source="Dawn"),
                      FeedConfig(name="broken", url="https://broken.example/feed")])
    now = datetime.now(UTC)
    for name, ok in (("dawn-pakistan", True), ("broken", False), ("broken", False)):
        feed = store.get_feed(name)
        assert feed is not None
        store.record_poll(feed.id, PollOutcome(ok=ok, status=200 if ok else 503, polled_at=now,
                                               next_poll_at=now + timedelta(minutes=10), new_articles=3 if ok else 0,
                                               error=None if ok else "HTTP 503 Service Unavailable"))
    yield runtime, store, sample, tmp
    store.close()


@pytest.fixture
def client(world: tuple[Runtime, Store, Sample, Path]) -> Iterator[TestClient]:
    runtime, store, _, _ = world
    with TestClient(create_app(runtime.config, store, runtime.rules.topics), base_url=BASE) as c:
        yield c


def csrf(c: TestClient, path: str = "/") -> str:
    html = c.get(path).text
    m = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)"', html)
    assert m, html[:500]
    return m.group(1)


# ---- pages ------------------------------------------------------------------------

def test_list_page_newest_first_with_filters_and_paging(client: TestClient, world) -> None:
    _, store, sample, _ = world
    res = client.get("/?state=all")
    assert res.status_code == 200
    assert res.headers["content-security-policy"].startswith("default-src 'self'")
    ids = [int(x) for x in re.findall(r'<li class="row [^"]*" data-id="(\d+)"', res.text)]
    assert len(ids) == 20  # page_size
    expected = [r.id for r in store.review_page(ReviewFilter(state="all"), limit=20).rows]
    assert ids == expected
    page2 = client.get("/?state=all&page=2").text
    assert str(expected[0]) not in re.findall(r'data-id="(\d+)"', page2)
    assert 'rel="prev"' in page2
    # topic, source, dates
    assert client.get("/?topic=nope").text.count('class="row ') == 0
    dawn = client.get("/?state=all&source=Dawn").text
    assert dawn.count('class="row ') == sum(1 for r in store.review_page(
        ReviewFilter(state="all", source="Dawn"), limit=None).rows)
    today = datetime.now(UTC).date()
    recent = client.get(f"/?state=all&since={(today - timedelta(days=2)).isoformat()}&until={today.isoformat()}").text
    assert 0 < recent.count('class="row ') < len(sample.flagged)
    assert client.get("/?since=yesterday").status_code == 400


def test_list_search_uses_full_text(client: TestClient) -> None:
    html = client.get("/", params={"q": '"Track-II dialogue"', "state": "all"}).text
    titles = re.findall(r'class="title" href="[^"]+">([^<]+)</a>', html)
    assert titles and all("Track-II dialogue" in t for t in titles)
    assert client.get("/", params={"q": "zzyzx-no-such-word"}).text.count('class="row ') == 0


def test_article_page_highlights_hits_and_shows_clauses(client: TestClient, world) -> None:
    _, store, sample, _ = world
    aid = sample.flagged[0]
    art = store.get_article(aid)
    res = client.get(f"/articles/{aid}")
    assert res.status_code == 200
    hits = art.matches[0].explanation["hits"]
    body_hit = next(h for h in hits if h["field"] == "body")
    term, words = escape(body_hit["term"]), escape(art.text[body_hit["start"]:body_hit["end"]])
    assert f'<mark class="hit" title="{term}">{words}</mark>' in res.text
    assert 'class="clauses"' in res.text and "any of" in res.text
    assert f'href="{art.link}"' in res.text  # the original, not the canonical URL
    assert 'name="csrf_token"' in res.text
    assert client.get("/articles/999999").status_code == 404


def test_hostile_article_is_inert(client: TestClient, world) -> None:
    _, _, sample, _ = world
    for path in (f"/articles/{sample.hostile}", "/?state=all", "/dashboard"):
        html = client.get(path).text
        assert "<script>window.__pwned" not in html
        assert "<img src=x" not in html and "<svg onload" not in html
    html = client.get(f"/articles/{sample.hostile}").text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html  # not evaluated as a template either
    api = client.get(f"/api/articles/{sample.hostile}").json()
    assert api["title"] == HOSTILE_TITLE


def test_highlight_escapes_before_marking() -> None:
    text = "a <b>India</b> & <script>x</script>"
    start = text.index("India")
    out = highlight(text, [{"term": "india", "field": "body", "start": start, "end": start + 5},
                           {"term": "bad", "field": "body", "start": 900, "end": 901},
                           {"term": "t", "field": "title", "start": 0, "end": 1}], "body")
    assert str(out) == 'a &lt;b&gt;<mark class="hit" title="india">India</mark>&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;'
    overlapping = highlight("secret talks", [{"term": "a", "field": "body", "start": 0, "end": 6},
                                             {"term": "b", "field": "body", "start": 3, "end": 12}], "body")
    assert str(overlapping) == '<mark class="hit" title="a, b">secret talks</mark>'


def test_mark_from_form_moves_to_next_article(client: TestClient, world) -> None:
    _, store, _, _ = world
    rows = store.review_page(ReviewFilter(), limit=3).rows
    first, second = rows[0].id, rows[1].id
    token = csrf(client, f"/articles/{first}")
    res = client.post(f"/articles/{first}/mark", data={"state": "relevant", "note": "wire copy", "csrf_token": token},
                      follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"].startswith(f"/articles/{second}")
    art = store.get_article(first)
    assert {m.state for m in art.matches} == {"relevant"} and art.matches[0].note == "wire copy"
    # the JSON answer the list page uses
    res = client.post(f"/articles/{second}/mark?state=unreviewed", data={"state": "irrelevant", "csrf_token": token},
                      headers={"Accept": "application/json"})
    assert res.status_code == 200 and res.json()["state"] == "irrelevant"
    assert res.json()["next_id"] == rows[2].id
    store.mark(first, "unreviewed")
    store.mark(second, "unreviewed")


def test_every_post_needs_a_csrf_token(client: TestClient, world) -> None:
    _, store, sample, _ = world
    aid = sample.flagged[1]
    csrf(client)  # the client now has a CSRF cookie
    assert client.post(f"/articles/{aid}/mark", data={"state": "relevant"}).status_code == 403
    assert client.post(f"/articles/{aid}/mark", data={"state": "relevant", "csrf_token": "0" * 64}).status_code == 403
    assert client.post(f"/api/articles/{aid}/mark", json={"state": "relevant"}).status_code == 403
    story = next(iter(sample.stories))
    assert client.post(f"/stories/{story}/mark", data={"state": "relevant"}).status_code == 403
    assert client.post("/logout").status_code == 403
    # a token from another browser (another cookie) does not work either
    with TestClient(client.app, base_url=BASE) as other:
        foreign = csrf(other)
    assert client.post(f"/articles/{aid}/mark", data={"state": "relevant", "csrf_token": foreign}).status_code == 403
    # a cross-site form post is refused by its Origin even with a token
    token = csrf(client)
    res = client.post(f"/articles/{aid}/mark", data={"state": "relevant", "csrf_token": token},
                      headers={"Origin": "https://evil.example"})
    assert res.status_code == 403
    assert {m.state for m in store.get_article(aid).matches} == {"unreviewed"}
    ok = client.post(f"/api/articles/{aid}/mark", json={"state": "relevant"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200
    store.mark(aid, "unreviewed")


def test_unknown_host_names_are_refused_on_loopback(client: TestClient) -> None:
    """DNS rebinding: a page on attacker.example resolving to 127.0.0.1 must not read the app."""
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400
    assert client.get("/healthz", headers={"Host": "localhost:8080"}).status_code == 200


def test_stories_group_near_duplicates_and_mark_at_once(client: TestClient, world) -> None:
    _, store, sample, _ = world
    client.get("/")  # placing happens on demand
    for leader, ids in sample.stories.items():
        assert {store.story_of(i) for i in ids} == {leader}, (leader, ids)
    singles = [i for i in sample.flagged if not any(i in ids for ids in sample.stories.values())]
    assert all(len(store.story_rows(store.story_of(i))) == 1 for i in singles)
    leader, ids = next(iter(sample.stories.items()))
    page = client.get(f"/stories/{leader}")
    assert page.status_code == 200 and f"{len(ids)} reports" in page.text
    token = csrf(client)
    res = client.post(f"/stories/{leader}/mark", data={"state": "irrelevant", "csrf_token": token},
                      follow_redirects=False)
    assert res.status_code == 303
    assert {r.state for r in store.story_rows(leader)} == {"irrelevant"}
    api = client.get(f"/api/stories/{leader}").json()
    assert api["articles"] == len(ids)
    res = client.post(f"/api/stories/{leader}/mark", json={"state": "unreviewed"}, headers={"X-CSRF-Token": token})
    assert res.json()["changed"] == len(ids)
    assert client.get("/stories/999999").status_code == 404


def test_story_similarity_separates_copies_from_other_events() -> None:
    body = ("Officials from India and Pakistan held backchannel talks in Muscat last week, according to two "
            "people familiar with the meetings. The talks covered trade across the Wagah border and the release "
            "of fishermen. Both sides agreed to meet again within weeks, a source said.")
    copy = "ISLAMABAD: " + body + " This report was updated."
    other = ("Pakistan beat India by three wickets in a tense Asia Cup match in Colombo on Sunday, the chase "
             "going to the final over after a collapse in the middle order.")
    assert similarity(("Talks in Muscat", body), ("Talks in Muscat (Dawn)", copy)) > 0.6
    assert similarity(("Talks in Muscat", body), ("Cricket", other)) < 0.1


def test_dashboard(client: TestClient, world) -> None:
    res = client.get("/dashboard")
    assert res.status_code == 200
    html = res.text
    assert '<svg class="chart"' in html and "<rect" in html
    assert "broken" in html and "HTTP 503" in html  # the failing feed, and since when
    assert "waiting for review" in html and "Dawn" in html


def test_atom_feed_parses_and_filters_by_topic(client: TestClient, world) -> None:
    _, store, sample, _ = world
    res = client.get("/feed.atom?state=all")
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(res.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "newswatch · flagged articles"
    assert len(feed.entries) == min(100, len(sample.flagged))
    hostile = next(e for e in feed.entries if e.id == f"urn:newswatch:article:{sample.hostile}")
    assert hostile.title == HOSTILE_TITLE  # carried as text, escaped in the XML
    assert "<script>" not in res.text
    first = store.review_page(ReviewFilter(state="all"), limit=1).rows[0]
    assert feed.entries[0].link == first.link
    assert feed.entries[0].tags[0].term == first.topic
    topic = client.get("/feed.atom", params={"topic": first.topic, "state": "all"})
    assert len(feedparser.parse(topic.content).entries) == len(feed.entries)
    unknown = client.get("/feed.atom?topic=nope")
    assert unknown.status_code == 404 and "nope" in unknown.text


def test_atom_feed_leaves_out_irrelevant_and_keeps_updated_when_marked(client: TestClient, world) -> None:
    _, store, _sample, _ = world
    rows = store.review_page(ReviewFilter(state="unreviewed"), limit=3).rows
    one, two = rows[0].id, next(r.id for r in rows if r.id != rows[0].id)

    def entries(query: str = "") -> dict[str, feedparser.FeedParserDict]:
        return {e.id: e for e in feedparser.parse(client.get("/feed.atom" + query).content).entries}

    before = entries()
    key_one, key_two = f"urn:newswatch:article:{one}", f"urn:newswatch:article:{two}"
    assert key_one in before and key_two in before
    store.mark(one, "relevant")
    store.mark(two, "irrelevant")
    try:
        after = entries()
        assert key_two not in after  # never the irrelevant ones, by default
        assert after[key_one].updated == before[key_one].updated  # marking does not re-publish
        assert set(entries("?state=irrelevant")) == {f"urn:newswatch:article:{r.id}" for r in
                                                      store.review_page(ReviewFilter(state="irrelevant"),
                                                                        limit=100).rows}
        assert key_one in entries("?state=relevant") and key_one not in entries("?state=unreviewed")
        assert client.get("/feed.atom?state=bogus").status_code == 422
    finally:
        store.mark(one, "unreviewed")
        store.mark(two, "unreviewed")


def test_metrics_exposition(client: TestClient, world) -> None:
    _, store, _sample, _ = world
    res = client.get("/metrics")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = res.text.splitlines()
    sample_re = re.compile(r'^newswatch_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$')
    for line in lines:
        assert line.startswith("# HELP newswatch_") or line.startswith("# TYPE newswatch_") or sample_re.match(line), line
    text = res.text
    assert 'newswatch_polls_total{feed="broken"} 2' in text
    assert 'newswatch_errors_total{feed="broken"} 2' in text
    assert 'newswatch_fetches_total{feed="dawn-pakistan"} 1' in text
    assert f"newswatch_articles_stored {store.count_articles()}" in text
    assert 'newswatch_matches{topic="india-pakistan-backchannel",state="unreviewed"}' in text
    assert re.search(r"^newswatch_review_backlog \d+$", text, re.M)
    assert "# TYPE newswatch_polls_total counter" in text


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "backend": "sqlite"}
    spec = client.get("/api/openapi.json").json()
    for path in ("/api/articles", "/api/articles/{article_id}", "/api/articles/{article_id}/mark",
                 "/api/stories/{story_id}", "/api/stories/{story_id}/mark", "/api/search", "/api/topics",
                 "/api/feeds", "/api/stats", "/feed.atom", "/metrics", "/healthz"):
        assert path in spec["paths"], path
    assert "MarkIn" in spec["components"]["schemas"]


def test_api_docs_need_no_cdn(client: TestClient) -> None:
    res = client.get("/api/docs")
    assert res.status_code == 200 and "swagger-ui" in res.text
    csp = res.headers["content-security-policy"]
    assert "http" not in csp and "script-src 'self';" in csp
    sources = re.findall(r'(?:src|href)="([^"]+)"', res.text)
    assert sources and all(s.startswith("/") or s.startswith("data:") for s in sources), sources
    for src in sources:
        if src.startswith("/"):
            assert client.get(src).status_code == 200, src
    assert "SwaggerUIBundle" in client.get("/api/docs/assets/swagger-ui-bundle.js").text


def test_api_endpoints(client: TestClient, world) -> None:
    _, _store, sample, _ = world
    listing = client.get("/api/articles", params={"state": "all", "limit": 5}).json()
    assert listing["total"] == len(sample.flagged) and len(listing["items"]) == 5
    assert client.get("/api/articles", params={"q": "Wagah", "state": "all"}).json()["total"] > 0
    detail = client.get(f"/api/articles/{sample.flagged[2]}").json()
    assert detail["matches"][0]["explanation"]["hits"]
    assert client.get("/api/articles/424242").status_code == 404
    found = client.get("/api/search", params={"q": "cricket OR wickets"}).json()  # unflagged articles too
    assert found["total"] >= 1 and found["items"][0]["topics"] == []
    topics = client.get("/api/topics").json()
    assert topics[0]["id"] == "india-pakistan-backchannel" and topics[0]["name"]
    feeds = {f["name"]: f for f in client.get("/api/feeds").json()}
    assert feeds["broken"]["consecutive_failures"] == 2 and feeds["broken"]["failing_since"]
    stats = client.get("/api/stats").json()
    assert sum(d["flagged"] for d in stats["per_day"]) == len(sample.flagged)
    assert stats["backlog"]["counts"]["unreviewed"] >= 1
    bad = client.post(f"/api/articles/{sample.flagged[0]}/mark", json={"state": "maybe"},
                      headers={"X-CSRF-Token": csrf(client)})
    assert bad.status_code == 422


# ---- authentication ------------------------------------------------------------------

@pytest.fixture
def locked(world, tmp_path: Path) -> Iterator[TestClient]:
    runtime, store, _, _ = world
    cfg = runtime.config.settings.model_copy(deep=True)
    cfg.review.token = TOKEN
    cfg.review.host = "0.0.0.0"
    from crawler.settings import LoadedConfig

    app = create_app(LoadedConfig(settings=cfg, path=runtime.config.path), store)
    with TestClient(app, base_url="http://review.example.org") as c:
        yield c


def test_token_protects_everything_but_healthz(locked: TestClient, world) -> None:
    _, _, sample, _ = world
    res = locked.get("/", follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"].startswith("/login")
    assert locked.get("/api/articles").status_code == 401
    assert locked.get("/metrics").status_code == 401
    atom = locked.get("/feed.atom")
    assert atom.status_code == 401 and atom.headers["www-authenticate"].startswith("Basic")
    assert locked.get("/healthz").status_code == 200
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert locked.get("/api/articles", headers=bearer).status_code == 200
    assert locked.get("/api/articles", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert locked.get("/feed.atom", auth=("reader", TOKEN)).status_code == 200
    # bearer clients need no CSRF token (a browser never adds that header by itself)
    res = locked.post(f"/api/articles/{sample.flagged[3]}/mark", json={"state": "relevant"}, headers=bearer)
    assert res.status_code == 200
    locked.post(f"/api/articles/{sample.flagged[3]}/mark", json={"state": "unreviewed"}, headers=bearer)


def test_login_form_sets_a_session(locked: TestClient) -> None:
    page = locked.get("/login?next=/dashboard")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    bad = locked.post("/login", data={"password": "nope", "next": "/dashboard", "csrf_token": token})
    assert bad.status_code == 401 and "Wrong name or token" in bad.text
    ok = locked.post("/login", data={"password": TOKEN, "next": "/dashboard", "csrf_token": token},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard"
    assert "httponly" in ok.headers["set-cookie"].lower()
    assert locked.get("/dashboard").status_code == 200
    evil = locked.post("/login", data={"password": TOKEN, "next": "//evil.example/", "csrf_token": token},
                       follow_redirects=False)
    assert evil.headers["location"] == "/"  # no open redirect
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', locked.get("/").text).group(1)
    locked.post("/logout", data={"csrf_token": token})
    assert locked.get("/", follow_redirects=False).status_code == 303


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.org")


# ---- CLI: serve refuses, export writes ---------------------------------------------

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                    "NEWSWATCH_DATA_DIR": str(cwd / "data"), "COLUMNS": "200"})


def test_serve_refuses_a_public_host_without_token(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    res = _cli("serve", "--host", "0.0.0.0", "--config", str(cfg), cwd=tmp_path)
    assert res.returncode == 2
    assert "review.token" in res.stderr and "0.0.0.0" in res.stderr
    public = _config(tmp_path, host="192.168.1.20")
    res = _cli("serve", "--config", str(public), cwd=tmp_path)
    assert res.returncode == 2 and "refusing" in res.stderr


def test_export_formats(world) -> None:
    runtime, store, sample, tmp = world
    cfg = str(runtime.config.path)
    out = tmp / "flagged.csv"
    res = _cli("export", "--format", "csv", "--output", str(out), "--config", cfg, cwd=tmp)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert len(rows) == len(sample.flagged)
    assert rows[0]["id"] == str(store.review_page(ReviewFilter(state="all"), limit=1).rows[0].id)
    res = _cli("export", "--format", "jsonl", "--state", "unreviewed", "--config", cfg, cwd=tmp)
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert {x["state"] for x in lines} == {"unreviewed"} and all("text" in x for x in lines)
    res = _cli("export", "--format", "json", "--topic", "india-pakistan-backchannel", "--config", cfg, cwd=tmp)
    assert len(json.loads(res.stdout)) == len(sample.flagged)
    res = _cli("export", "--format", "atom", "--config", cfg, cwd=tmp)
    feed = feedparser.parse(res.stdout.encode())
    assert not feed.bozo and len(feed.entries) == len(sample.flagged)
    assert _cli("export", "--format", "xml", "--config", cfg, cwd=tmp).returncode == 2


def test_csv_is_safe_against_formula_injection(tmp_path: Path) -> None:
    for cell, safe in (("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"), ("+1", "'+1"),
                       ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
                       ("India", "India"), ("", ""), (None, "")):
        assert csv_safe(cell) == safe
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    store.add_article(NewArticle(url="https://e.x/1", link="https://e.x/1", title="=cmd|' /C calc'!A0",
                                 text="@evil", method="generic", text_from="page", fetched_at=datetime.now(UTC),
                                 source="+Source"),
                      [Match("t", 1.0, ["-term"], {"hits": []}, "v")])
    rows = store.review_page(ReviewFilter(state="all"), details=True).rows
    parsed = next(iter(csv.DictReader(io.StringIO(to_csv(rows)))))
    assert parsed["title"] == "'=cmd|' /C calc'!A0"
    assert parsed["source"] == "'+Source" and parsed["matched_terms"] == "'-term"
    for value in parsed.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    store.close()


def test_paragraphs_keep_whole_text_offsets() -> None:
    from crawler.web.render import highlight_paragraphs

    text = "First <line> India\n\nSecond Pakistan\nThird"
    hits = [{"term": "india", "field": "body", "start": text.index("India"), "end": text.index("India") + 5},
            {"term": "pakistan", "field": "body", "start": text.index("Pakistan"), "end": text.index("Pakistan") + 8}]
    paras = [str(p) for p in highlight_paragraphs(text, hits, "body")]
    assert paras == ['First &lt;line&gt; <mark class="hit" title="india">India</mark>',
                     'Second <mark class="hit" title="pakistan">Pakistan</mark>', "Third"]


def test_list_page_small_things(client: TestClient, world) -> None:
    _, _store, _, _ = world
    html = client.get("/").text
    # the failing feed of the fixture is named in a banner on the list page
    assert 'class="banner warn"' in html and "1 feed is failing" in html and "broken" in html
    searched = client.get("/", params={"q": '"Wagah border"', "state": "all"}).text
    assert "matching &#34;Wagah border&#34;" in searched and "“&#34;" not in searched
    assert "matching “Wagah”" in client.get("/", params={"q": "Wagah", "state": "all"}).text
    from crawler.display import plural

    assert plural(1, "report") == "1 report" and plural(2, "report") == "2 reports"
    assert plural(1, "feed is", "feeds are") == "1 feed is"


def test_a_json_mark_returns_the_counters(client: TestClient, world) -> None:
    _, store, _, _ = world
    aid = store.review_page(ReviewFilter(state="unreviewed"), limit=1).rows[0].id
    before = store.review_counts()["unreviewed"]
    res = client.post(f"/articles/{aid}/mark", data={"state": "relevant", "csrf_token": csrf(client)},
                      headers={"Accept": "application/json"})
    try:
        data = res.json()
        assert data["backlog"] == store.review_counts()["unreviewed"] < before
        assert data["total"] == store.review_page(ReviewFilter(state="unreviewed"), limit=0).total
    finally:
        store.mark(aid, "unreviewed")


def test_what_pages_derive_from_every_match_follows_marks_and_new_matches(world) -> None:
    """The filter menus and dashboard counts are kept between requests, but never outlive a change."""
    runtime, store, sample, _ = world
    app = create_app(runtime.config, store, runtime.rules.topics)
    ctx = app.state.ctx
    calls = []

    def counts() -> dict[str, int]:
        calls.append(1)
        return store.review_counts()

    before = ctx.derived("counts", counts)
    assert ctx.derived("counts", counts) == before and len(calls) == 1
    aid = sample.flagged[0]
    old = store.get_article(aid).matches[0].state
    store.mark(aid, "irrelevant" if old != "irrelevant" else "relevant")
    try:
        after = ctx.derived("counts", counts)
        assert len(calls) == 2 and after == store.review_counts() and after != before
        assert ctx.derived("counts", counts, arg="another day") == after and len(calls) == 3
    finally:
        store.mark(aid, old)


def test_warm_up_prepares_the_app_and_survives_a_database_it_cannot_write(world, monkeypatch) -> None:
    """`serve` warms up before listening: templates compiled, planner statistics written (SQLite);
    a database that refuses the statistics (read-only, locked) still gets served."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from crawler.web.app import warm_up

    runtime, store, sample, _ = world
    app = create_app(runtime.config, store, runtime.rules.topics)
    warm_up(app)
    env = app.state.ctx.templates.env
    assert env.cache and all(env.get_template(n) is env.get_template(n) for n in env.list_templates(["html"]))
    if store.backend == "sqlite":
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar_one() > 0

    def refused() -> None:
        raise OperationalError("ANALYZE", {}, Exception("attempt to write a readonly database"))

    monkeypatch.setattr(store, "refresh_planner_statistics", refused)
    app = create_app(runtime.config, store, runtime.rules.topics)
    warm_up(app)
    with TestClient(app, base_url=BASE) as c:
        assert c.get(f"/articles/{sample.flagged[0]}").status_code == 200
