"""Why a feed's next poll is later than its interval.

`feeds.next_poll_reason` holds the hint that stretched the interval when the
schedule was computed (RSS `<ttl>`, Cache-Control, Retry-After, a long publishing
gap, back-off after failures), so `newswatch status` can show it next to the next
poll time. NULL means the feed is on its usual interval. A plain added column: no
batch rebuild, so the SQLite FTS triggers of 0002 stay.

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


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("next_poll_reason")
