"""An index on an article's date as every listing orders it: `coalesce(published, fetched_at), id`.

The search over every stored article (`/api/search`) orders by that expression; without
an index, a common word at 100,000 articles sorted every hit (half a second). On SQLite the
search tests each id against the hits while walking this index (`storage.searching`), so
a page of results reads its 50 rows and stops.
Only an index is added: the FTS triggers of 0002 stay.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS ix_articles_when ON articles (coalesce(published, fetched_at), id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_articles_when")
