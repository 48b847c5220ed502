"""Idempotency keys bound to their request: request_hash on communities, polls and drops.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("communities", "polls", "drops"):
        op.add_column(table, sa.Column("request_hash", sa.LargeBinary(32), nullable=True))


def downgrade() -> None:
    for table in ("communities", "polls", "drops"):
        op.drop_column(table, "request_hash")
