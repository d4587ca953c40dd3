"""The audit chain: append-only in the database, and tampering found by verify.

To tamper, the tests first drop the append-only triggers, as an administrator could.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from provisioning.audit import row_hash
from provisioning.registry import Registry

OP = "desk-bo"


@pytest.fixture(autouse=True)
def six_audit_rows(registry: Registry) -> None:
    """Every test's registry (tests/conftest.py) starts with six audit rows."""
    for n in range(1, 7):
        registry.add_provider(f"P-{n}", f"Provider {n}", operator=OP)


def sql(reg: Registry, statement: str, **params: object) -> None:
    with reg.store.write() as conn:
        conn.execute(text(statement), params)


def drop_triggers(reg: Registry) -> None:
    on = " ON audit" if reg.store.is_postgres else ""
    for name in ("audit_no_update", "audit_no_delete"):
        sql(reg, f"DROP TRIGGER {name}{on}")


def test_an_intact_chain_verifies(registry: Registry):
    result = registry.verify_audit()
    assert result.ok and (result.rows, result.head_seq) == (6, 6)
    assert result.first_bad_seq is None


@pytest.mark.parametrize("statement", ["UPDATE audit SET reason = 'x'", "DELETE FROM audit"])
def test_the_database_refuses_update_and_delete_on_audit(registry: Registry, statement: str):
    with pytest.raises(DBAPIError, match="append-only"):
        sql(registry, statement)
    assert registry.verify_audit().ok


def test_a_modified_row_is_found_at_its_seq(registry: Registry):
    drop_triggers(registry)
    sql(registry, "UPDATE audit SET operator = 'mallory' WHERE seq = 3")
    result = registry.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "modified" in result.problem


def test_a_deleted_row_is_found_at_its_seq(registry: Registry):
    drop_triggers(registry)
    sql(registry, "DELETE FROM audit WHERE seq = 4")
    result = registry.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "missing" in result.problem


def test_a_deleted_last_row_is_found_through_the_head(registry: Registry):
    drop_triggers(registry)
    sql(registry, "DELETE FROM audit WHERE seq = 6")
    result = registry.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, 6)
    assert "truncated" in result.problem


def test_a_renumbered_row_breaks_the_link(registry: Registry):
    drop_triggers(registry)
    sql(registry, "DELETE FROM audit WHERE seq = 2")
    sql(registry, "UPDATE audit SET seq = seq - 1 WHERE seq > 2")
    sql(registry, "UPDATE audit_head SET seq = 5")
    result = registry.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_a_row_added_behind_the_heads_back_is_found(registry: Registry):
    with registry.store.read() as conn:
        last = conn.execute(text("SELECT hash FROM audit WHERE seq = 6")).scalar_one()
    fields = dict(
        seq=7, at="2026-01-01T00:00:00.000000Z", operator="mallory", action="tag.retired",
        subject="tag:04AABBCCDDEEFF", details="{}", reason="", prev_hash=last,
    )  # fmt: skip
    sql(
        registry,
        "INSERT INTO audit (seq, at, operator, action, subject, details, reason, prev_hash, hash) "
        "VALUES (:seq, :at, :operator, :action, :subject, :details, :reason, :prev_hash, :hash)",
        **fields,
        hash=row_hash(**fields),
    )
    result = registry.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, 7)


def test_a_fully_rewritten_tail_needs_an_external_anchor(registry: Registry):
    """The documented limit: recomputing every hash and the head passes plain verify;
    an anchor recorded earlier does not."""
    anchor = registry.verify_audit()
    drop_triggers(registry)
    with registry.store.write() as conn:
        prev = conn.execute(text("SELECT hash FROM audit WHERE seq = 4")).scalar_one()
        for seq in (5, 6):
            row = conn.execute(text("SELECT * FROM audit WHERE seq = :s"), {"s": seq}).one()
            fields = dict(
                seq=seq, at=row.at, operator="mallory", action=row.action,
                subject=row.subject, details=row.details, reason=row.reason, prev_hash=prev,
                os_user=row.os_user,
            )  # fmt: skip
            prev = row_hash(**fields)
            conn.execute(
                text("UPDATE audit SET operator = 'mallory', prev_hash = :p, hash = :h "
                     "WHERE seq = :s"),
                {"p": fields["prev_hash"], "h": prev, "s": seq},
            )  # fmt: skip
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    assert registry.verify_audit().ok
    result = registry.verify_audit(anchor=(anchor.head_seq, anchor.head_hash))
    assert (result.ok, result.first_bad_seq) == (False, 6)
    assert "anchor" in result.problem


def test_an_anchor_that_still_matches_verifies(registry: Registry):
    anchor = registry.verify_audit()
    registry.add_provider("P-7", "Later", operator=OP)
    assert registry.verify_audit(anchor=(anchor.head_seq, anchor.head_hash)).ok
    assert not registry.verify_audit(anchor=(99, anchor.head_hash)).ok
