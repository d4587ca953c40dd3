"""Pseudonym keys recorded on first use; the operating-system user in the audit trail.

Revision ID: 0006_issue12
Revises: 0005_issue14
Create Date: 2026-12-01

``pseudonym_keys``: one row per key id (fingerprint, scheme, parameters), so a different key
under the same id, or a missing key, is noticed instead of silently giving customers a
second pseudonym. ``audit.os_user``: who ran the program, beside the declared operator
(hashed into the row when not empty, so rows written before this revision still verify).

Frozen once released: later changes go into new revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_issue12"
down_revision = "0005_issue14"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pseudonym_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("scheme", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.add_column(
        "audit",
        sa.Column("os_user", sa.String(120), nullable=False, server_default=sa.text("''")),
    )


def downgrade() -> None:
    op.drop_column("audit", "os_user")
    op.drop_table("pseudonym_keys")
