"""Initial schema: feeds, articles, matches, marks.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("source", sa.String(200)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("interval", sa.Float),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("body_hash", sa.String(64)),
        sa.Column("next_poll_at", sa.DateTime, nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("last_poll_at", sa.DateTime),
        sa.Column("last_success_at", sa.DateTime),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("failing_since", sa.DateTime),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("last_new_articles", sa.Integer, nullable=False),
        sa.Column("last_duration", sa.Float),
        sa.Column("polls_total", sa.Integer, nullable=False),
        sa.Column("errors_total", sa.Integer, nullable=False),
        sa.Column("not_modified_total", sa.Integer, nullable=False),
        sa.Column("articles_total", sa.Integer, nullable=False),
        sa.Column("page_errors_total", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feeds"),
        sa.UniqueConstraint("name", name="uq_feeds_name"),
    )
    op.create_index("ix_feeds_due", "feeds", ["enabled", "next_poll_at"])

    op.create_table(
        "articles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("feed_name", sa.String(200)),
        sa.Column("source", sa.String(200)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("published", sa.DateTime),
        sa.Column("updated", sa.DateTime),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("language", sa.String(35)),
        sa.Column("description", sa.Text),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("text_from", sa.String(8), nullable=False),
        sa.Column("fetch_error", sa.Text),
        sa.Column("http_status", sa.Integer),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_articles"),
        sa.UniqueConstraint("url", name="uq_articles_url"),
    )
    op.create_index("ix_articles_fetched_at", "articles", ["fetched_at"])
    op.create_index("ix_articles_published", "articles", ["published"])
    op.create_index("ix_articles_content_hash", "articles", ["content_hash"])

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("topic_id", sa.String(200), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("matched_terms", sa.JSON, nullable=False),
        sa.Column("explanation", sa.JSON, nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("reviewed_at", sa.DateTime),
        sa.Column("notified_at", sa.DateTime),
        sa.PrimaryKeyConstraint("id", name="pk_matches"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], ondelete="CASCADE",
            name="fk_matches_article_id_articles",
        ),
        sa.UniqueConstraint("article_id", "topic_id", name="uq_matches_article_id_topic_id"),
    )
    op.create_index("ix_matches_state_created", "matches", ["state", "created_at"])
    op.create_index("ix_matches_topic_created", "matches", ["topic_id", "created_at"])

    op.create_table(
        "marks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("topic_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_marks"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], ondelete="CASCADE",
            name="fk_marks_article_id_articles",
        ),
    )
    op.create_index("ix_marks_article", "marks", ["article_id"])


def downgrade() -> None:
    op.drop_table("marks")
    op.drop_table("matches")
    op.drop_table("articles")
    op.drop_table("feeds")
