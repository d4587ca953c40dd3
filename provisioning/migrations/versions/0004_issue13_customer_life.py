"""The municipal process around the tags: customers end, locks, households, labels,
provider billing, closed months, orders.

Revision ID: 0004_issue13
Revises: 0003_issue16
Create Date: 2026-12-01

Frozen once released: later changes go into new revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_issue13"
down_revision = "0003_issue16"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("ended_on", sa.Date, nullable=True))
    op.add_column("customers", sa.Column("end_reason", sa.String(32), nullable=True))
    op.add_column("customers", sa.Column("lock_installed_on", sa.Date, nullable=True))
    op.add_column("customers", sa.Column("lock_removed_on", sa.Date, nullable=True))
    op.add_column("customers", sa.Column("household", sa.String(64), nullable=True))
    op.create_index("ix_customers_household", "customers", ["household"])
    op.add_column("tags", sa.Column("label", sa.String(64), nullable=True))
    op.add_column("tags", sa.Column("issued_by", sa.String(120), nullable=True))
    op.add_column("tags", sa.Column("issued_price_ore", sa.Integer, nullable=True))
    op.add_column(
        "providers",
        sa.Column("kind", sa.String(16), nullable=False, server_default=sa.text("'municipal'")),
    )
    op.add_column("providers", sa.Column("price_ore", sa.Integer, nullable=True))
    op.create_table(
        "periods",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("locking_date", sa.Date, nullable=False),
        sa.Column("closed_at", sa.DateTime, nullable=False),
        sa.Column("operator", sa.String(120), nullable=False),
        sa.Column("anchor_seq", sa.Integer, nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("provider_id", sa.String(64), sa.ForeignKey("providers.id"), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("picked", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("pickup_on", sa.Date, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("operator", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("fulfilled_at", sa.DateTime, nullable=True),
        sa.CheckConstraint("state IN ('open', 'fulfilled', 'cancelled')", name="ck_orders_state"),
    )
    op.create_index("ix_orders_due", "orders", ["state", "pickup_on"])


def downgrade() -> None:
    op.drop_table("orders")
    op.drop_table("periods")
    op.drop_index("ix_customers_household", "customers")
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("price_ore")
        batch.drop_column("kind")
    with op.batch_alter_table("tags") as batch:
        batch.drop_column("issued_price_ore")
        batch.drop_column("issued_by")
        batch.drop_column("label")
    with op.batch_alter_table("customers") as batch:
        for name in ("household", "lock_removed_on", "lock_installed_on", "end_reason", "ended_on"):
            batch.drop_column(name)
