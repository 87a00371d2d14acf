"""The rows storage hands out and takes in: plain dataclasses, free of SQL.

Storage stands beside the pipeline's stages and imports nothing of `crawler`: a
match to store is anything shaped like `MatchData` (the rules engine's `Match` is),
so the arrow points from the stages to storage, never back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "FILTER_STATES",
    "REVIEW_STATES",
    "Backlog",
    "FeedConfig",
    "FeedState",
    "MatchData",
    "NearMissData",
    "NearMissRow",
    "NewArticle",
    "PendingNotification",
    "PollOutcome",
    "ReviewFilter",
    "ReviewPage",
    "ReviewRow",
    "ReviewState",
    "SearchResult",
    "SourceCount",
    "StoredArticle",
    "StoredMatch",
]

class ReviewState(StrEnum):
    """What a reviewer has said of a match: the one spelling of the review states."""

    unreviewed = "unreviewed"
    relevant = "relevant"
    irrelevant = "irrelevant"


REVIEW_STATES: tuple[str, ...] = tuple(s.value for s in ReviewState)
FILTER_STATES: tuple[str, ...] = (*REVIEW_STATES, "all")
"""What a listing can be filtered by: a review state, or `all`."""


class MatchData(Protocol):
    """A topic's match as storage keeps it (what `crawler.models.Match` carries)."""

    @property
    def topic_id(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def matched_terms(self) -> list[str]: ...
    @property
    def explanation(self) -> dict[str, Any]: ...
    @property
    def rules_version(self) -> str: ...


class NearMissData(Protocol):
    """The one clause an unflagged article failed a topic by (what `crawler.rules.NearMiss` carries)."""

    @property
    def topic(self) -> str: ...
    @property
    def failed(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def closeness(self) -> float: ...


@dataclass(slots=True)
class ListedArticle:
    """What every listing row says of its article (a flagged match's, a near miss's)."""

    id: int
    url: str
    link: str
    title: str
    source: str | None
    feed_name: str | None
    published: datetime | None
    fetched_at: datetime


@dataclass(slots=True)
class NearMissRow(ListedArticle):
    """A stored near miss with its article: a row of `review near-misses` and the review page's tab."""

    topic: str
    failed: str
    """The clause the article failed by, in the words of `rules explain`."""
    detail: str
    closeness: float
    """0 (the clause's words are absent) to 1 (all but there); the list is closest first."""
    state: str
    note: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    summary: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "link": self.link, "title": self.title,
                "source": self.source or self.feed_name,
                "published": self.published.isoformat() if self.published else None,
                "fetched_at": self.fetched_at.isoformat(), "topic": self.topic, "failed": self.failed,
                "detail": self.detail, "closeness": self.closeness, "state": self.state, "note": self.note,
                "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
                "reviewed_by": self.reviewed_by}


@dataclass(slots=True)
class FeedConfig:
    """What storage needs to know of a configured feed."""

    name: str
    url: str
    source: str | None = None
    enabled: bool = True
    interval: float | None = None


@dataclass(slots=True)
class FeedState:
    """A feed as the poller sees it: where and how to fetch it next."""

    id: int
    name: str
    url: str
    source: str | None
    enabled: bool
    interval: float | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll_at: datetime
    consecutive_failures: int
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    failing_since: datetime | None = None
    last_new_articles: int = 0
    last_duration: float | None = None
    polls_total: int = 0
    errors_total: int = 0
    not_modified_total: int = 0
    articles_total: int = 0
    page_errors_total: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    next_poll_reason: str | None = None
    """Why `next_poll_at` is later than the feed's interval (a hint or back-off), if it is."""
    ttl: float | None = None
    """Seconds the feed itself says it may be cached, from the last body parsed: a 304 has none."""


@dataclass(slots=True)
class PollOutcome:
    """The result of polling one feed, written back in one statement."""

    ok: bool
    next_poll_at: datetime
    polled_at: datetime
    status: int | None = None
    error: str | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    keep_validators: bool = True
    """On failure or 304 the stored validators stay; on success they are replaced by the new ones."""
    new_articles: int = 0
    page_errors: int = 0
    duration: float | None = None
    next_poll_reason: str | None = None
    ttl: float | None = None
    """The parsed feed's cache hint; stored with the new validators, kept on a 304."""


@dataclass(slots=True)
class NewArticle:
    """An article ready to store; `url` is canonical and unique."""

    url: str
    link: str
    title: str
    text: str
    method: str
    text_from: str
    """`page` when the text was extracted from the article page, `feed` when only the entry's title and summary were available."""
    fetched_at: datetime
    feed_name: str | None = None
    source: str | None = None
    summary: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    description: str | None = None
    fetch_error: str | None = None
    http_status: int | None = None
    profile_failed: str | None = None
    """The site profile that matched the page but found no body (another method was used)."""


@dataclass(slots=True)
class StoredMatch:
    topic_id: str
    score: float
    matched_terms: list[str]
    explanation: dict[str, Any]
    rules_version: str
    created_at: datetime
    state: str
    note: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None = None


@dataclass(slots=True)
class StoredArticle:
    id: int
    url: str
    link: str
    feed_name: str | None
    source: str | None
    title: str
    text: str
    summary: str
    published: datetime | None
    updated: datetime | None
    fetched_at: datetime
    authors: list[str]
    language: str | None
    description: str | None
    method: str
    text_from: str
    fetch_error: str | None
    http_status: int | None
    content_hash: str
    matches: list[StoredMatch] = field(default_factory=list)


@dataclass(slots=True)
class PendingNotification:
    """A flagged match whose notification was never delivered."""

    article_id: int
    topic_id: str
    title: str
    source: str
    link: str
    matched_terms: list[str]


@dataclass(slots=True)
class ReviewFilter:
    """What a review listing shows; the page, the API, the Atom feed and exports share it."""

    state: str = "unreviewed"
    """A review state, or `all`."""
    states: tuple[str, ...] | None = None
    """Several review states at once (the Atom feed's default: unreviewed and relevant); overrides `state`."""
    topic: str | None = None
    source: str | None = None
    """An outlet (`source`) or a feed name."""
    since: datetime | None = None
    until: datetime | None = None
    query: str | None = None
    """Full-text search: words, "phrases", prefix*, a OR b, -excluded (see `storage.search`)."""
    reviewer: str | None = None
    """Only matches this reviewer marked last."""
    story_id: int | None = None


@dataclass(slots=True)
class ReviewRow(ListedArticle):
    """One flagged (article, topic) pair of the review queue, with its story: the one row type
    of the CLI's listings, the review app, the API and the exports."""

    topic: str
    score: float
    state: str
    matched_terms: list[str]
    note: str | None
    reviewed_at: datetime | None
    flagged_at: datetime
    text_from: str
    summary: str
    story_id: int | None
    story_size: int
    reviewed_by: str | None = None
    """Who made the current mark (None while unreviewed)."""
    text: str | None = None
    """Only with `details=True`."""
    explanation: dict[str, Any] | None = None
    """Only with `details=True`."""

    @property
    def when(self) -> datetime:
        return self.published or self.fetched_at

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "url": self.url, "link": self.link, "title": self.title,
            "source": self.source, "feed": self.feed_name,
            "published": self.published.isoformat() if self.published else None,
            "fetched_at": self.fetched_at.isoformat(), "flagged_at": self.flagged_at.isoformat(),
            "topic": self.topic, "score": round(self.score, 4), "state": self.state,
            "matched_terms": self.matched_terms, "note": self.note,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "reviewed_by": self.reviewed_by,
            "text_from": self.text_from, "story_id": self.story_id, "story_size": self.story_size,
        }
        if self.text is not None:
            data["text"] = self.text
        return data


@dataclass(slots=True)
class ReviewPage:
    rows: list[ReviewRow]
    total: int
    """Rows matching the filter, ignoring limit and offset (for pagination)."""


@dataclass(slots=True)
class SearchResult:
    """A stored article found by full-text search, flagged or not."""

    id: int
    url: str
    link: str
    title: str
    source: str | None
    published: datetime | None
    fetched_at: datetime
    topics: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "link": self.link, "title": self.title,
                "source": self.source,
                "published": self.published.isoformat() if self.published else None,
                "fetched_at": self.fetched_at.isoformat(), "topics": self.topics}


@dataclass(slots=True)
class SourceCount:
    source: str
    flagged: int
    unreviewed: int
    relevant: int
    irrelevant: int


@dataclass(slots=True)
class Backlog:
    """How much review work is waiting, and since when."""

    counts: dict[str, int]
    oldest_unreviewed: datetime | None
    by_topic: dict[str, int]
    """Unreviewed matches per topic."""
