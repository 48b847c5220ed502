"""A payment row says whether the order awaited it (it moved the order on) or not (refunded in
full): a second payment, the wrong step or amount, a payment after a cancellation.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payment_ledger", sa.Column("applied", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("payment_ledger", "applied")
