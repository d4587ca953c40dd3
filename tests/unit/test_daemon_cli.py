"""`nfcbridge outbox list|retry` and `nfcbridge status` without a running daemon."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.outbox import Outbox
from tests.support.events import make


def setup(tmp_path: Path) -> Path:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[station]\nname = "st"\ndata_dir = "{tmp_path}"\n[registry]\nurl = "none"\n'
    )
    box = Outbox.open(tmp_path / "outbox.db")
    for i in range(3):
        box.commit(make(event_id=f"e{i}"))
    box.register("web")
    first, second, _ = box.pending("web")
    box.mark_dead("web", first, "HTTP 422: no such reader")
    box.mark_delivered("web", [second])
    box.close()
    return config


def invoke(config: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def test_outbox_list_pending_and_dead(tmp_path: Path) -> None:
    config = setup(tmp_path)
    pending = json.loads(invoke(config, "outbox", "list", "--json").output)
    assert [(r["forwarder"], r["event_id"]) for r in pending] == [("web", "e2")]
    dead = json.loads(invoke(config, "outbox", "list", "--dead", "--json").output)
    assert [(r["event_id"], r["reason"]) for r in dead] == [("e0", "HTTP 422: no such reader")]
    assert "e0" in invoke(config, "outbox", "list", "--dead").output


def test_outbox_retry_moves_a_dead_letter_back(tmp_path: Path) -> None:
    config = setup(tmp_path)
    result = invoke(config, "outbox", "retry", "e0", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == {"retried": 1}
    pending = json.loads(invoke(config, "outbox", "list", "--json").output)
    assert [r["event_id"] for r in pending] == ["e0", "e2"]
    assert invoke(config, "outbox", "retry", "e0").exit_code == 2  # not dead any more
    assert invoke(config, "outbox", "retry").exit_code == 2  # neither id nor --all-dead
    box = Outbox.open(tmp_path / "outbox.db")
    assert len(box.dead_letters(include_retried=True)) == 1  # the row is kept
    box.close()


def test_status_without_a_daemon_reads_the_outbox(tmp_path: Path) -> None:
    config = setup(tmp_path)
    result = invoke(config, "status", "--json")
    assert result.exit_code == 11  # not running: a script or a monitor must see it
    data = json.loads(result.stdout)
    assert data["running"] is False
    (web,) = data["outbox"]["forwarders"]
    assert web["pending"] == 1 and web["dead_letters"] == 1 and web["last_delivery"]


def test_no_outbox_yet_is_exit_8(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[station]\ndata_dir = "{tmp_path}"\n')
    result = invoke(config, "outbox", "list")
    assert result.exit_code == 8 and "no outbox" in result.output
