"""The registry commands end to end (click runner, real SQLite), and the personnummer scan."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import text

from drivers.emulated.chip import EmulatedTag
from drivers.mock import bench
from provisioning.registry import Registry
from tests.support.cli import cli_state, stock
from tests.support.cli import run_cli as run

PNRS = {  # valid numbers used in the flows, and every way they can be written
    "811218-9876": ["811218-9876", "8112189876", "198112189876", "19811218-9876", "811218+9876"],
    "19121212-1212": ["121212-1212", "1212121212", "191212121212", "19121212-1212"],
    "701063-2391": ["701063-2391", "7010632391", "197010632391", "19701063-2391"],
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_state(tmp_path, monkeypatch)


def data(result: Result):
    return json.loads(result.stdout)


def test_desk_and_coordinator_flow(env: Path):
    run("provider", "add", "P-0042", "--name", "Omsorg Syd AB")
    ref = run("customer", "add", "--provider", "P-0042", input="811218-9876\n").stdout.strip()
    assert ref.startswith("psn:k1:")
    ext = data(run("customer", "add", "--external-id", "4711", "--provider", "P-0042", "--json"))
    assert ext == {"customer": "ext:4711", "provider": "P-0042"}
    uids = stock(env, 5)
    shown = data(run("provider", "show", "P-0042", "--json"))
    assert (shown["customers_without_tag"], shown["allowance"]) == (2, 4)
    picked = data(run("pickup", "--provider", "P-0042", "--count", "2", "--json"))
    assert picked["uids"] == uids[:2]
    assert (picked["allowance_before"], picked["allowance_after"]) == (4, 2)
    attached = data(run("attach", "--tag", picked["uids"][0], "--customer", ref[:15], "--json"))
    assert (attached["state"], attached["customer"]) == ("active", ref)
    run("provider", "add", "P-0007", "--name", "Hemtjänst Norr")
    moved = data(run("customer", "move", ref, "--to", "P-0007", "--json"))
    assert moved["active_tag"] == picked["uids"][0] and moved["provider"] == "P-0007"
    run("retire", "--tag", picked["uids"][1], "--reason", "lost on the way")
    history = data(run("tag", "history", picked["uids"][0], "--json"))
    assert [h["action"] for h in history["history"]] == [
        "tag.provisioned",
        "tag.issued",
        "tag.attached",
        "tag.provider_changed",
    ]
    assert "provider P-0007" in run("tag", "history", picked["uids"][0]).stdout
    customers = data(run("customer", "list", "--provider", "P-0042", "--json"))
    assert [c["ref"] for c in customers] == ["ext:4711"]
    stock_rows = {r["state"]: r["tags"] for r in data(run("report", "stock", "--json"))}
    assert stock_rows == {"in_stock": 3, "issued": 0, "active": 1, "spoiled": 0, "retired": 1}
    csv_out = run("report", "issued", "--csv").stdout.splitlines()
    assert csv_out[0] == "month,provider,issued" and csv_out[1].endswith(",P-0042,2")
    month = csv_out[1].split(",")[0]
    assert data(run("report", "issued", "--month", month, "--json"))[0]["issued"] == 2
    assert data(run("report", "issued", "--month", "1999-01", "--json")) == []
    assert "audit chain ok" in run("audit", "verify").stdout


def test_refusals_are_one_line_with_exit_7(env: Path):
    run("provider", "add", "P-1", "--name", "Ett", "--spare", "0")
    stock(env, 2)
    bad = run("customer", "add", "--personnummer", "811218-9875", "--provider", "P-1", code=7)
    assert bad.stderr.strip().splitlines() == ["error: invalid personnummer (check digit)"]
    assert "9875" not in bad.output
    quota = run("pickup", "--provider", "P-1", "--count", "1", code=7)
    assert "provider P-1 may hold 0 more unattached tags; 1 requested" in quota.stderr
    assert len(quota.stderr.strip().splitlines()) == 1
    run("pickup", "--provider", "P-9", "--count", "1", code=7)
    run("attach", "--tag", "04AABBCCDDEEFF", "--customer", "ext:nobody", code=7)
    run("retire", "--tag", "nonsense", "--reason", "x", code=7)
    run("customer", "add", "--external-id", "9", "--provider", "P-1")
    dup = run("customer", "add", "--external-id", "9", "--provider", "P-1", code=7)
    assert "already exists" in dup.stderr


def test_pickup_by_scanning_each_tag_on_a_mock_reader(env: Path):
    run("provider", "add", "P-5", "--name", "Fem", "--spare", "3")
    uids = stock(env, 3)
    name = f"pickup-{uuid.uuid4().hex[:6]}"
    desk = bench(name)
    tags = [EmulatedTag("NTAG213", uid=bytes.fromhex(u)) for u in uids[:2]]
    tags.append(EmulatedTag("NTAG213", uid=bytes.fromhex("04" + "99" * 6)))  # not registered
    desk.roll = iter(tags[1:])
    desk.place(tags[0])
    result = run("pickup", "--provider", "P-5", "--reader", f"mock:{name}", "--timeout", "0.5",
                 "--json")  # fmt: skip
    out = data(result)
    assert out["uids"] == uids[:2]
    assert (out["allowance_before"], out["allowance_after"]) == (3, 1)
    assert "refused 04999999999999" in result.stderr
    assert desk.signals == [True, True, False]


def test_audit_verify_exits_10_when_a_row_was_deleted(env: Path):
    run("provider", "add", "P-1", "--name", "Ett")
    run("provider", "add", "P-2", "--name", "Två")
    anchor = data(run("audit", "verify", "--json"))
    run("audit", "verify", "--anchor", f"{anchor['head_seq']}:{anchor['head_hash']}")
    with Registry.open(f"sqlite:///{env / 'registry.db'}") as reg, reg.store.write() as conn:
        conn.execute(text("DROP TRIGGER audit_no_delete"))
        conn.execute(text("DELETE FROM audit WHERE seq = 1"))
    broken = run("audit", "verify", code=10)
    assert "seq 1" in broken.stderr


def test_a_newer_schema_or_unreachable_registry_exits_8(env: Path, tmp_path: Path):
    run("provider", "list")
    with Registry.open(f"sqlite:///{env / 'registry.db'}") as reg, reg.store.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    assert "newer" in run("provider", "list", code=8).stderr
    config = tmp_path / "pg.toml"
    config.write_text('[registry]\nurl = "postgresql://desk:s3cret@127.0.0.1:1/registry"\n')
    down = run("--config", str(config), "provider", "list", code=8)
    assert "unreachable" in down.stderr and "s3cret" not in down.output


def test_a_configured_key_file_that_is_missing_is_a_config_error(env: Path, tmp_path: Path):
    config = tmp_path / "c.toml"
    config.write_text(f'[registry]\npseudonym_key_file = "{tmp_path / "nokey"}"\n')
    run("--config", str(config), "provider", "add", "P-1", "--name", "x")
    out = run("--config", str(config), "customer", "add", "--personnummer", "811218-9876",
              "--provider", "P-1", code=3)  # fmt: skip
    assert "does not exist" in out.stderr and not (tmp_path / "nokey").exists()


def test_no_personnummer_in_database_logs_or_output(env: Path, caplog: pytest.LogCaptureFixture):
    """Run every flow that touches a personnummer, then grep everything for every form."""
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []

    def go(*args: str, input: str | None = None, code: int = 0) -> Result:
        result = run("--debug", *args, input=input, code=code)
        outputs.append(result.output + result.stderr)
        return result

    go("provider", "add", "P-1", "--name", "Ett")
    go("provider", "add", "P-2", "--name", "Två")
    refs = []
    for i, pnr in enumerate(PNRS):
        if i == 0:
            refs.append(go("customer", "add", "--provider", "P-1", input=pnr + "\n").stdout)
        else:
            refs.append(
                go("customer", "add", "--personnummer", pnr, "--provider", "P-1").stdout.strip()
            )
    for form in PNRS["811218-9876"][1:4]:  # same person, other forms: refused as duplicate
        dup = go("customer", "add", "--personnummer", form, "--provider", "P-1", code=7)
        assert "already exists" in dup.stderr
    go("customer", "add", "--personnummer", "811218-9875", "--provider", "P-1", code=7)
    go("customer", "add", "--personnummer", "19811218-9876", "--provider", "P-9", code=7)
    uids = stock(env, 3)
    go("pickup", "--provider", "P-1", "--count", "3")
    for uid, ref in zip(uids, refs, strict=True):
        go("attach", "--tag", uid, "--customer", ref.strip())
    go("customer", "move", refs[0].strip(), "--to", "P-2")
    go("customer", "list", "--json")
    go("customer", "list")
    go("tag", "history", uids[0], "--json")
    go("report", "providers", "--csv")
    go("audit", "verify", "--json")
    go("attach", "--tag", uids[1], "--customer", "811218-9876", code=7)
    assert len(set(refs)) == 3

    files = b"".join(p.read_bytes() for p in env.iterdir() if p.name.startswith("registry.db"))
    assert refs[1].strip().encode() in files  # the scan does see customer data
    logs = caplog.text + "\n".join(outputs)
    for forms in PNRS.values():
        for form in forms:
            assert form.encode() not in files, f"{form} in the database files"
            assert form not in logs, f"{form} in logs or CLI output"
            assert form.replace("-", "").replace("+", "") not in logs
