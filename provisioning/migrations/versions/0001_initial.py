"""Initial registry: providers, customers, batches, tags, hash-chained audit.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Frozen once released: later changes go into new revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_NO_CHANGE_SQLITE = """
CREATE TRIGGER audit_no_{op} BEFORE {OP} ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
"""
_NO_CHANGE_PG_FUNC = """
CREATE FUNCTION nfcb_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit is append-only'; END $$
"""
_NO_CHANGE_PG = """
CREATE TRIGGER audit_no_{op} BEFORE {OP} ON audit
FOR EACH ROW EXECUTE FUNCTION nfcb_audit_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "providers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("per_customer", sa.Integer, nullable=True),
        sa.Column("spare", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "customers",
        sa.Column("ref", sa.String(120), primary_key=True),
        sa.Column("provider_id", sa.String(64), sa.ForeignKey("providers.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_customers_provider", "customers", ["provider_id"])
    op.create_table(
        "batches",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("operator", sa.String(120), nullable=False),
        sa.Column("provisioned", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("spoiled", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "tags",
        sa.Column("uid", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("product", sa.String(32), nullable=True),
        sa.Column("token", sa.String(128), nullable=True, unique=True),
        sa.Column("batch", sa.String(120), sa.ForeignKey("batches.name"), nullable=True),
        sa.Column("provider_id", sa.String(64), sa.ForeignKey("providers.id"), nullable=True),
        sa.Column("customer_ref", sa.String(120), sa.ForeignKey("customers.ref"), nullable=True),
        sa.Column("issued_to", sa.String(64), sa.ForeignKey("providers.id"), nullable=True),
        sa.Column("issued_month", sa.String(7), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=True),
        sa.Column("attached_at", sa.DateTime, nullable=True),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.CheckConstraint(
            "state IN ('in_stock', 'issued', 'active', 'spoiled', 'retired')",
            name="ck_tags_state",
        ),
    )
    op.create_index("ix_tags_stock", "tags", ["state", "created_at", "uid"])
    op.create_index("ix_tags_provider_state", "tags", ["provider_id", "state"])
    op.create_index("ix_tags_issued", "tags", ["issued_month", "issued_to"])
    op.create_index(
        "ux_tags_one_active_per_customer",
        "tags",
        ["customer_ref"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "audit",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("operator", sa.String(120), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_subject", "audit", ["subject", "seq"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(sa.text(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')"))
    # Append-only in the database too: a stray UPDATE/DELETE fails. Someone with DDL rights
    # can drop these triggers; the hash chain is what detects that (audit verify).
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(sa.text(_NO_CHANGE_PG_FUNC))
    for name in ("update", "delete"):
        template = _NO_CHANGE_PG if dialect == "postgresql" else _NO_CHANGE_SQLITE
        op.execute(sa.text(template.format(op=name, OP=name.upper())))


def downgrade() -> None:
    for table in ("audit_head", "audit", "tags", "batches", "customers", "providers"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP FUNCTION IF EXISTS nfcb_audit_append_only()"))
