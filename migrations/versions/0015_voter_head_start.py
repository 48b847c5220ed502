"""The voters' head start (早鸟): the members who voted for a drop's poll option may pre-order
``voter_head_start_minutes`` before everyone else.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "drops",
        sa.Column(
            "voter_head_start_minutes", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
    )
    op.create_check_constraint(
        op.f("ck_drops_head_start"),
        "drops",
        "voter_head_start_minutes BETWEEN 0 AND 1440"
        " AND (voter_head_start_minutes = 0 OR poll_option_id IS NOT NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_drops_head_start"), "drops")
    op.drop_column("drops", "voter_head_start_minutes")
