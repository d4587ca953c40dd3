"""`outbox forget`: a forwarder removed from the configuration stops holding events back
from pruning, only with confirmation when it never delivered some, and never while it is
still configured. Dead letters stay."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.outbox import Outbox
from tests.support.outbox import backdate, commit, deliver, kept


def setup(tmp_path: Path) -> tuple[Path, list[str]]:
    """The archive delivered 3 old events; a retired backend delivered 2 of them, dead-
    lettered the third; the config now names only the archive."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[station]\nname = "st"\ndata_dir = "{tmp_path}"\n[registry]\nurl = "none"\n'
        f'[outbox]\nkeep_days = 7\n[[forwarders]]\ntype = "jsonl"\nname = "archive"\n'
        f'path = "{tmp_path / "taps.jsonl"}"\n'
    )
    box = Outbox.open(tmp_path / "outbox.db")
    old = commit(box, 3, prefix="old")
    deliver(box, "archive")
    deliver(box, "retired", old[:2])
    box.mark_dead("retired", box.pending("retired")[0], "gone")
    backdate(box, old, days=8)
    box.close()
    return config, old


def forget(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "outbox", "forget", *args])
    return result.exit_code, result.output


def prune(config: Path) -> dict:
    result = CliRunner().invoke(cli, ["--config", str(config), "outbox", "prune", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_forgotten_forwarder_no_longer_holds_events_back(tmp_path: Path) -> None:
    config, old = setup(tmp_path)
    assert prune(config)["removed"] == 2  # the retired one holds back nothing it delivered
    code, out = forget(config, "retired", "--json")
    assert code == 0, out
    assert json.loads(out) == {"forgotten": "retired", "undelivered": 0}
    assert prune(config)["kept_dead_letter"] == 1  # the dead letter's event stays
    box = Outbox.open(tmp_path / "outbox.db")
    try:
        assert box.forwarders() == ["archive"]
        assert kept(box) == old[2:]
        assert [d.forwarder for d in box.dead_letters()] == ["retired"]
    finally:
        box.close()


def test_undelivered_events_need_yes(tmp_path: Path) -> None:
    config, _ = setup(tmp_path)
    box = Outbox.open(tmp_path / "outbox.db")
    commit(box, 1, prefix="late")  # never delivered by the retired forwarder
    box.close()
    code, out = forget(config, "retired")
    assert code == 9 and "1 undelivered event(s)" in out
    box = Outbox.open(tmp_path / "outbox.db")
    assert "retired" in box.forwarders()  # nothing changed
    box.close()
    code, out = forget(config, "retired", "--yes")
    assert code == 0 and "forgot forwarder retired" in out


def test_a_configured_or_unknown_forwarder_is_refused(tmp_path: Path) -> None:
    config, _ = setup(tmp_path)
    code, out = forget(config, "archive")
    assert code == 2 and "remove it there first" in out
    code, out = forget(config, "nosuch")
    assert code == 2 and "no forwarder 'nosuch'" in out
