"""Argon2id pseudonyms, their parameters recorded with the key id, and key rotation that moves
customers (HMAC ones of old registries included) to the new key as they are entered again."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nfcbridge.cli.main import cli
from provisioning import audit, identity
from provisioning.identity import Pseudonymizer
from provisioning.keys import key_record
from provisioning.registry import Registry

PNR = "811218-9876"
UID = "04A1B2C3D4E5F6"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NFCBRIDGE_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NFCBRIDGE_CONFIG", raising=False)
    return tmp_path / "state"


def registry(state: Path) -> Registry:
    return Registry.open(f"sqlite:///{state / 'registry.db'}")


def key_file(tmp_path: Path, name: str) -> tuple[Path, bytes]:
    key = os.urandom(32)
    path = tmp_path / name
    path.write_text(key.hex())
    path.chmod(0o600)
    return path, key


def add(tmp_path: Path, conf: str, pnr: str = PNR, code: int = 0) -> Result:
    path = tmp_path / "c.toml"
    path.write_text("[registry]\n" + conf)
    result = CliRunner().invoke(
        cli,
        ["--operator", "desk", "--config", str(path), "customer", "add", "--provider", "P-1"],
        input=pnr + "\n",
    )
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def test_parameters_come_from_the_registry_not_from_the_code(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k1, key = key_file(tmp_path, "k1.key")
    with registry(state) as reg:
        reg.add_provider("P-1", "x", operator="desk")
    conf = f'pseudonym_key_file = "{k1}"\n'
    ref = add(tmp_path, conf).stdout.strip()
    with registry(state) as reg:
        record = key_record(reg.store, "k1")
    assert record is not None and record.scheme == "argon2id"
    assert record.params == identity.ARGON2_PARAMS
    assert ref == Pseudonymizer(key, "k1", "argon2id", record.params).pseudonym(PNR)
    assert ref != Pseudonymizer(key, "k1", "hmac-sha256", {}).pseudonym(PNR)
    monkeypatch.setitem(identity.ARGON2_PARAMS, "t", 2)  # a newer release's defaults
    assert "already exists" in add(tmp_path, conf, code=7).stderr  # same pseudonym as before


def test_rotation_moves_hmac_customers_to_the_new_key_as_they_are_entered_again(
    state: Path, tmp_path: Path
) -> None:
    k1, old_key = key_file(tmp_path, "k1.key")
    legacy = Pseudonymizer(old_key, "k1", "hmac-sha256", {})
    with registry(state) as reg:  # a registry from before revision 0006_issue12: HMAC pseudonyms
        reg.add_provider("P-1", "x", operator="desk")
        reg.add_customer(legacy.pseudonym(PNR), "P-1", operator="desk")
        reg.add_customer(legacy.pseudonym("701063-2391"), "P-1", operator="desk")
        reg.open_batch("b", operator="desk")
        reg.record_provisioned(bytes.fromhex(UID), "NTAG213", uuid.uuid4().hex, "b", "desk")
        reg.pickup("P-1", 1, operator="desk")
        reg.attach(UID, legacy.pseudonym(PNR), operator="desk")
    old = f'pseudonym_key_file = "{k1}"\n'
    assert "already exists" in add(tmp_path, old, code=7).stderr  # the old scheme is kept
    with registry(state) as reg:
        record = key_record(reg.store, "k1")
        assert record is not None and record.scheme == "hmac-sha256"

    k2, new_key = key_file(tmp_path, "k2.key")
    new = Pseudonymizer(new_key, "k2", "argon2id", identity.ARGON2_PARAMS)
    with registry(state) as reg:  # found by personnummer under either key meanwhile
        found = reg.find_customer([new.pseudonym(PNR), legacy.pseudonym(PNR)])
        assert found is not None and found.ref == legacy.pseudonym(PNR)
    rotating = (
        f'pseudonym_key_file = "{k2}"\npseudonym_key_id = "k2"\n'
        f'previous_key_id = "k1"\nprevious_key_file = "{k1}"\n'
    )
    new_ref = add(tmp_path, rotating).stdout.strip()
    assert new_ref == Pseudonymizer(new_key, "k2", "argon2id", identity.ARGON2_PARAMS).pseudonym(
        PNR
    )
    with registry(state) as reg:
        assert key_record(reg.store, "k2").scheme == "argon2id"  # type: ignore[union-attr]
        refs = {c.ref: c.active_tag for c in reg.customers()}
        assert refs == {new_ref: UID, legacy.pseudonym("701063-2391"): None}  # both ids resolve
        assert reg.tag(UID).customer == new_ref  # the tag on the door follows
        assert reg.customer(legacy.pseudonym("701063-2391")).provider == "P-1"
        with reg.store.read() as conn:
            rekeyed = [e for e in audit.entries(conn) if e.action == "customer.rekeyed"]
    assert [e.details["from"] for e in rekeyed] == [legacy.pseudonym(PNR)]
    assert "already exists" in add(tmp_path, rotating, code=7).stderr  # entered once only
    fresh = add(tmp_path, rotating, pnr="121212-1212").stdout.strip()
    assert fresh.startswith("psn:k2:")
    with registry(state) as reg:
        assert reg.verify_audit().ok
    listed = json.loads(
        CliRunner().invoke(cli, ["customer", "list", "--json"]).stdout  # default config
    )
    assert len(listed) == 3
