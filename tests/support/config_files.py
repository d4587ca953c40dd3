"""A minimal daemon config file for tests of bad configuration, and ``nfcbridge run`` of one
that must be refused before anything starts."""

from __future__ import annotations

import threading
from pathlib import Path

from click.testing import CliRunner

from nfcbridge.cli.main import cli

BASE = """
[station]
name = "st"
data_dir = "{d}"
[registry]
url = "none"
[[readers]]
name = "desk"
url = "{reader}"
"""


def base(reader: str = "mock:cfg") -> str:
    """The minimal config with one reader at ``reader``; ``{d}`` stands for the data dir."""
    return BASE.replace("{reader}", reader)


def run_refused(tmp_path: Path, text: str) -> tuple[int, str]:
    """`nfcbridge run` of *text* (``{d}`` replaced by ``tmp_path``): one error line, nothing
    started; its exit code and that line."""
    path = tmp_path / "bad.toml"
    path.write_text(text.replace("{d}", str(tmp_path)))
    before = threading.active_count()
    result = CliRunner().invoke(cli, ["run", "--config", str(path)])
    assert threading.active_count() == before  # nothing was started
    assert not (tmp_path / "control.sock").exists()
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return result.exit_code, lines[0]
