"""Order changes notified as they commit: a trigger on orders NOTIFYs c2m_orders with the order's
id when its status changes (the orderUpdates subscription listens).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION c2m_order_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('c2m_orders', NEW.id::text);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER orders_status_notify AFTER UPDATE OF status ON orders
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
            EXECUTE FUNCTION c2m_order_changed()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER orders_status_notify ON orders")
    op.execute("DROP FUNCTION c2m_order_changed()")
