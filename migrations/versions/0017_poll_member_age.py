"""A poll may require a minimum membership age before a member's ballot counts (accounts made
or brought in just before a vote are how ballots get stuffed).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "polls",
        sa.Column(
            "min_member_age_hours", sa.Integer(), server_default=sa.text("0"), nullable=False
        ),
    )
    op.create_check_constraint(
        op.f("ck_polls_member_age"), "polls", "min_member_age_hours BETWEEN 0 AND 8760"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_polls_member_age"), "polls")
    op.drop_column("polls", "min_member_age_hours")
