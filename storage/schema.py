"""The database schema, in SQLAlchemy Core.

Times are stored as UTC without a zone (both backends compare them the same way)
and come back as timezone-aware UTC datetimes, so nothing above storage ever
sees a naive datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

__all__ = ["UTCDateTime", "articles", "feeds", "marks", "matches", "metadata", "near_misses", "story_members"]


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as naive UTC and returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # defensive: raw SQLite text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("source", String(200)),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("interval", Float),
    # conditional GET and change detection
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("ttl", Float),  # the feed's own cache hint (RSS <ttl>, sy:update*) from the last body parsed
    # scheduling, shared by every instance using this database
    Column("next_poll_at", UTCDateTime, nullable=False),
    Column("next_poll_reason", String(200)),  # why later than the interval: a hint or back-off
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime),
    # health, shown by `status` and the dashboard
    Column("last_poll_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("failing_since", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_new_articles", Integer, nullable=False, default=0),
    Column("last_duration", Float),
    Column("polls_total", Integer, nullable=False, default=0),
    Column("errors_total", Integer, nullable=False, default=0),
    Column("not_modified_total", Integer, nullable=False, default=0),
    Column("articles_total", Integer, nullable=False, default=0),
    Column("page_errors_total", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_feeds_due", "enabled", "next_poll_at"),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),
    Column("link", Text, nullable=False),
    Column("feed_name", String(200)),
    Column("source", String(200)),
    Column("title", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("published", UTCDateTime),
    Column("updated", UTCDateTime),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("authors", JSON, nullable=False, default=list),
    Column("language", String(35)),
    Column("description", Text),
    Column("method", String(64), nullable=False),
    Column("text_from", String(8), nullable=False),
    Column("fetch_error", Text),
    Column("http_status", Integer),
    Column("profile_failed", String(100)),  # a site profile that found no body: its markup changed?
    Column("content_hash", String(64), nullable=False),
    Index("ix_articles_fetched_at", "fetched_at"),
    Index("ix_articles_published", "published"),
    Index("ix_articles_content_hash", "content_hash"),
)

matches = Table(
    "matches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("topic_id", String(200), nullable=False),
    Column("score", Float, nullable=False),
    Column("matched_terms", JSON, nullable=False),
    Column("explanation", JSON, nullable=False),
    Column("rules_version", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False, default="unreviewed"),
    Column("note", Text),
    Column("reviewed_at", UTCDateTime),
    Column("notified_at", UTCDateTime),
    Column("reviewed_by", String(64)),
    UniqueConstraint("article_id", "topic_id"),
    Index("ix_matches_state_created", "state", "created_at"),
    Index("ix_matches_topic_created", "topic_id", "created_at"),
    Index("ix_matches_reviewed_by", "reviewed_by"),
)

marks = Table(
    "marks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("topic_id", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("reviewer", String(64)),
    Column("kind", String(16), nullable=False, default="match"),  # `match`, or `near_miss`
    Index("ix_marks_article", "article_id"),
)

near_misses = Table(
    # Unflagged articles a topic failed by one clause (`crawler.rules.near_miss`), stored
    # when the article was matched; a reviewer's mark on one is a label like any other.
    "near_misses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("topic_id", String(200), nullable=False),
    Column("failed", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("closeness", Float, nullable=False),
    Column("rules_version", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False, default="unreviewed"),
    Column("note", Text),
    Column("reviewed_at", UTCDateTime),
    Column("reviewed_by", String(64)),
    UniqueConstraint("article_id", "topic_id"),
    Index("ix_near_misses_topic_closeness", "topic_id", "closeness"),
)

story_members = Table(
    # Which story (group of near-duplicate flagged articles) each article belongs to; a
    # story's id is the id of its first member. The MinHash signature is kept so that a
    # newly flagged article is placed without re-reading every stored text.
    "story_members",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("story_id", Integer, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_story_members_story", "story_id"),
)
