"""Persistence for newswatch: one `Store` API over SQLite (default) or PostgreSQL."""

from .rows import (
    FILTER_STATES,
    REVIEW_STATES,
    Backlog,
    FeedConfig,
    FeedState,
    MatchData,
    NewArticle,
    PendingNotification,
    PollOutcome,
    ReviewFilter,
    ReviewPage,
    ReviewRow,
    ReviewState,
    SearchResult,
    SourceCount,
    StoredArticle,
    StoredMatch,
)
from .store import Store, content_hash

__all__ = [
    "FILTER_STATES",
    "REVIEW_STATES",
    "Backlog",
    "FeedConfig",
    "FeedState",
    "MatchData",
    "NewArticle",
    "PendingNotification",
    "PollOutcome",
    "ReviewFilter",
    "ReviewPage",
    "ReviewRow",
    "ReviewState",
    "SearchResult",
    "SourceCount",
    "Store",
    "StoredArticle",
    "StoredMatch",
    "content_hash",
]
