"""Media uploads: try-on photos and videos uploaded through presigned URLs (or the embedded
store), checked by their bytes before they are published.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_uploads",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("drop_id", sa.BigInteger(), sa.ForeignKey("drops.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_by", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("token", sa.String(32), nullable=False, unique=True),
        sa.Column("max_bytes", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("content_type", sa.String(64)),
        sa.Column("url", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("kind IN ('IMAGE', 'VIDEO')", name=op.f("ck_media_uploads_kind")),
        sa.CheckConstraint("status IN ('PENDING', 'READY')",
                           name=op.f("ck_media_uploads_status")),
    )  # fmt: skip
    op.create_index("ix_media_uploads_drop", "media_uploads", ["drop_id", "id"])


def downgrade() -> None:
    op.drop_table("media_uploads")
