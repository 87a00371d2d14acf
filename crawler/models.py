"""The nouns of newswatch, shared by every stage.

Stages pass these plain dataclasses to each other so that none of them needs to
know how another is implemented (the fetcher does not know about storage, the
rules engine does not know about feeds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Article", "Document", "FeedEntry", "Match", "document_of"]


@dataclass(slots=True)
class FeedEntry:
    """One item of a feed, normalised across RSS 0.9x/1.0/2.0 and Atom."""

    feed_name: str
    url: str
    """Canonical article URL: the key that dedupes across feeds."""
    link: str
    """The link exactly as the feed gave it."""
    title: str = ""
    summary: str = ""
    """Plain text (HTML stripped) of the entry's description or summary."""
    content: str = ""
    """Plain text of the entry's full content (`content:encoded`, Atom `<content>`), when the feed has it."""
    published: datetime | None = None
    authors: list[str] = field(default_factory=list)
    guid: str | None = None
    source: str | None = None
    """Outlet name: the feed's configured `source`, or the entry's own `<source>` (news-search feeds)."""
    language: str | None = None
    opaque: bool = False
    """True when `link` is a redirect token (e.g. Google News) that cannot be fetched usefully."""


@dataclass(slots=True)
class Article:
    """What extraction makes of one page. `method` says which extractor produced `text`."""

    title: str = ""
    text: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    description: str | None = None
    method: str = "none"
    """One of `profile:<site>`, `json-ld`, `generic`, `none`."""
    site: str | None = None


@dataclass(slots=True)
class Document:
    """The fields a topic query can look at (`title:`, `body:`, `url:`, `source:`, `author:`)."""

    title: str = ""
    body: str = ""
    url: str = ""
    source: str = ""
    authors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Match:
    """A topic that flagged a document, with the reasons a reviewer needs to see."""

    topic_id: str
    score: float
    matched_terms: list[str]
    explanation: dict[str, Any]
    """JSON-serialisable: hits (term, field, start, end), snippets and score; no clause tree
    (`RuleSet.explain` rebuilds it from the text), so a match row stays small."""
    rules_version: str


class _ArticleFields(Protocol):
    title: str
    text: str
    url: str
    source: str | None
    authors: list[str]


def document_of(article: _ArticleFields) -> Document:
    """The fields a topic sees of an article, new or stored: the one conversion, so a
    backtest over history sees exactly what the poll that stored it saw."""
    return Document(title=article.title, body=article.text, url=article.url,
                    source=article.source or "", authors=list(article.authors))
