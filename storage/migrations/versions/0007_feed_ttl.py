"""The feed's own cache hint (RSS `<ttl>`, `sy:updatePeriod`), kept between polls.

A 304 carries no body, so a poll that gets one cannot read the hint again: without the
stored value the next poll fell back to the usual interval and a feed asking for two hours
was polled every ten minutes after its first 304.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feeds", sa.Column("ttl", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("ttl")
