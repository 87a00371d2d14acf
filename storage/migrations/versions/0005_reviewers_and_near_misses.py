"""Reviewers' names on marks, and near misses (what a topic nearly flagged).

`marks.reviewer` and `matches.reviewed_by` say who made a decision (a name from
`[review.users]`, `token` for the shared token, the local user on loopback or in
the CLI). `near_misses` keeps, per (article, topic), the one clause an unflagged
article failed by, computed when the article was matched, so the near-miss list is a
query. A near miss carries its own review state: marking it relevant is a label.
Columns are only added (never a SQLite table rebuild), so the FTS triggers of 0002 stay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("marks", sa.Column("reviewer", sa.String(64)))
    op.add_column("marks", sa.Column("kind", sa.String(16), nullable=False, server_default="match"))
    op.add_column("matches", sa.Column("reviewed_by", sa.String(64)))
    op.create_index("ix_matches_reviewed_by", "matches", ["reviewed_by"])
    op.create_table(
        "near_misses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("topic_id", sa.String(200), nullable=False),
        sa.Column("failed", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("closeness", sa.Float, nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="unreviewed"),
        sa.Column("note", sa.Text),
        sa.Column("reviewed_at", sa.DateTime),
        sa.Column("reviewed_by", sa.String(64)),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE",
                                name="fk_near_misses_article_id_articles"),
        sa.UniqueConstraint("article_id", "topic_id", name="uq_near_misses_article_id_topic_id"),
    )
    op.create_index("ix_near_misses_topic_closeness", "near_misses", ["topic_id", "closeness"])


def downgrade() -> None:
    op.drop_table("near_misses")
    op.drop_index("ix_matches_reviewed_by", table_name="matches")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("reviewed_by")
    with op.batch_alter_table("marks") as batch:
        batch.drop_column("kind")
        batch.drop_column("reviewer")
