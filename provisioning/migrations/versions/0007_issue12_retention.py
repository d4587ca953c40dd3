"""Retention: audit rows whose customer values were purged keep their hashes.

Revision ID: 0007_issue12
Revises: 0006_issue12
Create Date: 2026-12-01

``audit.purged``: 1 once ``Registry.purge_customers`` replaced the pseudonyms in the row's
subject and details by a token. The append-only trigger now allows exactly that update (the
flag from 0 to 1, subject and details, nothing else) and still refuses every other UPDATE
and every DELETE. The chain keeps each row's original hash; the purge record (a later,
chained audit row) holds the hash of each purged row's new content, so ``audit verify``
still checks every row. Frozen once released.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_issue12"
down_revision = "0006_issue12"
branch_labels = None
depends_on = None

_SAME = " AND ".join(
    f"NEW.{c} = OLD.{c}"
    for c in ("seq", "at", "operator", "action", "reason", "os_user", "prev_hash", "hash")
)
_SQLITE = f"""
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
WHEN NOT (OLD.purged = 0 AND NEW.purged = 1 AND {_SAME})
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
"""
_PG_FUNC = f"""
CREATE FUNCTION nfcb_audit_purge_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.purged = 0 AND NEW.purged = 1 AND {_SAME} THEN RETURN NEW; END IF;
  RAISE EXCEPTION 'audit is append-only';
END $$
"""
_PG = """
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
FOR EACH ROW EXECUTE FUNCTION nfcb_audit_purge_only()
"""


def upgrade() -> None:
    op.add_column(
        "audit", sa.Column("purged", sa.Integer, nullable=False, server_default=sa.text("0"))
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(sa.text("DROP TRIGGER audit_no_update" + (" ON audit" if postgres else "")))
    if postgres:
        op.execute(sa.text(_PG_FUNC))
        op.execute(sa.text(_PG))
    else:
        op.execute(sa.text(_SQLITE))


def downgrade() -> None:
    raise NotImplementedError("purged audit rows cannot be restored")
