"""Why a feed's next poll is later than its interval; which site profile failed on a page.

`feeds.next_poll_reason` holds the hint that stretched the interval when the
schedule was computed (RSS `<ttl>`, Cache-Control, Retry-After, a long publishing
gap, back-off after failures), so `newswatch status` can show it next to the next
poll time. NULL means the feed is on its usual interval. `articles.profile_failed`
names the site profile that matched a page but found no body, so `status` can count
per profile how often each fell back. Plain added columns: no batch rebuild, so the
SQLite FTS triggers of 0002 stay.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feeds", sa.Column("next_poll_reason", sa.String(200), nullable=True))
    op.add_column("articles", sa.Column("profile_failed", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("next_poll_reason")
    # dropping from articles would rebuild it under SQLite and lose 0002's triggers; the column stays

