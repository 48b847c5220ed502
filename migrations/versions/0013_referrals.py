"""Referrals (裂变): who brought a member to a drop, the drop's reward rule, and the rewards
ledger.

``drop_referrals`` holds a member's first touch on a drop (a shared drop or team link): one row
per (drop, member), never a member referring themself. ``referral_rewards`` is append-only (a
trigger refuses UPDATE and DELETE): EARNED (one per order at most: one beneficiary, the direct
referrer, so no second level can exist), REVERSED (pro rata when the order is refunded) and
PAID_OUT (an operator's payout, no order); a balance is a sum over it.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("drops", sa.Column("referral_fixed_fen", sa.BigInteger(), nullable=True))
    op.add_column("drops", sa.Column("referral_basis_points", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_drops_referral_reward"),
        "drops",
        "(referral_fixed_fen IS NULL OR referral_basis_points IS NULL)"
        " AND (referral_fixed_fen IS NULL OR referral_fixed_fen > 0)"
        " AND (referral_basis_points IS NULL OR referral_basis_points BETWEEN 1 AND 10000)",
    )
    op.create_table(
        "drop_referrals",
        sa.Column("drop_id", sa.BigInteger(), sa.ForeignKey("drops.id"), primary_key=True),
        sa.Column("referee_id", sa.BigInteger(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("referrer_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("referee_id <> referrer_id", name=op.f("ck_drop_referrals_not_self")),
        sa.CheckConstraint("source IN ('DROP', 'TEAM')", name=op.f("ck_drop_referrals_source")),
    )
    op.create_index("ix_drop_referrals_referrer", "drop_referrals", ["drop_id", "referrer_id"])
    op.create_table(
        "referral_rewards",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("basis_fen", sa.BigInteger(), nullable=True),
        sa.Column("order_id", sa.BigInteger(), sa.ForeignKey("orders.id"), nullable=True),
        sa.Column("drop_id", sa.BigInteger(), sa.ForeignKey("drops.id"), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.Column("created_by", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_referral_rewards_amount")),
        sa.CheckConstraint(
            "kind IN ('EARNED', 'REVERSED', 'PAID_OUT')", name=op.f("ck_referral_rewards_kind")
        ),
        sa.CheckConstraint(
            "(kind = 'PAID_OUT') = (order_id IS NULL)", name=op.f("ck_referral_rewards_order")
        ),
    )
    op.create_index(
        "ux_referral_rewards_earned",
        "referral_rewards",
        ["order_id"],
        unique=True,
        postgresql_where="kind = 'EARNED'",
    )
    op.create_index(
        "ux_referral_rewards_payout_key",
        "referral_rewards",
        ["user_id", "idempotency_key"],
        unique=True,
        postgresql_where="idempotency_key IS NOT NULL",
    )
    op.create_index("ix_referral_rewards_user", "referral_rewards", ["user_id", "id"])
    op.execute(
        """
        CREATE FUNCTION referral_rewards_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'referral_rewards is append-only';
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER referral_rewards_append_only BEFORE UPDATE OR DELETE ON referral_rewards
          FOR EACH ROW EXECUTE FUNCTION referral_rewards_append_only()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER referral_rewards_append_only ON referral_rewards")
    op.execute("DROP FUNCTION referral_rewards_append_only()")
    op.drop_table("referral_rewards")
    op.drop_index("ix_drop_referrals_referrer", table_name="drop_referrals")
    op.drop_table("drop_referrals")
    op.drop_constraint(op.f("ck_drops_referral_reward"), "drops")
    op.drop_column("drops", "referral_basis_points")
    op.drop_column("drops", "referral_fixed_fen")
