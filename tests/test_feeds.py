"""Feed parsing: every dialect the default outlets use, and the ways real feeds break."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.feeds import SUMMARY_MAX_CHARS, FeedError, html_to_text, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


def _parse(name: str, url: str = "https://feeds.example/feed", **kw: object):
    return parse_feed((FIXTURES / name).read_bytes(), feed_name="test", feed_url=url, **kw)


def test_rss091() -> None:
    feed = _parse("rss091.xml")
    assert feed.title == "Frontier Gazette: Top Stories"
    assert [e.url for e in feed.entries] == [
        "https://gazette.example.com/story.php?id=4411",
        "https://gazette.example.com/story.php?id=4412",
    ]
    first = feed.entries[0]
    assert first.link == "https://gazette.example.com/story.php?id=4411&utm_source=rss"
    assert first.summary == "Officials from both sides met for three hours on Monday."
    assert first.published is None
    assert first.language == "en-gb"


def test_rss10_rdf() -> None:
    feed = _parse("rss10.rdf")
    assert feed.title == "Example Wire — South Asia"
    assert feed.ttl == 1800.0  # sy:updatePeriod hourly, sy:updateFrequency 2
    envoys = feed.entries[0]
    assert envoys.url == "https://wire.example.org/2025/05/12/envoys-meet/"  # fragment dropped
    assert envoys.authors == ["Amina Siddiqui"]
    assert envoys.published == datetime(2025, 5, 12, 3, 0, tzinfo=UTC)


def test_dawn_style_rss20() -> None:
    feed = _parse("dawn_rss20.xml", url="https://www.dawn.example/feeds/pakistan",
                  source="Dawn")
    assert feed.ttl == 15 * 60
    assert feed.link == "https://www.dawn.example/pakistan"
    urls = [e.url for e in feed.entries]
    # the same story linked twice (other tracking, host case, port, fragment) is one entry;
    # the item with neither link nor URL guid is skipped
    assert urls == [
        "https://www.dawn.example/news/1911001/backchannel-talks-on-track",
        "https://www.dawn.example/news/1911002/karachi-weather",
        "https://www.dawn.example/news/1911003/relative-link",
    ]
    story = feed.entries[0]
    # soft hyphens inside words are gone, typographic quotes kept
    assert story.title == "Backchannel talks between Islamabad and New Delhi ‘on track’"
    assert "\u00ad" not in story.summary
    assert story.summary == (
        "ISLAMABAD: Officials say the backchannel has been “useful” so far.\nSecond para."
    )
    # link kept as given (only trimmed), url canonical
    assert story.link.endswith("?utm_source=rss&utm_medium=feed")
    assert story.published == datetime(2025, 5, 12, 5, 15, tzinfo=UTC)
    assert story.published.tzinfo is not None
    assert story.authors == ["Baqir Sajjad Syed"]
    assert story.guid == "1911001"
    assert story.source == "Dawn"
    assert story.feed_name == "test"
    assert story.opaque is False
    # no <link>: the permalink guid is the link; "email (Name)" gives the name only
    weather = feed.entries[1]
    assert weather.link == weather.guid == "https://www.dawn.example/news/1911002/karachi-weather"
    assert weather.authors == ["Newsdesk"]
    # a relative link is resolved against the feed's URL
    relative = feed.entries[2]
    assert relative.link == "https://www.dawn.example/news/1911003/relative-link"
    assert len(relative.summary) <= SUMMARY_MAX_CHARS + 1
    assert relative.summary.endswith("…")


def test_atom10() -> None:
    feed = _parse("atom.xml", url="https://observer.example.net/world/atom.xml")
    assert feed.title == "The Observer & Review — World"
    first, second = feed.entries
    # relative href against xml:base, tracking parameter dropped from url only
    assert first.link == (
        "https://observer.example.net/world/2025/05/12/back-channel-contacts?fbclid=XYZ123"
    )
    assert first.url == "https://observer.example.net/world/2025/05/12/back-channel-contacts"
    assert first.title == "Quiet back-channel contacts reported"  # type="html" stripped
    assert first.summary == "Officials met in a Gulf capital.\nNeither side confirmed."
    assert first.published == datetime(2025, 5, 12, 8, 45, tzinfo=UTC)  # +01:00 → UTC
    assert first.authors == ["R. Menon", "S. Qureshi"]
    assert first.guid == "tag:observer.example.net,2025:9001"
    assert first.language == "en"
    # no summary: the content is used; only <updated>: it is the publish time
    assert second.summary == "Stocks rose for a third day."
    assert second.published == datetime(2025, 5, 12, 8, 0, tzinfo=UTC)


def test_atom03() -> None:
    feed = _parse("atom03.xml")
    (entry,) = feed.entries
    assert entry.url == "https://legacy.example.com/2005/03/old-style"
    assert entry.published == datetime(2005, 3, 1, 12, 0, tzinfo=UTC)
    assert entry.authors == ["Blogger"]


def test_google_news_search_feed() -> None:
    feed = _parse("google_news.xml", url="https://news.google.com/rss/search?q=backchannel")
    first, second = feed.entries
    assert first.opaque and second.opaque
    # the outlet comes from <source>, and the " - Outlet" suffix leaves the title
    assert first.source == "Example Times"
    assert first.title == "India, Pakistan kept a backchannel open, officials say"
    assert second.source == "Example Daily"
    assert "backchannel" in first.summary
    assert first.link.startswith("https://news.google.com/rss/articles/")
    assert first.language == "en-PK"


def test_entry_source_wins_over_configured_source() -> None:
    feed = _parse("google_news.xml", source="My search")
    assert {e.source for e in feed.entries} == {"Example Times", "Example Daily"}


def test_malformed_feed_still_yields_entries() -> None:
    feed = _parse("malformed.xml")
    assert [e.title for e in feed.entries] == [
        "Trade & transit: talks at Attari border",
        "Second item survives",
    ]
    assert feed.entries[0].published == datetime(2025, 5, 13, 1, 30, tzinfo=UTC)
    assert feed.entries[1].published is None  # "not a date"


def test_windows_1252_feed() -> None:
    (entry,) = _parse("windows1252.xml").entries
    assert entry.title == "“Café diplomacy” – envoys’ informal meeting"
    assert entry.summary == "Prices rose to €5 … and then fell."


def test_windows_1252_declared_only_in_content_type() -> None:
    body = (FIXTURES / "windows1252.xml").read_bytes().replace(
        b' encoding="windows-1252"', b""
    )
    (entry,) = parse_feed(body, feed_name="t", feed_url="https://x.example/f",
                          content_type="application/xml; charset=windows-1252").entries
    assert entry.title.startswith("“Café")


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match="HTML page"):
        _parse("not_a_feed.html", content_type="text/html; charset=utf-8")
    with pytest.raises(FeedError, match="HTML page"):
        _parse("not_a_feed.html")


@pytest.mark.parametrize("body", [b"", b"   \n", b"\x00\x01\x02junk", b"{\"json\": true}"])
def test_junk_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(FeedError) as info:
        parse_feed(body, feed_name="t", feed_url="https://x.example/f")
    assert str(info.value)


def test_empty_but_valid_feed_has_no_entries() -> None:
    body = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Quiet</title></channel></rss>"
    feed = parse_feed(body, feed_name="t", feed_url="https://x.example/f")
    assert feed.title == "Quiet" and feed.entries == [] and feed.ttl is None


def test_body_that_looks_like_a_path_is_not_opened() -> None:
    # feedparser opens strings and bytes that name a file; we must hand it a stream
    with pytest.raises(FeedError):
        parse_feed(str(FIXTURES / "rss091.xml").encode(), feed_name="t",
                   feed_url="https://x.example/f")


def test_double_escaped_entities_in_plain_titles() -> None:
    body = (b"<rss version='2.0'><channel><title>t</title><item><title>Envoy&amp;#8217;s visit"
            b"</title><link>https://x.example/a</link></item></channel></rss>")
    (entry,) = parse_feed(body, feed_name="t", feed_url="https://x.example/f").entries
    assert entry.title == "Envoy’s visit"


def test_html_to_text() -> None:
    html = "<p>One&nbsp;<b>two</b></p><script>evil()</script><p>three &amp; four</p>"
    assert html_to_text(html) == "One two\nthree & four"
    assert html_to_text("") == ""


def test_only_http_links_of_bounded_length_are_kept() -> None:
    """Issue 11 defect 7: file:, gopher:, ftp: and 2 MB links were stored and shown as "Original"."""
    huge = "https://news.example/" + "a" * 2_000_000
    links = ["file:///etc/passwd", "gopher://news.example/1", "ftp://news.example/a.txt",
             "javascript:alert(1)", "data:text/html,<script>x</script>", huge, "https://news.example/ok"]
    items = "".join(f"<item><title>t{i}</title><link>{link.replace('&', '&amp;').replace('<', '&lt;')}</link>"
                    "</item>" for i, link in enumerate(links))
    items += ("<item><title>guid</title><link>ftp://news.example/x</link>"
              "<guid>https://news.example/from-guid</guid></item>")
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'
    feed = parse_feed(body.encode(), feed_name="t", feed_url="https://news.example/feed")
    assert [(e.url, e.link) for e in feed.entries] == [
        ("https://news.example/ok", "https://news.example/ok"),
        ("https://news.example/from-guid", "https://news.example/from-guid"),
    ]
