"""Persistence for newswatch: one `Store` API over SQLite (default) or PostgreSQL."""

from .store import (
    REVIEW_STATES,
    FeedConfig,
    FeedState,
    FlaggedArticle,
    NewArticle,
    PollOutcome,
    Store,
    StoredArticle,
    StoredMatch,
    content_hash,
)

__all__ = [
    "REVIEW_STATES",
    "FeedConfig",
    "FeedState",
    "FlaggedArticle",
    "NewArticle",
    "PollOutcome",
    "Store",
    "StoredArticle",
    "StoredMatch",
    "content_hash",
]
