"""Title, dates, authors, language, canonical URL and description of a page.

Sources in order of how rarely they lie: JSON-LD, then OpenGraph / article meta tags,
then the page's own markup (`<time>`, `<h1>`, `<title>`), then the URL. A site profile's
selectors are used only for fields these leave empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from .dates import date_from_url, parse_date
from .text import clean_paragraph

__all__ = ["Metadata", "clean_authors", "extract_metadata", "json_ld_authors"]

_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "og:published_time",
    "datepublished", "pubdate", "publishdate", "publish-date", "publication_date",
    "date", "dc.date.issued", "dc.date", "dcterms.created", "sailthru.date",
    "parsely-pub-date", "cxenseparse:recs:publishtime", "article.published",
)
_UPDATED_META = (
    "article:modified_time", "og:updated_time", "og:article:modified_time",
    "datemodified", "last-modified", "dcterms.modified", "article.updated",
)
_AUTHOR_META = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author", "byl")
_BY_RE = re.compile(r"^\s*(?:by|from|written by|reported by|posted by)\s*:?\s+", re.I)
_AUTHOR_SPLIT_RE = re.compile(r"\s*(?:,|;|\band\b|&|\|)\s*")


@dataclass(slots=True)
class Metadata:
    """Everything about an article except its body."""

    title: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    description: str | None = None
    site_name: str | None = None


def _meta_tags(tree: LexborHTMLParser) -> dict[str, str]:
    """`<meta>` name/property/itemprop → content, lower-cased keys, first one wins."""
    found: dict[str, str] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        content = attrs.get("content")
        if not content:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = attrs.get(attr)
            if key:
                found.setdefault(key.strip().lower(), content.strip())
    return found


def _first(meta: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = meta.get(key)
        if value:
            return value
    return None


def _names(value: Any) -> list[str]:
    """Author names from JSON-LD's many shapes: string, Person, list of either."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return _names(name) if isinstance(name, str | list) else []
    if isinstance(value, list):
        return [n for item in value[:20] for n in _names(item)]
    return []


def clean_authors(raw: list[str]) -> list[str]:
    """Names without "By", URLs, or duplicates, split where one string lists several."""
    out: list[str] = []
    seen: set[str] = set()
    for item in raw:
        item = clean_paragraph(item)
        if not item or item.startswith(("http://", "https://", "www.")) or len(item) > 200:
            continue
        for name in _AUTHOR_SPLIT_RE.split(_BY_RE.sub("", item)):
            name = name.strip(" .-|")
            if name and len(name) <= 80 and name.lower() not in seen:
                seen.add(name.lower())
                out.append(name)
    return out


def json_ld_authors(article: dict[str, Any]) -> list[str]:
    return clean_authors(_names(article.get("author")) or _names(article.get("creator")))


def _text(value: Any) -> str:
    return clean_paragraph(value) if isinstance(value, str) else ""


def _time_element_date(tree: LexborHTMLParser, which: str) -> datetime | None:
    selectors = {
        "published": '[itemprop="datePublished"], time[pubdate], time',
        "updated": '[itemprop="dateModified"]',
    }
    for node in tree.css(selectors[which])[:5]:
        attrs = node.attributes
        for candidate in (attrs.get("datetime"), attrs.get("content"), attrs.get("title")):
            parsed = parse_date(candidate)
            if parsed is not None:
                return parsed
    return None


def _language(tree: LexborHTMLParser, meta: dict[str, str], article: dict[str, Any]) -> str | None:
    html = tree.css_first("html")
    lang = html.attributes.get("lang") if html is not None else None
    lang = lang or meta.get("content-language") or meta.get("og:locale")
    if not lang:
        in_lang = article.get("inLanguage")
        lang = in_lang if isinstance(in_lang, str) else None
    if not lang:
        return None
    lang = lang.strip().replace("_", "-").split(",")[0]
    return lang or None


def _canonical(tree: LexborHTMLParser, meta: dict[str, str], url: str) -> str | None:
    link = tree.css_first('link[rel="canonical"]')
    href = link.attributes.get("href") if link is not None else None
    href = href or meta.get("og:url")
    if not href or not href.strip():
        return None
    try:
        return urljoin(url, href.strip())
    except ValueError:
        return None


def _title(tree: LexborHTMLParser, meta: dict[str, str], article: dict[str, Any]) -> str:
    title = _text(article.get("headline")) or _text(meta.get("og:title"))
    title = title or _text(meta.get("twitter:title"))
    if not title:
        h1 = tree.css_first("h1")
        title = clean_paragraph(h1.text()) if h1 is not None else ""
    if not title:
        node = tree.css_first("title")
        title = clean_paragraph(node.text()) if node is not None else ""
    return title


def extract_metadata(
    tree: LexborHTMLParser, url: str, article: dict[str, Any] | None
) -> Metadata:
    """Read all metadata a page offers (the body is extracted elsewhere)."""
    article = article or {}
    meta = _meta_tags(tree)
    published = parse_date(article.get("datePublished")) or parse_date(
        _first(meta, _PUBLISHED_META)
    )
    published = published or _time_element_date(tree, "published") or date_from_url(url)
    updated = parse_date(article.get("dateModified")) or parse_date(_first(meta, _UPDATED_META))
    updated = updated or _time_element_date(tree, "updated")
    authors = json_ld_authors(article) or clean_authors(
        [v for k in _AUTHOR_META if (v := meta.get(k))]
    )
    description = _text(article.get("description")) or _text(
        meta.get("og:description") or meta.get("description")
    )
    publisher = article.get("publisher")
    site_name = _text(meta.get("og:site_name")) or (
        _text(publisher.get("name")) if isinstance(publisher, dict) else ""
    )
    return Metadata(
        title=_title(tree, meta, article),
        published=published,
        updated=updated,
        authors=authors,
        language=_language(tree, meta, article),
        canonical_url=_canonical(tree, meta, url),
        description=description or None,
        site_name=site_name or None,
    )
