"""Provisioning an NTAG 424 DNA (and TT) on the mock reader into a real registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from drivers import mock, sun
from drivers.ntag424 import SUN_PARAMS, Ntag424, meta_key
from drivers.ntag424_crypto import tag_key
from drivers.ntag424_files import FileSettings
from nfcbridge.cli.main import cli
from provisioning.registry import Registry
from tests.support.sun_tags import MASTER, MASTER_HEX


@pytest.fixture
def env(tmp_path: Path, registry_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NFCBRIDGE_DATA_DIR", str(tmp_path / "state"))
    config = tmp_path / "nfcbridge.toml"
    config.write_text(f'[registry]\nurl = "{registry_url}"\n')
    monkeypatch.setenv("NFCBRIDGE_CONFIG", str(config))
    key = tmp_path / "master.key"
    key.write_text(MASTER_HEX + "\n")
    return key


def provision(key: Path, reader: str, code: int = 0) -> Result:
    args = ["--operator", "desk-dana", "sun", "provision", "--reader", reader]
    args += ["--master-key-file", str(key), "--base-url", "https://tap.example/t"]
    result = CliRunner().invoke(cli, [*args, "--batch", "s1", "--timeout", "1", "--json"])
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.mark.parametrize(
    ("chip", "product"), [("ntag424", "NTAG424DNA"), ("ntag424tt", "NTAG424DNATT")]
)
def test_a_factory_424_is_provisioned_recorded_and_its_taps_verify(
    env: Path, registry_url: str, chip: str, product: str
) -> None:
    out = json.loads(provision(env, f"mock:s{chip}?tag={chip}").stdout)
    assert out["product"] == product and out["state"] == "in_stock" and out["first_counter"] == 1
    with Registry.open(registry_url) as reg:
        row = reg.sun_tag(out["uid"])
        assert row is not None and row.product == product and row.key_version == 1
        settings = FileSettings.decode_change(bytes.fromhex(row.sdm_settings))
        assert settings.sdm is not None and settings.access.write == 0
        assert reg.tag(out["uid"]).product == product
    tag_on_bench = mock.bench(f"s{chip}").tag
    assert tag_on_bench is not None
    tag_on_bench.activate()
    url = Ntag424(tag_on_bench.transceive).read_ndef_uri()  # type: ignore[attr-defined]
    uid = bytes.fromhex(out["uid"])
    result = sun.verify_url(url, meta_key(MASTER, 1), tag_key(MASTER, uid, 2, 1), SUN_PARAMS)
    assert result.valid and result.uid == uid and result.counter == 3


def test_a_424_whose_factory_key_was_changed_is_refused_and_not_recorded(
    env: Path, registry_url: str
) -> None:
    out = json.loads(provision(env, "mock:again?tag=ntag424").stdout)
    bench = mock.bench("again")
    chip = bench.tag
    # the same chip presented again (a new batch run): key 0 is no longer the factory key
    result = provision(env, "mock:again", code=6)
    assert "key 0 does not authenticate" in result.stderr
    assert chip is not None
    with Registry.open(registry_url) as reg:
        assert reg.batch("s1") is not None and reg.batch("s1").provisioned == 1  # type: ignore[union-attr]
        assert reg.sun_tag(out["uid"]) is not None


def test_a_type_2_tag_is_refused_by_sun_provision(env: Path) -> None:
    result = provision(env, "mock:t2?tag=ntag213", code=6)
    assert "not an ISO 14443-4" in result.stderr


def test_the_emulate_commands_can_put_a_424_in_their_field() -> None:
    import click

    from drivers.emulated.ntag424 import Ntag424Chip
    from nfcbridge.cli.emulate_common import field_with_tag

    field, tag = field_with_tag("e", "ntag424tt", bytes.fromhex("04E10CDA993C80"), None, False)
    assert isinstance(tag, Ntag424Chip) and tag.tagtamper and field.tag is tag
    assert tag.uid == bytes.fromhex("04E10CDA993C80")
    with pytest.raises(click.BadParameter):
        field_with_tag("e", "ntag424", None, "remove@3", False)


def test_a_424_with_a_uid_from_the_mock_url_is_signed_for_that_uid(env: Path) -> None:
    out = json.loads(provision(env, "mock:s-uid?tag=ntag424&uid=04E10CDA993C80").stdout)
    assert out["uid"] == "04E10CDA993C80" and out["signature"] == "test-key"
