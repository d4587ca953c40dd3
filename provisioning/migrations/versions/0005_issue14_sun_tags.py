"""issue 14: sun_tags, the SUN settings of provisioned NTAG 424 DNA tags (no keys).

Revision ID: 0005_issue14
Revises: 0004_issue13
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_issue14"
down_revision = "0004_issue13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sun_tags",
        sa.Column("uid", sa.String(32), sa.ForeignKey("tags.uid"), primary_key=True),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("key_version", sa.Integer, nullable=False),
        sa.Column("sdm_settings", sa.String(128), nullable=False),
        sa.Column("template_url", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sun_tags")
