"""`audit verify` rebuilds the state from the audit trail and names every table row that
differs; it never creates or migrates a registry; each row records the OS user."""

from __future__ import annotations

import getpass
import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from nfcbridge.cli.main import cli
from provisioning import audit
from provisioning.registry import Registry

T1, T2, T3 = "04000000000001", "04000000000002", "04000000000003"


@pytest.fixture(autouse=True)
def _filled(registry: Registry) -> None:
    """The shared registry fixture (SQLite and PostgreSQL), filled for these tests."""
    reg = registry
    reg.add_provider("P-1", "Syd", operator="desk")
    reg.add_provider("P-2", "Norr", operator="desk")
    reg.add_customer("ext:1", "P-1", operator="desk")
    reg.add_customer("ext:2", "P-1", operator="desk")
    reg.open_batch("b", operator="desk")
    for uid in (T1, T2, T3):
        reg.record_provisioned(uid, "NTAG213", uuid.uuid4().hex, "b", "desk")
    reg.pickup_tags("P-1", [T1, T2], operator="desk")
    reg.attach(T1, "ext:1", operator="desk")
    reg.retire(T3, reason="damaged at the desk", operator="desk")


def sql(reg: Registry, statement: str) -> None:
    with reg.store.write() as conn:
        conn.execute(text(statement))


def verify(url: str, *args: str, code: int) -> Result:
    env = {"NFCBRIDGE_DATA_DIR": "/nonexistent-nfcbridge"}
    cfg = Path(os.environ["XDG_CONFIG_HOME"]) / "audit.toml"
    cfg.write_text(f'[registry]\nurl = "{url}"\n')
    result = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "audit", "verify", *args])
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def test_an_untouched_registry_verifies_with_its_state(registry: Registry) -> None:
    result = registry.verify_audit()
    assert result.ok and result.differences == ()


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (
            f"UPDATE tags SET state = 'in_stock' WHERE uid = '{T3}'",
            f"tag {T3}: state is 'in_stock' in the table, 'retired' by the audit trail",
        ),
        (
            f"UPDATE tags SET customer_ref = 'ext:2' WHERE uid = '{T1}'",
            f"tag {T1}: customer_ref is 'ext:2' in the table, 'ext:1' by the audit trail",
        ),
        (
            "UPDATE customers SET provider_id = 'P-2' WHERE ref = 'ext:2'",
            "customer ext:2: provider_id is 'P-2' in the table, 'P-1' by the audit trail",
        ),
        (
            f"UPDATE tags SET provider_id = 'P-2' WHERE uid = '{T2}'",
            f"tag {T2}: provider_id is 'P-2' in the table, 'P-1' by the audit trail",
        ),
        ("UPDATE batches SET provisioned = 2", "batch b: provisioned is 2 in the table, 3"),
        (
            "INSERT INTO customers (ref, provider_id, created_at) "
            "VALUES ('ext:9', 'P-2', '2026-01-01 00:00:00')",
            "customer ext:9: in the table, but no audit row created it",
        ),
    ],
)
def test_a_table_edited_behind_the_trail_is_named(
    registry: Registry, registry_url: str, statement: str, named: str
) -> None:
    sql(registry, statement)
    result = registry.verify_audit()
    assert not result.ok
    assert [d for d in result.differences if d.startswith(named)], result.differences
    shown = verify(registry_url, code=10)
    assert named in shown.stderr and "audit trail and tables differ" in shown.stderr


def test_a_deleted_audit_row_is_named(registry: Registry, registry_url: str) -> None:
    on = " ON audit" if registry.store.is_postgres else ""
    sql(registry, f"DROP TRIGGER audit_no_delete{on}")
    sql(registry, "DELETE FROM audit WHERE seq = 4")
    assert "broken at seq 4: row 4 is missing" in verify(registry_url, code=10).stderr


def test_a_chain_rewritten_from_a_point_is_caught_with_the_anchor(
    registry: Registry, registry_url: str
) -> None:
    head = registry.verify_audit()
    anchor = f"{head.head_seq}:{head.head_hash}"
    on = " ON audit" if registry.store.is_postgres else ""
    sql(registry, f"DROP TRIGGER audit_no_update{on}")
    with registry.store.write() as conn:  # rewrite from row 5 on, consistently
        rows = conn.execute(text("SELECT * FROM audit WHERE seq >= 5 ORDER BY seq")).all()
        prev = conn.execute(text("SELECT hash FROM audit WHERE seq = 4")).scalar_one()
        for row in rows:
            fields = dict(
                seq=row.seq, at=row.at, operator="mallory", action=row.action,
                subject=row.subject, details=row.details, reason=row.reason, prev_hash=prev,
                os_user=row.os_user,
            )  # fmt: skip
            prev = audit.row_hash(**fields)
            conn.execute(
                text("UPDATE audit SET operator = 'mallory', prev_hash = :p, hash = :h "
                     "WHERE seq = :s"),
                {"p": fields["prev_hash"], "h": prev, "s": row.seq},
            )  # fmt: skip
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    verify(registry_url, code=0)  # without an anchor nothing inside the database can tell
    out = verify(registry_url, "--anchor", anchor, code=10).stderr
    assert f"broken at seq {head.head_seq}" in out and "anchor" in out


def test_verify_never_creates_or_migrates_a_registry(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "registry.db"
    assert "does not exist" in verify(f"sqlite:///{missing}", code=8).stderr
    assert not missing.exists() and not missing.parent.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    assert "not an nfcbridge registry" in verify(f"sqlite:///{empty}", code=8).stderr
    assert empty.stat().st_size == 0


def test_each_audit_row_records_the_os_user_beside_the_operator(registry: Registry) -> None:
    history = registry.history(T3)
    assert {e.operator for e in history} == {"desk"}
    assert {e.os_user for e in history} == {getpass.getuser()}
    assert registry.verify_audit().ok
