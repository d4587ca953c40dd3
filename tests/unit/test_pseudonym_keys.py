"""Pseudonym keys that cannot silently change: recorded on first use, never recreated, read
one way from a file or a credential, owner-only, kept outside the data directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nfcbridge.cli.main import cli
from nfcbridge.config import Settings
from provisioning.errors import PseudonymKeyError
from provisioning.identity import Pseudonymizer, load_key
from provisioning.keys import key_record
from provisioning.registry import Registry

PNR = "811218-9876"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NFCBRIDGE_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NFCBRIDGE_CONFIG", raising=False)
    return tmp_path / "state"


def run(*args: str, code: int = 0, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--operator", "desk", *args], input=input)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def config(tmp_path: Path, key: Path | str, key_id: str = "k1", extra: str = "") -> str:
    path = tmp_path / f"c-{key_id}.toml"
    path.write_text(
        f'[registry]\npseudonym_key_file = "{key}"\npseudonym_key_id = "{key_id}"\n{extra}'
    )
    return str(path)


def private(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    path.chmod(0o600)
    return path


def add(cfg: str | None, pnr: str = PNR, code: int = 0) -> Result:
    conf = ["--config", cfg] if cfg else []
    return run(*conf, "customer", "add", "--provider", "P-1", input=pnr + "\n", code=code)


def test_the_default_key_lives_outside_the_data_directory(state: Path) -> None:
    run("provider", "add", "P-1", "--name", "x")
    add(None)
    key = Settings().pseudonym_key_path
    assert key.exists() and not key.is_relative_to(state)
    assert Path(os.environ["XDG_CONFIG_HOME"]) in key.parents
    assert not list(state.rglob("*.key"))


def test_the_key_is_recorded_on_first_use_and_another_key_under_its_id_is_refused(
    state: Path, tmp_path: Path
) -> None:
    run("provider", "add", "P-1", "--name", "x")
    first = private(tmp_path / "k1.key", os.urandom(32).hex().encode())
    ref = add(config(tmp_path, first)).stdout.strip()
    with Registry.open(f"sqlite:///{state / 'registry.db'}") as reg:
        record = key_record(reg.store, "k1")
    assert record is not None and record.scheme == "argon2id"
    assert record.fingerprint == Pseudonymizer(load_key(first), "k1").fingerprint
    private(first, os.urandom(32).hex().encode())  # the file replaced by another key
    out = add(config(tmp_path, first), pnr="701063-2391", code=3).stderr
    assert "is not key k1 recorded in the registry" in out and "new id" in out
    assert ref.startswith("psn:k1:")


def test_a_missing_key_is_an_error_once_the_registry_holds_pseudonyms(state: Path) -> None:
    run("provider", "add", "P-1", "--name", "x")
    add(None)
    key = Settings().pseudonym_key_path
    key.unlink()
    out = add(None, pnr="701063-2391", code=3).stderr
    assert "is missing" in out and "Restore the key from its backup" in out
    assert not key.exists()  # never silently recreated
    customers = json.loads(run("customer", "list", "--json").stdout)
    assert len(customers) == 1


def test_a_file_key_and_the_same_key_as_a_credential_give_the_same_pseudonym(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = b"a raw key of plain text, not hex"
    file_key = load_key(private(tmp_path / "pseudonym.key", raw + b"\n"))
    creds = tmp_path / "creds"
    creds.mkdir()
    private(creds / "pseudonym-key", raw)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cred_key = load_key("credential:pseudonym-key")
    assert file_key == cred_key == raw
    assert Pseudonymizer(file_key).pseudonym(PNR) == Pseudonymizer(cred_key).pseudonym(PNR)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    key = private(tmp_path / "k.key", os.urandom(32).hex().encode())
    key.chmod(mode)
    with pytest.raises(PseudonymKeyError, match="chmod 600"):
        load_key(key)


def test_a_world_readable_key_is_a_config_error_in_the_cli(state: Path, tmp_path: Path) -> None:
    run("provider", "add", "P-1", "--name", "x")
    key = private(tmp_path / "k.key", os.urandom(32).hex().encode())
    key.chmod(0o644)
    assert "may be read by others" in add(config(tmp_path, key), code=3).stderr


def test_a_key_left_at_the_old_default_place_is_pointed_out_not_replaced(state: Path) -> None:
    run("provider", "add", "P-1", "--name", "x")
    add(None)
    key = Settings().pseudonym_key_path
    legacy = state / "pseudonym.key"
    key.rename(legacy)  # as an installation from before the default moved
    out = add(None, pnr="701063-2391", code=3).stderr
    assert f"move {legacy} to {key}" in out and not key.exists()
