"""A member's orders of a drop by one index (user_id, drop_id) instead of user_id alone.

The per-member limit sums a member's live orders of the drop on every pre-order; with only
user_id indexed the planner intersected it with the drop's index, reading every order of the
drop each time (quadratic in a big drop).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_user_drop", "orders", ["user_id", "drop_id"])
    op.drop_index("ix_orders_user_id", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_user_id", "orders", ["user_id"])
    op.drop_index("ix_orders_user_drop", table_name="orders")
