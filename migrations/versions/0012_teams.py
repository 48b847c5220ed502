"""Group-buy teams (拼团): a drop's team settings, the teams, and the order that holds a seat.

A seat is an order of the team that is live (pending payment or paid): seats free themselves when
their order expires or is cancelled, with no table of their own to keep in step. A member holds
at most one live seat per team (a partial unique index, the backstop of the join's own check).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

LIVE = (
    "status IN ('PENDING_PAYMENT', 'DEPOSIT_PAID', 'PAID', 'CONFIRMED', 'IN_PRODUCTION',"
    " 'SHIPPED', 'DELIVERED')"
)


def upgrade() -> None:
    op.add_column("drops", sa.Column("team_size", sa.Integer(), nullable=True))
    op.add_column("drops", sa.Column("team_price_fen", sa.BigInteger(), nullable=True))
    op.add_column("drops", sa.Column("team_hours", sa.Integer(), nullable=True))
    op.add_column("drops", sa.Column("team_policy", sa.String(24), nullable=True))
    op.create_check_constraint(
        op.f("ck_drops_teams"),
        "drops",
        "(team_size IS NULL AND team_price_fen IS NULL AND team_hours IS NULL"
        " AND team_policy IS NULL) OR (team_size BETWEEN 2 AND 50 AND team_price_fen > 0"
        " AND team_price_fen < price_fen AND team_hours >= 1"
        " AND team_policy IN ('REFUND', 'KEEP_AT_DROP_PRICE'))",
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("drop_id", sa.BigInteger(), sa.ForeignKey("drops.id"), nullable=False),
        sa.Column("leader_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("share_token", sa.String(32), nullable=False, unique=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("policy", sa.String(24), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filled_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("size BETWEEN 2 AND 50", name=op.f("ck_teams_size")),
        sa.CheckConstraint("status IN ('OPEN', 'FULL', 'FAILED')", name=op.f("ck_teams_status")),
    )
    op.create_index("ix_teams_drop_status", "teams", ["drop_id", "status"])
    op.create_index(
        "ix_teams_open_deadline", "teams", ["deadline"], postgresql_where="status = 'OPEN'"
    )
    op.add_column(
        "orders", sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id"), nullable=True)
    )
    op.create_index(
        "ux_orders_team_member",
        "orders",
        ["team_id", "user_id"],
        unique=True,
        postgresql_where=f"team_id IS NOT NULL AND {LIVE}",
    )


def downgrade() -> None:
    op.drop_index("ux_orders_team_member", table_name="orders")
    op.drop_column("orders", "team_id")
    op.drop_index("ix_teams_open_deadline", table_name="teams")
    op.drop_index("ix_teams_drop_status", table_name="teams")
    op.drop_table("teams")
    op.drop_constraint(op.f("ck_drops_teams"), "drops")
    for column in ("team_policy", "team_hours", "team_price_fen", "team_size"):
        op.drop_column("drops", column)
