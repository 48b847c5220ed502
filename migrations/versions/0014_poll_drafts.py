"""Drafts made by a poll's close: every advanced option becomes a draft drop, exactly once.

``drafted_from_poll`` marks them (one per option: a unique partial index backs the close's own
exactly-once); ``needs_review`` holds them back from publishing until their KOC has edited the
prices, variants and dates (``updateDrop`` clears it).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "drops",
        sa.Column("drafted_from_poll", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "drops", sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_index(
        "ux_drops_poll_draft",
        "drops",
        ["poll_option_id"],
        unique=True,
        postgresql_where="drafted_from_poll",
    )


def downgrade() -> None:
    op.drop_index("ux_drops_poll_draft", table_name="drops")
    op.drop_column("drops", "needs_review")
    op.drop_column("drops", "drafted_from_poll")
