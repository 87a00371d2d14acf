"""OPML as feed readers write it: folders, title or text, 1.0 to 2.0, duplicates, hostile files."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.opml import OpmlFeed, plan_import, read_opml, slug, write_opml
from crawler.settings import ConfigError, FeedSettings

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "opml"


def _read(name: str) -> list[OpmlFeed]:
    return read_opml((FIXTURES / name).read_bytes(), name)


def test_miniflux_folders_and_a_duplicate_in_another_folder() -> None:
    feeds = _read("miniflux.opml")
    assert [(f.title, f.category) for f in feeds] == [
        ("Dawn - Home", "All"), ("The Express Tribune", "All"), ("BBC News - Asia", "South Asia"),
        ("Dawn - Home", "South Asia")]
    plan = plan_import(feeds, [], [])
    assert [n for _, n in plan.added] == ["dawn-home", "the-express-tribune", "bbc-news-asia"]
    # the same feed under a host in capitals and a tracking parameter is the same feed
    assert [(f.url, why) for f, why in plan.skipped] == [
        ("https://WWW.DAWN.COM/feeds/home?utm_source=miniflux", "listed twice in the file (added as 'dawn-home')")]


def test_freshrss_text_only_names_made_unique_and_unicode_kept() -> None:
    feeds = _read("freshrss.opml")
    assert feeds[0].site == "https://www.dawn.com/" and feeds[0].category == "Uncategorized"
    assert feeds[1].category == "Regional & world"
    assert feeds[-1].url == "https://news.example.com/rss/search?q=India%20Pakistan&hl=en-IN"
    assert feeds[-1].category is None  # a feed at the top level, outside any folder
    plan = plan_import(feeds, ["dawn"], [])
    assert [n for _, n in plan.added] == ["dawn-2", "dawn-3", "the-hindu-international", "ڈان-اردو", "search"]


def test_feedly_opml_1_0_skips_feeds_already_configured() -> None:
    plan = plan_import(_read("feedly.opml"), ["dawn-pakistan"], ["https://www.dawn.com/feeds/pakistan"])
    assert [n for _, n in plan.added] == ["geo-news-latest", "hindustan-times-world"]
    assert [why for _, why in plan.skipped] == ["already in the config"]


def test_inoreader_non_http_feeds_are_skipped_with_the_reason() -> None:
    plan = plan_import(_read("inoreader.xml"), [], [])
    assert [n for _, n in plan.added] == ["reuters-world", "al-jazeera-asia"]
    assert [(f.url, why) for f, why in plan.skipped] == [("mailto:list@example.com", "not an http(s) URL")]


def test_netnewswire_nested_folders_and_a_feed_without_a_name() -> None:
    feeds = _read("netnewswire.opml")
    assert [f.category for f in feeds] == ["South Asia", "South Asia / Nested folder", None]
    assert [n for _, n in plan_import(feeds, [], []).added] == ["daily-times", "the-print", "example-india"]


def test_export_then_import_keeps_names_urls_and_sources() -> None:
    feeds = [FeedSettings(name="dawn-home", url="https://www.dawn.com/feeds/home", source="Dawn"),
             FeedSettings(name="odd & <name>", url="https://x.example/f?a=1&b=2")]
    back = read_opml(write_opml(feeds))
    assert [(f.title, f.url, f.category) for f in back] == [
        ("dawn-home", "https://www.dawn.com/feeds/home", "Dawn"), ("odd & <name>", "https://x.example/f?a=1&b=2", None)]
    assert b'version="2.0"' in write_opml(feeds) and b"<dateCreated>" in write_opml(feeds)


@pytest.mark.parametrize(("data", "message"), [
    (b"<opml><body><outline xmlUrl='https://a.example/?a=1&b=2'/></body></opml>", "x.opml:1:"),
    (b"<rss version='2.0'/>", "not an OPML file (its root element is <rss>)"),
    (b"<opml version='2.0'><head/></opml>", "no <body>"),
    (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
     b"<opml><body><outline text='&b;' xmlUrl='https://a.example/'/></body></opml>", "refused"),
])
def test_bad_files_are_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        read_opml(data, "x.opml")
    assert len(exc.value.problems) == 1 and message in exc.value.problems[0]


def test_slug_keeps_words_of_any_script() -> None:
    assert slug("  Dawn — Home!  ") == "dawn-home"
    assert slug("ڈان اردو") == "ڈان-اردو"
    assert slug("***") == ""
