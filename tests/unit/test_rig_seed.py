"""``rig seed``: a scenario's world loaded into a test-rig registry through the real lifecycle,
audited, idempotent, and refused where the registry contradicts the scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.rig.scenario_parser import parse_scenario
from nfcbridge.rig.seed import SeedRefused, batch_name, seed_registry
from provisioning.registry import Registry

RECORDS = [
    {"kind": "scenario", "version": 1, "name": "two doors", "start": "2026-11-24T06:00:00Z"},
    {"kind": "provider", "id": "P-01"},
    {"kind": "provider", "id": "P-02"},
    {"kind": "customer", "id": "C-1", "provider": "P-01", "household": "H-1"},
    {"kind": "customer", "id": "C-2", "provider": "P-01", "household": "H-1"},
    {"kind": "customer", "id": "C-3", "provider": "P-02"},
    {"kind": "tag", "uid": "04A1B2C3D4E5F6", "customer": "C-1"},
    {"kind": "tag", "uid": "04A1B2C3D4E5F7", "customer": "C-2"},
    {"kind": "tag", "uid": "04A1B2C3D4E5F8", "customer": "C-3"},
    {"kind": "tag", "uid": "04FF00112233AA", "state": "retired", "customer": "C-1"},
    {"kind": "tag", "uid": "04FF00112233AB", "state": "retired"},
    {"kind": "tag", "uid": "04EE00112233BB", "state": "unknown"},
    {"kind": "staff", "id": "S-1", "provider": "P-01"},
]
TEXT = "\n".join(json.dumps(r) for r in RECORDS) + "\n"


@pytest.fixture
def reg(tmp_path: Path):
    with Registry.open(f"sqlite:///{tmp_path / 'rig-registry.db'}") as registry:
        yield registry


def test_seed_builds_the_scenarios_world_through_the_lifecycle(reg: Registry) -> None:
    scenario = parse_scenario(TEXT, "two-doors.jsonl")
    result = seed_registry(reg, scenario, operator="rig-anna")
    assert result.added == {"providers": 2, "customers": 3, "active": 3, "retired": 2, "issued": 0}
    assert result.unknown_not_loaded == 1
    assert {c.ref: c.active_tag for c in reg.customers()} == {
        "ext:C-1": "04A1B2C3D4E5F6",
        "ext:C-2": "04A1B2C3D4E5F7",
        "ext:C-3": "04A1B2C3D4E5F8",
    }
    ctx = reg.tap_context(bytes.fromhex("04A1B2C3D4E5F8"))
    assert (ctx.state, ctx.customer, ctx.provider) == ("active", "ext:C-3", "P-02")
    assert reg.tap_context(bytes.fromhex("04EE00112233BB")) is None
    assert reg.tag("04FF00112233AB").state == "retired"
    old = [e.action for e in reg.history("04FF00112233AA")]
    assert old == ["tag.provisioned", "tag.issued", "tag.attached", "tag.retired"]
    assert reg.batch(batch_name(scenario)).provisioned == 5
    with reg.store.read() as conn:
        from provisioning import audit

        operators = {e.operator for e in audit.entries(conn)}
    assert operators == {"rig-anna"}
    assert reg.verify_audit().ok


def test_a_second_seed_changes_nothing(reg: Registry) -> None:
    scenario = parse_scenario(TEXT)
    seed_registry(reg, scenario, operator="rig")
    rows = reg.verify_audit().rows
    again = seed_registry(reg, scenario, operator="rig")
    assert not again.changed
    assert again.existing == {
        "providers": 2,
        "customers": 3,
        "active": 3,
        "retired": 2,
        "issued": 0,
    }
    assert reg.verify_audit().rows == rows


def test_an_interrupted_seed_is_completed_from_where_each_tag_is(reg: Registry) -> None:
    scenario = parse_scenario(TEXT)
    reg.add_provider("P-01", "P-01", operator="rig")
    reg.add_customer("ext:C-1", "P-01", operator="rig")
    reg.open_batch(batch_name(scenario), operator="rig")
    reg.record_provisioned("04A1B2C3D4E5F6", "NTAG213", "tok-a", batch_name(scenario), "rig")
    reg.record_provisioned("04A1B2C3D4E5F7", "NTAG213", "tok-b", batch_name(scenario), "rig")
    reg.add_customer("ext:C-2", "P-01", operator="rig")
    reg.pickup_tags("P-01", ["04A1B2C3D4E5F7"], operator="rig")
    result = seed_registry(reg, scenario, operator="rig")
    assert result.existing["providers"] == 1 and result.existing["customers"] == 2
    assert reg.tag("04A1B2C3D4E5F6").customer == "ext:C-1"
    assert reg.tag("04A1B2C3D4E5F7").customer == "ext:C-2"


def test_a_customer_with_another_provider_is_refused(reg: Registry) -> None:
    for pid in ("P-01", "P-02"):
        reg.add_provider(pid, pid, operator="rig")
    reg.add_customer("ext:C-1", "P-02", operator="rig")
    with pytest.raises(SeedRefused, match="ext:C-1 is with provider P-02"):
        seed_registry(reg, parse_scenario(TEXT), operator="rig")


def test_a_registry_that_knows_an_unknown_tag_is_refused(reg: Registry) -> None:
    reg.open_batch("rig:other", operator="rig")
    reg.record_provisioned("04EE00112233BB", "NTAG213", "tok", "rig:other", "rig")
    with pytest.raises(SeedRefused, match="04EE00112233BB is unknown in the scenario"):
        seed_registry(reg, parse_scenario(TEXT), operator="rig")


def test_a_desk_registry_is_refused_before_anything_is_written(reg: Registry) -> None:
    reg.open_batch("2026-11-a", operator="desk")
    rows = reg.verify_audit().rows
    with pytest.raises(SeedRefused, match="only loads a test-rig registry"):
        seed_registry(reg, parse_scenario(TEXT), operator="rig")
    assert reg.verify_audit().rows == rows


def test_rig_seed_command(tmp_path: Path) -> None:
    scenario = tmp_path / "two-doors.jsonl"
    scenario.write_text(TEXT)
    url = f"sqlite:///{tmp_path / 'rig-registry.db'}"
    args = ["--operator", "rig-anna", "rig", "seed", str(scenario), "--registry", url]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "3 attached, 2 retired" in first.output and "1 unknown (not loaded)" in first.output
    second = CliRunner().invoke(cli, [*args, "--json"])
    assert second.exit_code == 0
    data = json.loads(second.output)
    assert data["changed"] is False and data["batch"] == "rig:two doors"
    again = CliRunner().invoke(cli, args)
    assert "nothing to do" in again.output


def test_rig_seed_command_refuses_a_desk_registry_with_exit_7(tmp_path: Path) -> None:
    scenario = tmp_path / "two-doors.jsonl"
    scenario.write_text(TEXT)
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    with Registry.open(url) as desk:
        desk.open_batch("2026-11-a", operator="desk")
    result = CliRunner().invoke(cli, ["rig", "seed", str(scenario), "--registry", url])
    assert result.exit_code == 7
    assert "error: " in result.output and "test-rig registry" in result.output
