"""What the conversion figures need, recorded with each order: whether its buyer voted for the
poll option its drop came from (FOR_OPTION), voted in that poll for another option
(OTHER_OPTION), or did not vote (DID_NOT_VOTE); NULL for a drop that came from no poll.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("poll_vote", sa.String(16), nullable=True))
    op.create_check_constraint(
        op.f("ck_orders_poll_vote"),
        "orders",
        "poll_vote IS NULL OR poll_vote IN ('FOR_OPTION', 'OTHER_OPTION', 'DID_NOT_VOTE')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_orders_poll_vote"), "orders")
    op.drop_column("orders", "poll_vote")
