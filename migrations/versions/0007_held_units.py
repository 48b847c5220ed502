"""Capacity held in PostgreSQL itself: one row per unit of a drop's cap (and of a capped
variant's cap) held by a live order, unique per unit number.

The reservation script in Redis hands out the unit numbers; the primary keys make it impossible
for two live orders to hold the same unit, and the insert refuses a unit above the cap, so even a
Redis that is wrong (restored from an old copy, a reply lost) cannot oversell. A statement-level
trigger frees an order's units when it leaves the live states, whatever statement moved it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FREE_UNITS_FUNCTION = """
CREATE FUNCTION c2m_free_units() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM drop_units u USING new_rows n, old_rows o
   WHERE u.order_id = n.id AND o.id = n.id
     AND n.status IN ('CANCELLED', 'REFUNDED') AND o.status NOT IN ('CANCELLED', 'REFUNDED');
  DELETE FROM variant_units u USING new_rows n, old_rows o
   WHERE u.order_id = n.id AND o.id = n.id
     AND n.status IN ('CANCELLED', 'REFUNDED') AND o.status NOT IN ('CANCELLED', 'REFUNDED');
  RETURN NULL;
END $$
"""

FREE_UNITS_TRIGGER = """
CREATE TRIGGER orders_free_units AFTER UPDATE ON orders
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION c2m_free_units()
"""

BACKFILL_UNITS = """
INSERT INTO drop_units (drop_id, unit, order_id)
SELECT o.drop_id, row_number() OVER (PARTITION BY o.drop_id ORDER BY o.id, g), o.id
FROM orders o CROSS JOIN LATERAL generate_series(1, o.quantity) g
WHERE o.status NOT IN ('CANCELLED', 'REFUNDED')
"""

BACKFILL_VARIANT_UNITS = """
INSERT INTO variant_units (variant_id, unit, order_id)
SELECT l.variant_id, row_number() OVER (PARTITION BY l.variant_id ORDER BY l.order_id, g),
       l.order_id
FROM order_lines l JOIN orders o ON o.id = l.order_id
JOIN drop_variants v ON v.id = l.variant_id
CROSS JOIN LATERAL generate_series(1, l.quantity) g
WHERE v.cap IS NOT NULL AND o.status NOT IN ('CANCELLED', 'REFUNDED')
"""


def upgrade() -> None:
    op.create_table(
        "drop_units",
        sa.Column("drop_id", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("unit >= 1", name=op.f("ck_drop_units_unit")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_drop_units_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("drop_id", "unit", name=op.f("pk_drop_units")),
    )
    op.create_index("ix_drop_units_order", "drop_units", ["order_id"])
    op.create_table(
        "variant_units",
        sa.Column("variant_id", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("unit >= 1", name=op.f("ck_variant_units_unit")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_variant_units_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("variant_id", "unit", name=op.f("pk_variant_units")),
    )
    op.create_index("ix_variant_units_order", "variant_units", ["order_id"])
    for statement in (
        FREE_UNITS_FUNCTION,
        FREE_UNITS_TRIGGER,
        BACKFILL_UNITS,
        BACKFILL_VARIANT_UNITS,
    ):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER orders_free_units ON orders")
    op.execute("DROP FUNCTION c2m_free_units()")
    op.drop_table("variant_units")
    op.drop_table("drop_units")
