"""The offline demo site (`crawler/demo_site/`) agrees with its manifest.

The manifest is the answer key that `newswatch demo` and the end-to-end tests score the
daemon against, so a page that is missing, a feed that does not parse, or a feed link that
the manifest does not know would make those tests lie. These checks read the files only;
nothing here serves or extracts them.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
import pytest

SITE = Path(__file__).resolve().parents[1] / "crawler" / "demo_site"
BASE = "http://127.0.0.1:43123"
PLACEHOLDER = "{{BASE}}"
SOFT_HYPHEN = "\u00ad"
BACKCHANNEL = re.compile(r"back[\s\-\u2010\u2011]?channel", re.IGNORECASE)


def _manifest() -> dict:
    return tomllib.loads((SITE / "manifest.toml").read_text(encoding="utf-8"))


MANIFEST = _manifest()
ARTICLES = MANIFEST["articles"]
FEEDS = MANIFEST["feeds"]
SEARCH_ITEMS = MANIFEST.get("search_items", [])


def _served(path: Path) -> str:
    """A file as the demo server sends it: the placeholder replaced by the base URL."""
    return path.read_text(encoding="utf-8").replace(PLACEHOLDER, BASE)


def _parsed_feed(feed: dict) -> feedparser.FeedParserDict:
    return feedparser.parse(_served(SITE / feed["file"]))


def _is_opaque(url: str) -> bool:
    parts = urlsplit(url)
    return parts.hostname == "news.google.com" and parts.path.startswith("/rss/articles/")


def _strip_tracking(url: str) -> str:
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _links_by_feed() -> dict[str, list[str]]:
    return {feed["name"]: [entry.link for entry in _parsed_feed(feed).entries] for feed in FEEDS}


def _visible_and_jsonld(html: str) -> tuple[str, list[str]]:
    """Text outside <script>/<style>, and the bodies of JSON-LD scripts."""

    class _Split(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.text: list[str] = []
            self.jsonld: list[str] = []
            self._in: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "script":
                self._in = "ld" if dict(attrs).get("type") == "application/ld+json" else "skip"
                if self._in == "ld":
                    self.jsonld.append("")
            elif tag == "style":
                self._in = "skip"

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style"):
                self._in = None

        def handle_data(self, data: str) -> None:
            if self._in == "ld":
                self.jsonld[-1] += data
            elif self._in is None:
                self.text.append(data)

    parser = _Split()
    parser.feed(html)
    return " ".join(parser.text), parser.jsonld


# --------------------------------------------------------------------------- manifest


def test_manifest_shape() -> None:
    assert {f["name"] for f in FEEDS} == {
        "dawn-pakistan",
        "tribune-latest",
        "world-atom",
        "news-search",
    }
    for feed in FEEDS:
        assert set(feed) >= {"name", "path", "source", "file"}
        assert feed["path"] == "/" + feed["file"], "a feed's URL path is its file"
    assert 12 <= len(ARTICLES) <= 16
    for item in [*ARTICLES, *SEARCH_ITEMS]:
        assert item["label"] in (0, 1), item
        assert isinstance(item["label"], int) and not isinstance(item["label"], bool)
        assert item["why"].strip(), item
    assert len({a["path"] for a in ARTICLES}) == len(ARTICLES)
    assert len({a["id"] for a in [*ARTICLES, *SEARCH_ITEMS]}) == len(ARTICLES) + len(SEARCH_ITEMS)


def test_label_balance() -> None:
    labels = Counter(a["label"] for a in ARTICLES)
    assert 5 <= labels[1] <= 7
    assert labels[0] >= labels[1]
    search = Counter(s["label"] for s in SEARCH_ITEMS)
    assert search[1] >= 1 and search[0] >= 1


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: a["id"])
def test_article_page(article: dict) -> None:
    path = article["path"]
    assert path.startswith("/") and "?" not in path and "#" not in path
    assert article["file"] == path.lstrip("/") + ".html"
    file = SITE / article["file"]
    assert file.resolve().is_relative_to(SITE.resolve())
    assert file.is_file(), f"missing page {article['file']}"
    size = file.stat().st_size
    assert 3_000 <= size <= 10_240, f"{article['file']} is {size} bytes"

    raw = file.read_text(encoding="utf-8")
    assert raw.lstrip().lower().startswith("<!doctype html>")
    assert re.search(r"<html\s[^>]*lang=", raw)
    assert PLACEHOLDER in raw, "links on the page should use {{BASE}}"
    assert "127.0.0.1" not in raw

    html = _served(file)
    text, jsonld = _visible_and_jsonld(html)
    for block in jsonld:
        data = json.loads(block)
        assert data["@type"] == "NewsArticle"
        assert data["headline"] == article["title"]
        assert data["datePublished"].startswith("2026-")
    assert article["title"] in text or any(
        json.loads(b)["headline"] == article["title"] for b in jsonld
    )
    for furniture in ("<nav", "<footer"):
        assert furniture in html, f"{article['id']} lacks {furniture}"


def test_no_unlisted_files() -> None:
    listed = {a["file"] for a in ARTICLES} | {f["file"] for f in FEEDS}
    listed |= {"manifest.toml", "README.md"}
    present = {p.relative_to(SITE).as_posix() for p in SITE.rglob("*") if p.is_file()}
    assert present == listed


def test_outlet_markup() -> None:
    """The pages carry the markup their outlet profile looks for (OUTLETS.md)."""
    by_outlet: dict[str, list[str]] = {}
    for a in ARTICLES:
        by_outlet.setdefault(a["outlet"], []).append((SITE / a["file"]).read_text(encoding="utf-8"))
    for html in by_outlet["Dawn"]:
        assert re.search(r'<article class="story\b[^"]*" data-id="\d{7}"', html)
        assert re.search(r'class="story__content [^"]+"', html), "extra utility classes"
        assert re.search(r'class="timestamp--time[^"]*" title="2026-[^"]+\+05:00"', html)
        assert html.count("story__byline") >= 2, "sidebar bylines too"
    for html in by_outlet["The Express Tribune"]:
        assert '<span class="story-text">' in html
    for html in by_outlet["Al Jazeera"]:
        assert re.search(r'class="wysiwyg wysiwyg--all-content css-[0-9a-z]+"', html)
    for html in by_outlet["BBC"] + by_outlet["BBC Urdu"]:
        assert html.count('data-component="text-block"') >= 3
    (urdu,) = by_outlet["BBC Urdu"]
    assert '<html lang="ur" dir="rtl">' in urdu
    for word in ("بیک چینل", "پاکستان", "بھارت", "خفیہ مذاکرات"):
        assert word in urdu


def test_jsonld_only_page_hides_the_topic_from_visible_text() -> None:
    (page,) = [a for a in ARTICLES if a["outlet"] == "Times of India"]
    text, jsonld = _visible_and_jsonld(_served(SITE / page["file"]))
    body = json.loads(jsonld[0])["articleBody"]
    assert BACKCHANNEL.search(body)
    assert not BACKCHANNEL.search(text)
    paragraphs = body.split("\n")
    assert len(paragraphs) >= 4
    assert not any(p in text for p in paragraphs[1:]), "only a teaser is visible"


def test_positives_vary_their_vocabulary() -> None:
    def words(a: dict) -> str:
        html = _served(SITE / a["file"]).replace(SOFT_HYPHEN, "")
        text, jsonld = _visible_and_jsonld(html)
        return text + " ".join(jsonld)

    positives = [a for a in ARTICLES if a["label"] == 1]
    without = [
        a["id"]
        for a in positives
        if not BACKCHANNEL.search(words(a)) and "بیک چینل" not in words(a)
    ]
    assert len(without) >= 2, without
    raw_pages = [(SITE / a["file"]).read_text(encoding="utf-8") for a in positives]
    assert any(SOFT_HYPHEN in p for p in raw_pages)


def test_negatives_set_traps() -> None:
    """Several off-topic pages carry on-topic headlines outside the article body."""
    traps = [a for a in ARTICLES if a["label"] == 0 and "TRAP" in a["why"]]
    assert len(traps) >= 4
    for a in traps:
        html = _served(SITE / a["file"])
        assert BACKCHANNEL.search(html) or re.search(r"secret|quietly|Track-II", html), a["id"]


# --------------------------------------------------------------------------- feeds


@pytest.mark.parametrize("feed", FEEDS, ids=lambda f: f["name"])
def test_feed_parses(feed: dict) -> None:
    raw = (SITE / feed["file"]).read_text(encoding="utf-8")
    parsed = _parsed_feed(feed)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries
    if feed["name"] == "world-atom":
        assert parsed.version == "atom10"
        assert {e.source.title for e in parsed.entries} >= {"Al Jazeera", "BBC News - Asia"}
    else:
        assert parsed.version == "rss20"
    if feed["name"] == "dawn-pakistan":
        assert SOFT_HYPHEN in raw
        assert all(e.get("author") for e in parsed.entries), "dc:creator on every item"
    if feed["name"] == "news-search":
        assert all(_is_opaque(e.link) for e in parsed.entries)
        assert all(e.source.get("href", "").startswith("https://") for e in parsed.entries)
    for entry in parsed.entries:
        assert entry.title and entry.get("summary") and entry.get("published_parsed")


def test_every_feed_link_is_known() -> None:
    paths = {a["path"] for a in ARTICLES}
    search_links = {s["link"] for s in SEARCH_ITEMS}
    for name, links in _links_by_feed().items():
        for link in links:
            if _is_opaque(link):
                assert link in search_links, f"{name}: opaque link not in [[search_items]]"
                continue
            assert link.startswith(BASE + "/"), f"{name}: {link} is not served by the demo"
            assert urlsplit(_strip_tracking(link)).path in paths, f"{name}: {link} not in manifest"


def test_manifest_feeds_match_the_feeds() -> None:
    seen: dict[str, set[str]] = {}
    for name, links in _links_by_feed().items():
        for link in links:
            if not _is_opaque(link):
                seen.setdefault(urlsplit(_strip_tracking(link)).path, set()).add(name)
    for a in ARTICLES:
        assert set(a["feeds"]) == seen.get(a["path"], set()), a["id"]
    all_search = {
        e.link for e in _parsed_feed(next(f for f in FEEDS if f["name"] == "news-search")).entries
    }
    assert all_search == {s["link"] for s in SEARCH_ITEMS}


def test_duplicates_and_tracking_parameters() -> None:
    links = [link for ls in _links_by_feed().values() for link in ls if not _is_opaque(link)]
    tracked = [link for link in links if "utm_source=rss" in link and "utm_medium=feed" in link]
    assert len(tracked) >= 2
    canonical = Counter(_strip_tracking(link) for link in links)
    dupes = [url for url, n in canonical.items() if n > 1]
    assert dupes, "one story should appear in two feeds"
    assert len(canonical) == len(ARTICLES), "after stripping tracking, one URL per page"
