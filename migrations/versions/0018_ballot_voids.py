"""Voided ballots: a KOC may void ballots the suspicious-vote report flagged, and restore them;
every void is a row kept for the record (who, when, why, the picks it took away, and when it was
restored). A ballot with an open void (not restored) counts nothing and cannot be cast again.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ballot_voids",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("poll_id", sa.BigInteger(), sa.ForeignKey("polls.id"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("option_ids", sa.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("voided_by", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column(
            "voided_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("restored_by", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ux_ballot_voids_open",
        "ballot_voids",
        ["poll_id", "user_id"],
        unique=True,
        postgresql_where="restored_at IS NULL",
    )


def downgrade() -> None:
    op.drop_index("ux_ballot_voids_open", table_name="ballot_voids")
    op.drop_table("ballot_voids")
