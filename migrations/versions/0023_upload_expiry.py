"""Uploads never completed expire: a day after their link expired, what arrived is deleted from
the store and the upload is EXPIRED (kept, so that it still counts towards the drop's limit).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_media_uploads_status"), "media_uploads", type_="check")
    op.create_check_constraint(
        op.f("ck_media_uploads_status"),
        "media_uploads",
        "status IN ('PENDING', 'READY', 'EXPIRED')",
    )
    # The sweep reads the oldest PENDING uploads first.
    op.create_index(
        "ix_media_uploads_pending",
        "media_uploads",
        ["expires_at"],
        postgresql_where="status = 'PENDING'",
    )


def downgrade() -> None:
    op.drop_index("ix_media_uploads_pending", table_name="media_uploads")
    op.execute("UPDATE media_uploads SET status = 'PENDING' WHERE status = 'EXPIRED'")
    op.drop_constraint(op.f("ck_media_uploads_status"), "media_uploads", type_="check")
    op.create_check_constraint(
        op.f("ck_media_uploads_status"), "media_uploads", "status IN ('PENDING', 'READY')"
    )
