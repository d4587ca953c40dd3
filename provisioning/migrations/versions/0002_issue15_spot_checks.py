"""Spot checks: the hash of the NDEF message written at provisioning, and spot-check records.

Revision ID: 0002_issue15
Revises: 0001
Create Date: 2026-12-01

``tags.ndef_sha256`` is the SHA-256 of the NDEF message bytes written and verified at
provisioning (hex): enough to tell whether a tag still carries what was written, without a
copy of the message. Tags provisioned before this revision have NULL (the spot check then
compares the tag's URI with the registry's token).

``spot_checks`` is one row per ``tag check`` (its audit row is the attributable record;
this table is what ``report checks --month`` counts per provider).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_issue15"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tags") as batch:
        batch.add_column(sa.Column("ndef_sha256", sa.String(64), nullable=True))
    op.create_table(
        "spot_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("operator", sa.String(120), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("customer_ref", sa.String(120), nullable=True),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("failed", sa.String(200), nullable=False),
        sa.Column("audit_seq", sa.Integer, nullable=False),
    )
    op.create_index("ix_spot_checks_month", "spot_checks", ["month", "provider_id"])


def downgrade() -> None:
    op.drop_index("ix_spot_checks_month", "spot_checks")
    op.drop_table("spot_checks")
    with op.batch_alter_table("tags") as batch:
        batch.drop_column("ndef_sha256")
