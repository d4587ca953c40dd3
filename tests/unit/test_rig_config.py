"""``rig config`` writes a daemon configuration for a scenario that the daemon's own loader
accepts: one mock reader per staff reader, the rig's registry, a webhook to the receiver."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.config import load_settings
from nfcbridge.rig.scenario_parser import load_scenario


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_rig_config_has_one_reader_per_staff_member_and_loads(tmp_path: Path):
    day, toml = tmp_path / "day.jsonl", tmp_path / "rig.toml"
    invoke("rig", "generate", "--customers", "40", "--staff", "7", "--seed", "3", "--out", str(day))
    rig = str(tmp_path / "rig")
    said = invoke("rig", "config", str(day), "--out", str(toml), "--data-dir", rig,
                  "--receiver", "http://127.0.0.1:8099/", "--secret-file", "s.txt")  # fmt: skip
    assert "7 readers" in said
    settings = load_settings(toml)
    staff = load_scenario(day).staff.values()
    assert sorted(r.name for r in settings.readers) == sorted(s.reader for s in staff)
    assert {r.url for r in settings.readers} == {f"mock:{s.reader}" for s in staff}
    assert {r.retap_window for r in settings.readers} == {0.1}
    assert settings.registry_url == f"sqlite:///{tmp_path / 'rig' / 'registry.db'}"
    (webhook,) = settings.forwarders
    assert (webhook.type, webhook.url) == ("webhook", "http://127.0.0.1:8099/")
