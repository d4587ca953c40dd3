"""`config show` prints the settings in force as TOML that loads back to the same settings."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.config import load_settings

EXAMPLE = Path(__file__).parents[2] / "systemd" / "nfcbridge.example.toml"


def test_config_show_round_trips_the_example_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(EXAMPLE), "config", "show"])
    assert result.exit_code == 0, result.output
    shown = tmp_path / "shown.toml"
    shown.write_text(result.output)
    original, again = load_settings(EXAMPLE), load_settings(shown)
    assert again.readers == original.readers
    assert again.forwarders == original.forwarders
    assert again.station == original.station and again.registry == original.registry


def test_config_show_names_the_derived_paths(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["config", "show"], env={"NFCBRIDGE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert f"registry_url = sqlite:///{tmp_path}/registry.db" in result.output


def test_config_with_an_unknown_key_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[station]\nnmae = "x"\n')
    result = CliRunner().invoke(cli, ["--config", str(bad), "config", "show"])
    assert result.exit_code == 3
    assert result.output.strip().splitlines() == [
        f"error: {bad}: station.nmae: unknown key (known: data_dir, name)"
    ]
