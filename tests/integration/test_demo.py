"""``nfcbridge demo``: the README's main command runs the whole path on one machine (tags,
registry, daemon, receiver), says so in a few readable lines, leaves nothing behind, and
exits 10 when the receiver's report does not match the scenario."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nfcbridge.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def run_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    for name in ("NFCBRIDGE_CONFIG", "NOTIFY_SOCKET", "NFCBRIDGE_DATA_DIR"):
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "nfcbridge.cli.main", "demo", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_runs_every_step_and_touches_nothing_outside_its_temp_dir(tmp_path: Path) -> None:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    done = run_demo(env={"HOME": str(home), "TMPDIR": str(tmp), "XDG_STATE_HOME": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for title in ("1. provision", "2. registry", "3. scenario", "4. start", "5. replay"):
        assert f"\n{title} " in out
    taps = int(re.search(r": (\d+) taps in scenario.jsonl", out).group(1))
    assert f"taps committed {taps}, delivered {taps}, pending 0, dead letters 0" in out
    assert f"events {taps} (simulated {taps})" in out
    assert "against the scenario's ground truth: EQUAL" in out
    assert re.search(r"removed \S+nfcbridge-demo-\S+ and everything in it", out)
    assert done.stderr == ""  # no log noise at the default level
    assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []


def test_demo_json_and_kept_files(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    done = run_demo("--json", "--keep", "--customers", "4", "--dir", str(work))
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is True and data["kept"] is True and data["directory"] == str(work)
    steps = data["steps"]
    assert list(steps) == ["provision", "registry", "scenario", "start", "replay", "delivery"]
    assert steps["provision"]["tags"] == 4 and steps["registry"]["attached"] == 4
    taps = steps["scenario"]["taps"]
    assert steps["replay"]["taps"] == taps
    assert steps["delivery"] == {
        "committed": taps,
        "delivered": taps,
        "pending": 0,
        "dead_letters": 0,
    }
    assert data["differences"] == []
    report = data["report"]
    assert report["origins"] == {"simulated": taps} and report["gaps"] == []
    assert len(report["double_staffing"]) == steps["scenario"]["double_staffing"] == 1
    assert len(report["missing_end"]) == steps["scenario"]["missing_end"] == 1
    assert [a["kind"] for a in report["anomalies"]] == ["unknown_tag"]
    names = {p.name for p in work.iterdir()}
    assert {"nfcbridge.toml", "registry.db", "outbox.db", "scenario.jsonl", "receiver.db"} <= names
    assert stat.S_IMODE((work / "whsec.txt").stat().st_mode) == 0o600


def test_demo_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    done = run_demo("--dir", str(tmp_path))
    assert done.returncode == 2 and "not empty" in done.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_demo_exits_10_when_the_receiver_report_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver that does not know the daemon's secret: every delivery is refused (401)
    and kept pending (retried, never dead-lettered), and the report has nothing of the
    scenario."""
    from nfcbridge import signing as signature

    monkeypatch.setattr(signature, "decode_secret", lambda _text: os.urandom(32))
    result = CliRunner().invoke(cli, ["demo", "--customers", "3", "--dir", str(tmp_path / "d")])
    assert result.exit_code == 10, result.output
    assert "dead letters 0" in result.output and "pending 0" not in result.output
    assert "differences" in result.output and "missing visit" in result.output
    assert not (tmp_path / "d").exists()
