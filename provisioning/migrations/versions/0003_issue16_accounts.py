"""Web accounts: roles, password hashes, two-factor secrets, lock-out, and coordinators'
providers.

Revision ID: 0003_issue16
Revises: 0002_issue15
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_issue16"
down_revision = "0002_issue15"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("totp_last_step", sa.Integer, nullable=True),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("locked_at", sa.DateTime, nullable=True),
        sa.Column("disabled_at", sa.DateTime, nullable=True),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.Column("last_login_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("role IN ('desk', 'coordinator', 'admin')", name="ck_accounts_role"),
    )
    op.create_table(
        "account_providers",
        sa.Column("username", sa.String(64), sa.ForeignKey("accounts.username"), primary_key=True),
        sa.Column("provider_id", sa.String(64), sa.ForeignKey("providers.id"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("account_providers")
    op.drop_table("accounts")
