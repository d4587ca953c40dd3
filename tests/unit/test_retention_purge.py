"""Retention: customers ended (``customer end``) before the cut-off leave the registry
(their pseudonyms gone from tables, audit trail and the SQLite file), counts stay, and the
audit chain still verifies; the receiver's store too."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from nfcbridge.cli.main import cli
from nfcbridge.receiver.store import EventStore
from provisioning.identity import Pseudonymizer
from provisioning.registry import Registry
from provisioning.reports import issued_report, stock_report
from tests.support.argon2_cost import PSEUDONYM_PARAMS

OLD, NEW = (
    Pseudonymizer(b"o" * 32, "k1", "hmac-sha256", {}),
    Pseudonymizer(b"n" * 32, "k2", params=PSEUDONYM_PARAMS),
)
GONE, STAYS, RECENT = "811218-9876", "701063-2391", "121212-1212"
T1, T2, T3, T4 = (f"0400000000000{i}" for i in range(1, 5))
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def _filled(registry: Registry) -> None:
    """The shared registry fixture (SQLite and PostgreSQL), filled for these tests."""
    reg = registry
    reg.add_provider("P-1", "Syd", operator="desk", spare=4)
    reg.open_batch("b", operator="desk")
    for uid in (T1, T2, T3, T4):
        reg.record_provisioned(uid, "NTAG213", uuid.uuid4().hex, "b", "desk")
    reg.pickup_tags("P-1", [T1, T2, T3, T4], operator="desk")
    old_ref = OLD.pseudonym(GONE)
    reg.add_customer(old_ref, "P-1", operator="desk")
    reg.attach(T1, old_ref, operator="desk")
    reg.rekey_customer(old_ref, NEW.pseudonym(GONE), operator="desk")  # a rotation
    long_ago = (NOW - dt.timedelta(days=3 * 365)).date()
    reg.end_customer(NEW.pseudonym(GONE), reason="moved_away", on=long_ago, operator="desk")
    reg.add_customer(NEW.pseudonym(STAYS), "P-1", operator="desk")
    reg.attach(T2, NEW.pseudonym(STAYS), operator="desk")
    reg.add_customer(NEW.pseudonym(RECENT), "P-1", operator="desk")
    reg.attach(T3, NEW.pseudonym(RECENT), operator="desk")
    reg.end_customer(NEW.pseudonym(RECENT), reason="died", on=NOW.date(), operator="desk")


def everything(reg: Registry) -> str:
    """Every value of every row of every table, as text."""
    out = []
    with reg.store.read() as conn:
        for table in ("providers", "customers", "tags", "audit", "pseudonym_keys", "batches"):
            out += [repr(tuple(r)) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(out)


def test_an_ended_customer_is_purged_and_the_chain_still_verifies(
    registry: Registry, registry_url: str
) -> None:
    counts = (stock_report(registry), issued_report(registry))
    gone = {OLD.pseudonym(GONE), NEW.pseudonym(GONE)}
    assert all(ref in everything(registry) for ref in gone)
    result = registry.purge_customers(before=NOW - dt.timedelta(days=730), operator="desk")
    # added, attached, rekeyed, ended, retired
    assert (result.customers, result.audit_rows) == (1, 5)
    at_rest = everything(registry)
    assert not any(ref in at_rest for ref in gone)
    assert NEW.pseudonym(STAYS) in at_rest and NEW.pseudonym(RECENT) in at_rest
    assert {c.ref for c in registry.customers()} == {NEW.pseudonym(STAYS), NEW.pseudonym(RECENT)}
    assert registry.tag(T1).state == "retired" and registry.tag(T1).customer is None
    assert (stock_report(registry), issued_report(registry)) == counts
    verified = registry.verify_audit()
    assert verified.ok, (verified.problem, verified.differences)
    history = [e.action for e in registry.history(T1)]
    assert history == ["tag.provisioned", "tag.issued", "tag.attached", "tag.retired"]
    if registry_url.startswith("sqlite:"):
        db = Path(registry_url.removeprefix("sqlite:///"))
        files = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        assert not any(ref.encode() in files for ref in gone)


def test_a_purged_row_edited_afterwards_is_found(registry: Registry) -> None:
    registry.purge_customers(before=NOW - dt.timedelta(days=730), operator="desk")
    with registry.store.read() as conn:
        seq = conn.execute(text("SELECT MIN(seq) FROM audit WHERE purged = 1")).scalar_one()
    # the trigger allows the purge only
    with pytest.raises(Exception, match="append-only"), registry.store.write() as conn:
        conn.execute(text("UPDATE audit SET details = '{}' WHERE seq = :s"), {"s": seq})
    on = " ON audit" if registry.store.is_postgres else ""
    with registry.store.write() as conn:
        conn.execute(text(f"DROP TRIGGER audit_no_update{on}"))
        conn.execute(text("UPDATE audit SET details = '{}' WHERE seq = :s"), {"s": seq})
    result = registry.verify_audit()
    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert "modified after its purge" in result.problem


def test_a_row_marked_purged_without_a_purge_is_found(registry: Registry) -> None:
    with registry.store.write() as conn:  # the trigger lets the flag through...
        conn.execute(text("UPDATE audit SET purged = 1 WHERE seq = 3"))
    result = registry.verify_audit()  # ...but no purge record vouches for the row
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_the_cli_purges_only_with_yes_and_counts_with_dry_run(
    registry: Registry, registry_url: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[registry]\nurl = "{registry_url}"\nkeep_ended_days = 730\n')
    base = ["--config", str(cfg), "customer", "purge"]
    assert CliRunner().invoke(cli, base).exit_code == 9
    dry = CliRunner().invoke(cli, [*base, "--dry-run", "--json"])
    assert json.loads(dry.stdout) == {"customers": 1, "audit_rows": 0, "dry_run": True}
    done = CliRunner().invoke(cli, [*base, "--yes"])
    assert done.exit_code == 0 and "purged 1 ended customer(s)" in done.stdout
    assert CliRunner().invoke(cli, ["--config", str(cfg), "audit", "verify"]).exit_code == 0


def test_the_receiver_store_keeps_events_for_the_retention_only(tmp_path: Path) -> None:
    db = tmp_path / "rx.db"
    store = EventStore(db)
    for i in range(4):
        store.add({"event_id": f"e{i}", "station": "s", "reader": "r", "seq": i + 1,
                   "occurred_at": "2026-01-01T00:00:00Z", "origin": "reader"})  # fmt: skip
    store._db.execute(  # two of them were received 200 days ago
        "UPDATE events SET received_at = ? WHERE event_id IN ('e0', 'e1')",
        ((NOW - dt.timedelta(days=200)).isoformat(timespec="milliseconds"),),
    )
    store.close()
    out = CliRunner().invoke(cli, ["receiver", "prune", "--db", str(db), "--keep-days", "180"])
    assert out.exit_code == 0 and "removed 2 events, kept 2" in out.stdout
    assert [e["event_id"] for e in EventStore(db).events()] == ["e2", "e3"]
