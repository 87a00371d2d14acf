"""Persistence for newswatch: one `Store` API over SQLite (default) or PostgreSQL."""

from .rows import (
    REVIEW_STATES,
    Backlog,
    FeedConfig,
    FeedState,
    FlaggedArticle,
    MatchData,
    NewArticle,
    PendingNotification,
    PollOutcome,
    ReviewFilter,
    ReviewPage,
    ReviewRow,
    SearchResult,
    SourceCount,
    StoredArticle,
    StoredMatch,
)
from .store import Store, content_hash

__all__ = [
    "REVIEW_STATES",
    "Backlog",
    "FeedConfig",
    "FeedState",
    "FlaggedArticle",
    "MatchData",
    "NewArticle",
    "PendingNotification",
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
