"""Parse any feed dialect into `FeedEntry` objects.

feedparser does the dialect and encoding work (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, bozo
recovery, legacy charsets, dates). This module decides what newswatch keeps of an
entry: a canonical URL to dedupe on, plain-text title and summary (the rules match
them when the page cannot be fetched), a UTC publish time, and the outlet's name.
"""

from __future__ import annotations

import calendar
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from w3lib.html import remove_tags, remove_tags_with_content, replace_entities

from crawler.models import FeedEntry
from crawler.settings import MAX_URL_LENGTH
from crawler.urls import canonicalize, is_opaque_link

__all__ = ["CONTENT_MAX_CHARS", "SUMMARY_MAX_CHARS", "FeedError", "ParsedFeed", "html_to_text", "parse_feed"]

SUMMARY_MAX_CHARS = 2000
CONTENT_MAX_CHARS = 200_000
"""A full-text feed's article body is kept whole (up to this), for when the page cannot be read."""
"""Summaries longer than this are cut at a word boundary: whole articles in
`<description>` would otherwise bloat every stored entry."""

# Invisible characters that some CMSs (Dawn's among them) put inside words; matching and
# deduping must not see them. ZWJ/ZWNJ are *not* here: they shape Urdu and Hindi text.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|br|div|li|ul|ol|h[1-6]|blockquote|tr|table)\b[^>]*>", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_EMAIL_NAME = re.compile(r"^[^\s@()]+@[^\s()]+\s*\((.+)\)$")
_EMAIL = re.compile(r"^[^\s@()]+@[^\s()]+$")
_SY_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0,
               "monthly": 2_592_000.0, "yearly": 31_536_000.0}


class FeedError(Exception):
    """The body is not a feed (an HTML page, junk, nothing); the message says which."""


@dataclass(slots=True)
class ParsedFeed:
    title: str
    link: str | None
    entries: list[FeedEntry]
    ttl: float | None
    """Seconds the publisher says the feed may be cached (RSS `<ttl>` or sy:update*)."""


def html_to_text(value: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, blocks on new lines."""
    if not value:
        return ""
    value = remove_tags_with_content(value, which_ones=("script", "style"))
    value = _BLOCK_TAG.sub("\n", value)
    value = replace_entities(remove_tags(value), remove_illegal=True)
    return _clean(value)


def _clean(value: str) -> str:
    value = value.translate(_INVISIBLE)
    value = _SPACES.sub(" ", value)
    return _NEWLINES.sub("\n", value).strip()


def _text(detail: Any, value: str | None) -> str:
    """Plain text of a feedparser text construct, stripping markup only when it is markup."""
    if not value:
        return ""
    kind = (detail or {}).get("type", "text/html") if isinstance(detail, dict) else "text/html"
    if kind in ("text/plain", "text"):
        # Entities here are double-escaped ones (`&amp;#8217;`), common in CMS output.
        return _clean(replace_entities(value, remove_illegal=True))
    return html_to_text(value)


def _truncate(text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _utc(struct: Any) -> datetime | None:
    """feedparser's `*_parsed` (a UTC struct_time) as an aware datetime."""
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _authors(entry: Any) -> list[str]:
    names: list[str] = []
    raw = str(entry.get("author") or "").strip()
    m = _EMAIL_NAME.match(raw)
    if m:
        # RSS `<author>email (Name)</author>`: feedparser's own split fails on long TLDs.
        names.append(m.group(1))
    else:
        for author in entry.get("authors") or []:
            name = author.get("name") if isinstance(author, dict) else None
            if name:
                names.append(name)
        if not names and raw and not _EMAIL.match(raw):
            names.append(raw)
    out: list[str] = []
    for name in names:
        clean = _clean(html_to_text(name))
        if clean and clean not in out:
            out.append(clean)
    return out


def _ttl(feed: Any) -> float | None:
    raw = feed.get("ttl")
    if raw:
        try:
            minutes = float(str(raw).strip())
        except ValueError:
            minutes = 0.0
        if minutes > 0:
            return minutes * 60.0
    period = _SY_PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    if period:
        try:
            frequency = float(str(feed.get("sy_updatefrequency", "1")).strip() or 1)
        except ValueError:
            frequency = 1.0
        return period / max(frequency, 1.0)
    return None


def _is_url(value: str | None) -> bool:
    return bool(value) and str(value).strip().lower().startswith(("http://", "https://"))


def _entry_source(entry: Any) -> str | None:
    source = entry.get("source")
    if isinstance(source, dict):
        title = _clean(source.get("title") or "")
        return title or None
    return None


def _why_not_a_feed(body: bytes, content_type: str | None, parsed: Any) -> str:
    if not body.strip():
        return "the response is empty"
    head = body[:2048]
    if _HTML_START.match(head) or (
        content_type and "html" in content_type.lower() and b"<rss" not in head
        and b"<feed" not in head and b"<rdf" not in head.lower()
    ):
        return "it is an HTML page"
    exc = parsed.get("bozo_exception")
    if exc is not None:
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        return f"it is neither RSS nor Atom ({detail})"
    return "it is neither RSS nor Atom"


def parse_feed(
    body: bytes,
    *,
    feed_name: str,
    feed_url: str,
    source: str | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Parse a feed body; raise `FeedError` when it is not a feed at all.

    Broken feeds that still yield entries are accepted silently: publishers rarely fix
    them, and a stray `&` must not hide the day's news. `link` stays as the feed gave it
    (made absolute against the feed's URL); `url` is its canonical form.
    """
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    # A stream, never bytes or str: feedparser would treat those as a path or URL to open.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(_why_not_a_feed(body, content_type, parsed))

    feed = parsed.feed
    feed_lang = (feed.get("language") or "").strip() or None
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for item in parsed.entries:
        entry = _entry(item, feed_name=feed_name, feed_url=feed_url, source=source,
                       feed_lang=feed_lang)
        if entry is None or entry.url in seen:
            continue
        seen.add(entry.url)
        entries.append(entry)

    feed_link = (feed.get("link") or "").strip() or None
    return ParsedFeed(
        title=_text(feed.get("title_detail"), feed.get("title")),
        link=urljoin(feed_url, feed_link) if feed_link else None,
        entries=entries,
        ttl=_ttl(feed),
    )


def _checked(link: str) -> str:
    """The canonical URL of an entry's link; `ValueError` unless the link itself is a short http(s) URL.

    The link (not only its canonical form) is stored and shown as the "Original" link, so
    it must be http(s) and bounded in length too.
    """
    if not _is_url(link) or len(link) > MAX_URL_LENGTH:
        raise ValueError("only http(s) links of bounded length are kept")
    return canonicalize(link)


def _entry(
    item: Any, *, feed_name: str, feed_url: str, source: str | None, feed_lang: str | None
) -> FeedEntry | None:
    guid = (item.get("id") or "").strip() or None
    link = (item.get("link") or "").strip()
    if not link:
        for candidate in item.get("links") or []:
            href = (candidate.get("href") or "").strip()
            if href and candidate.get("rel", "alternate") == "alternate":
                link = href
                break
    if not link and _is_url(guid):
        link = guid or ""
    if not link:
        return None
    link = urljoin(feed_url, link)
    try:
        url = _checked(link)
    except ValueError:
        if not _is_url(guid) or guid == link:
            return None
        link = urljoin(feed_url, guid or "")
        try:
            url = _checked(link)
        except ValueError:
            return None

    summary = item.get("summary") or ""
    detail = item.get("summary_detail")
    if not summary and item.get("content"):
        first = item["content"][0]
        summary, detail = first.get("value") or "", first
    content = ""
    if item.get("content"):  # content:encoded / Atom content: often the whole article
        first = item["content"][0]
        content = _truncate(_text(first, first.get("value") or ""), CONTENT_MAX_CHARS)
    title_detail = item.get("title_detail") or {}
    language = (title_detail.get("language") if isinstance(title_detail, dict) else None)
    published = (
        _utc(item.get("published_parsed"))
        or _utc(item.get("updated_parsed"))
        or _utc(item.get("created_parsed"))
    )
    title = _text(title_detail, item.get("title"))
    outlet = _entry_source(item)
    if outlet and title.endswith(f" - {outlet}"):
        # News-search titles end with " - Outlet"; the outlet is kept in `source` instead.
        title = title[: -len(outlet) - 3].rstrip()
    return FeedEntry(
        feed_name=feed_name,
        url=url,
        link=link,
        title=title,
        summary=_truncate(_text(detail, summary)),
        content=content,
        published=published,
        authors=_authors(item),
        guid=guid,
        # an item naming its own outlet (aggregators, news search) says more than the feed's default
        source=outlet or source,
        language=(language or feed_lang or None),
        opaque=is_opaque_link(link),
    )
