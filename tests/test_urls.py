"""Canonical URLs are the dedupe key: these cases are the ways one story's link varies."""

from __future__ import annotations

import pytest

from crawler.urls import canonicalize, host_of, is_opaque_link


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host case, default port, fragment
        ("HTTPS://WWW.Dawn.COM:443/news/1911001/slug#comments",
         "https://www.dawn.com/news/1911001/slug"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        # tracking parameters, by name and by prefix, any case
        ("https://www.dawn.com/news/1?utm_source=rss&utm_medium=feed&UTM_Campaign=x",
         "https://www.dawn.com/news/1"),
        ("https://t.example/a?fbclid=1&gclid=2&dclid=3&mc_cid=4&mc_eid=5&igshid=6&ref_src=7&cmpid=8",
         "https://t.example/a"),
        ("https://t.example/a?id=5&utm_source=x&page=2", "https://t.example/a?id=5&page=2"),
        # meaningful parameters are kept (sorted, so order does not split one story in two)
        ("https://t.example/story.php?page=2&id=5", "https://t.example/story.php?id=5&page=2"),
        # empty path, dot segments, percent-encoding
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/%7euser/a b", "https://example.com/~user/a%20b"),
        # IDNA host, trailing dot
        ("https://Bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://example.com./x", "https://example.com/x"),
        ("  https://example.com/x\n", "https://example.com/x"),
    ],
)
def test_canonicalize(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_same_story_from_two_feeds_has_one_key() -> None:
    a = canonicalize("https://www.dawn.com/news/1911001/slug?utm_source=home")
    b = canonicalize("https://WWW.DAWN.COM:443/news/1911001/slug?utm_medium=twitter#top")
    assert a == b


def test_relative_links_resolve_against_base() -> None:
    base = "https://www.dawn.com/feeds/pakistan"
    assert canonicalize("/news/1?gclid=9", base) == "https://www.dawn.com/news/1"
    assert canonicalize("1911001", "https://x.example/news/") == "https://x.example/news/1911001"
    assert canonicalize("//cdn.example/a", base) == "https://cdn.example/a"
    # an absolute link ignores the base
    assert canonicalize("https://other.example/a", base) == "https://other.example/a"


def test_protocol_relative_without_base_assumes_https() -> None:
    assert canonicalize("//tribune.com.pk/story/1") == "https://tribune.com.pk/story/1"


@pytest.mark.parametrize("bad", ["", "   ", "not a url", "/relative/only", "http://x.example:99999/"])
def test_canonicalize_rejects_non_urls(bad: str) -> None:
    with pytest.raises(ValueError):
        canonicalize(bad)


@pytest.mark.parametrize(
    ("url", "opaque"),
    [
        ("https://news.google.com/rss/articles/CBMiXGh0dHBzOi8v?oc=5", True),
        ("https://news.google.com/articles/CBMiXGh0dHBzOi8v?hl=en-PK", True),
        ("https://news.google.com/__i/rss/rd/articles/CBMiXGh0?oc=5", True),
        ("https://www.google.com/url?sa=t&url=https%3A%2F%2Fx.example", True),
        ("https://www.bing.com/news/apiclick.aspx?url=x", True),
        ("https://news.google.com/search?q=backchannel", False),
        ("https://www.dawn.com/news/1911001", False),
        ("https://feeds.feedburner.com/ndtvnews-top-stories", False),
        ("not a url", False),
    ],
)
def test_is_opaque_link(url: str, opaque: bool) -> None:
    assert is_opaque_link(url) is opaque


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://WWW.Dawn.com:8080/x", "www.dawn.com"),
        ("http://[::1]:80/", "::1"),
        ("https://bücher.example/", "xn--bcher-kva.example"),
        ("https://example.com./", "example.com"),
        ("/relative", ""),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


@pytest.mark.parametrize("bad", ["file:///etc/passwd", "ftp://x.example/a", "gopher://x.example/",
                                 "javascript://x.example/%0aalert(1)", "https://x.example/" + "a" * 3000,
                                 "https://x.example/" + "é" * 700])
def test_canonicalize_keeps_only_bounded_http_urls(bad: str) -> None:
    """Issue 11 defect 7: a canonical URL is http(s) and at most MAX_URL_LENGTH long, even after escaping."""
    with pytest.raises(ValueError):
        canonicalize(bad)
