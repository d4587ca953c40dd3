"""The CLI as the desk runs it in tests: a private data directory with no config file, the
click runner with an operator name, and tags already provisioned in the SQLite registry."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nfcbridge.cli.main import cli
from provisioning.registry import Registry


def cli_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI at ``tmp_path/state`` (not yet created) with no config file."""
    monkeypatch.setenv("NFCBRIDGE_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NFCBRIDGE_CONFIG", raising=False)
    return tmp_path / "state"


def run_cli(
    *args: str, operator: str = "desk-cecilia", input: str | None = None, code: int = 0
) -> Result:
    """``nfcbridge --operator OPERATOR ARGS``, asserting it exits with ``code``."""
    result = CliRunner().invoke(cli, ["--operator", operator, *args], input=input)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


def stock(state: Path, n: int, batch: str = "roll-1") -> list[str]:
    """``n`` tags provisioned through the registry API (the provision command is another
    part) into the CLI's SQLite registry under ``state``; their UIDs."""
    with Registry.open(f"sqlite:///{state / 'registry.db'}") as reg:
        reg.open_batch(batch, operator="desk")
        return [
            reg.record_provisioned(os.urandom(7), "NTAG213", uuid.uuid4().hex, batch, "desk").uid
            for _ in range(n)
        ]
