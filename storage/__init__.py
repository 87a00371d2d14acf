"""Persistence for newswatch: one `Store` API over SQLite (default) or PostgreSQL."""

from .store import (
    REVIEW_STATES,
    Backlog,
    FeedConfig,
    FeedState,
    FlaggedArticle,
    NewArticle,
    PollOutcome,
    ReviewFilter,
    ReviewPage,
    ReviewRow,
    SearchResult,
    SourceCount,
    Store,
    StoredArticle,
    StoredMatch,
    content_hash,
)

__all__ = [
    "REVIEW_STATES",
    "Backlog",
    "FeedConfig",
    "FeedState",
    "FlaggedArticle",
    "NewArticle",
    "PollOutcome",
    "ReviewFilter",
    "ReviewPage",
    "ReviewRow",
    "SearchResult",
    "SourceCount",
    "Store",
    "StoredArticle",
    "StoredMatch",
    "content_hash",
]
