"""Try-on media (试穿): the photos and videos a KOC attaches to a draft drop, in order.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drop_media",
        sa.Column("drop_id", sa.BigInteger(), sa.ForeignKey("drops.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("position", sa.SmallInteger(), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('IMAGE', 'VIDEO')", name=op.f("ck_drop_media_kind")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("drop_media")
