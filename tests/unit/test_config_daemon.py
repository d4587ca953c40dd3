"""Bad configuration: one line naming the file and the key, the daemon never half-starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from tests.support.config_files import BASE, base
from tests.support.config_files import run_refused as run


@pytest.mark.parametrize(
    ("text", "code", "key", "words"),
    [
        (base() + "[outbox]\nbogus = 1\n", 3, "outbox.bogus", "unknown key"),
        (base() + "[metrics]\nlisten = 9464\n", 3, "metrics.listen", "expected str"),
        (base() + '[metrics]\nlisten = "0.0.0.0:9464"\n', 3, "metrics.listen", "loopback"),
        (base("nfc:usb"), 3, "readers[0].url", "unknown reader scheme"),
        (base("mock:x?tag=ntag999"), 3, "readers[0].url", ""),
        (
            base() + '[[forwarders]]\ntype = "webhook"\nname = "w"\nurl = "http://127.0.0.1:1/"'
            '\nsecret_file = "{d}/missing.secret"\n',
            3,
            "forwarders[0].secret_file",
            "does not exist",
        ),
        (base() + '[outbox]\npath = "{d}/no/such/dir/o.db"\n', 8, "outbox.path", "outbox"),
        (base().replace('url = "none"', 'url = "mysql://x/y"'), 8, "registry.url", ""),
        (
            base() + '[control]\nsocket = "{d}/no/such/dir/c.sock"\n',
            3,
            "control.socket",
            "does not exist",
        ),
    ],
)
def test_config_errors_name_file_and_key(
    tmp_path: Path, text: str, code: int, key: str, words: str
) -> None:
    exit_code, line = run(tmp_path, text)
    assert exit_code == code, line
    assert str(tmp_path / "bad.toml") in line and key in line and words in line


def test_missing_data_dir_is_created_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "state"
    config = tmp_path / "d.toml"
    config.write_text(
        BASE.replace("{d}", str(data)).replace("{reader}", "mock:cfg")
        + '[[forwarders]]\ntype = "webhook"\nname = "w"\nurl = "http://127.0.0.1:1/"'
        + f'\nsecret_file = "{tmp_path}/missing.secret"\n'
    )
    result = CliRunner().invoke(cli, ["run", "--config", str(config)])
    assert result.exit_code == 3  # stops at the missing secret, after the data directory
    assert data.is_dir() and data.stat().st_mode & 0o777 == 0o700


def test_data_dir_that_cannot_be_created_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    exit_code, line = run(tmp_path, base().replace('"{d}"', f'"{tmp_path}/file/sub"'))
    assert exit_code == 3 and "station.data_dir" in line and "cannot create" in line
