"""Samples (打样): a KOC asks a factory to make a sample of a draft drop; the factory accepts
(SAMPLING) and ships it (SAMPLE_SHIPPED, with tracking); the KOC confirms receipt (RECEIVED).
One sample per drop.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "samples",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("drop_id", sa.BigInteger(), sa.ForeignKey("drops.id"), nullable=False),
        sa.Column("factory_id", sa.BigInteger(), sa.ForeignKey("factories.id"), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("carrier", sa.String(50), nullable=True),
        sa.Column("tracking_number", sa.String(64), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('REQUESTED', 'SAMPLING', 'SAMPLE_SHIPPED', 'RECEIVED')",
            name=op.f("ck_samples_status"),
        ),
        sa.UniqueConstraint("drop_id", name=op.f("uq_samples_drop_id")),
    )
    op.create_index("ix_samples_factory_feed", "samples", ["factory_id", "updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_samples_factory_feed", table_name="samples")
    op.drop_table("samples")
