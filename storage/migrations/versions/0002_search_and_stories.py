"""Full-text search and stories.

SQLite gets an FTS5 index over articles' title and text, kept in step by triggers
(an external-content table, so the text is stored once). PostgreSQL gets a GIN index
on a `tsvector` expression; `Store` queries with exactly the same expression so the
planner uses it. Both use language-neutral tokenising (`unicode61`, `simple`): the
feeds are in English, Urdu and Hindi, and a stemmer for one would mangle the others.

`story_members` groups near-duplicate flagged articles (see `crawler/stories.py`).

Note for later migrations: a SQLite batch operation that rebuilds `articles` drops
these triggers; recreate them (and `rebuild` the index) in that migration.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PG_TSVECTOR = ("to_tsvector('simple'::regconfig, "
               "left(coalesce(title, '') || ' ' || coalesce(text, ''), 200000))")
"""Must stay identical to `storage.searching.PG_TSVECTOR` (without the table prefix)."""

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, text ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for stmt in _SQLITE_FTS:
            op.execute(stmt)
    elif bind.dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_articles_fts ON articles USING gin ({PG_TSVECTOR})")

    op.create_table(
        "story_members",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("story_id", sa.Integer, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("article_id", name="pk_story_members"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], ondelete="CASCADE",
            name="fk_story_members_article_id_articles",
        ),
    )
    op.create_index("ix_story_members_story", "story_members", ["story_id"])


def downgrade() -> None:
    op.drop_table("story_members")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("articles_fts_ai", "articles_fts_ad", "articles_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
