"""What the CLI leaves on the machine and in the logs: an owner-only data directory, no
Alembic chatter on every start, reader frames only when a ``spy+`` URL asks for them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli
from tests.support.cli import cli_state

PNR = "121212-1212"
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # this checkout


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_state(tmp_path, monkeypatch)


def test_the_cli_creates_the_data_directory_owner_only_like_the_daemon(state: Path):
    result = CliRunner().invoke(cli, ["provider", "add", "P-1", "--name", "Ett"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    added = CliRunner().invoke(cli, ["customer", "add", "--provider", "P-1"], input=PNR + "\n")
    assert added.exit_code == 0, added.output
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=ENV, capture_output=True, text=True, check=True
    )


def test_opening_the_registry_at_info_logs_one_line_for_a_migration_and_none_after(
    tmp_path: Path,
):
    code = (
        "from nfcbridge.logs import configure_logging\n"
        "configure_logging('info', fmt='json')\n"
        "from provisioning.registry import Registry\n"
        "Registry.open('sqlite:///r.db').close()\n"
        "print('--- second start', flush=True)\n"
        "import sys; sys.stderr.write('--- second start\\n')\n"
        "Registry.open('sqlite:///r.db').close()\n"
    )
    first = _python(code, tmp_path).stderr.split("--- second start")
    assert "alembic" not in "".join(first)
    assert first[0].count("schema migrated") == 1 and first[1].strip() == ""
    again = _python(code, tmp_path).stderr
    assert again.replace("--- second start", "").strip() == ""  # nothing to migrate, no lines


@pytest.mark.parametrize(("level", "lines"), [("info", 0), ("debug", 1)])
def test_a_webhook_delivery_adds_no_log_line_of_its_own_at_info(
    tmp_path: Path, level: str, lines: int
):
    """httpx logs every request at INFO: at a station's default level that would be a line
    per delivered tap beside the tap's own; kept for ``debug``."""
    code = (
        "from nfcbridge.logs import configure_logging\n"
        f"configure_logging({level!r}, fmt='json')\n"
        "import httpx\n"
        "transport = httpx.MockTransport(lambda request: httpx.Response(204))\n"
        "httpx.Client(transport=transport).post('http://127.0.0.1:9/hook', content=b'{}')\n"
    )
    assert _python(code, tmp_path).stderr.count("HTTP Request: POST") == lines


def test_spy_frames_show_without_debug_and_plain_frames_never_at_debug(state: Path):
    code = (
        "from nfcbridge.cli.main import main\n"
        "import sys; sys.argv = ['nfcbridge', *sys.argv[1:]]; main()\n"
    )
    spy = subprocess.run(
        [sys.executable, "-c", code, "tag", "info", "--reader", "spy+mock:s1?tag=ntag213"],
        env=ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert '"level": "frames"' in spy.stderr and ">> 60" in spy.stderr  # GET_VERSION
    plain = subprocess.run(
        [sys.executable, "-c", code, "--debug", "tag", "info", "--reader", "mock:s2?tag=ntag213"],
        env=ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert ">> 60" not in plain.stderr  # raw frames stay below DEBUG
