"""Each replay carries its run id to the receiver, and ``receiver report --run`` selects one
of several replays (real receiver over HTTP, the rig's standalone station; the daemon path
through the control socket)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nfcbridge.cli.main import cli
from nfcbridge.config import load_settings
from nfcbridge.control import request
from nfcbridge.daemon import Daemon
from nfcbridge.receiver.server import ReceiverHTTPServer
from nfcbridge.sdnotify import SdNotify
from tests.support.daemon_config import config
from tests.support.receiver_events import running_receiver

SCENARIO = "\n".join(
    json.dumps(r)
    for r in (
        {"kind": "scenario", "version": 1, "name": "two doors", "start": "2026-11-24T06:00:00Z"},
        {"kind": "provider", "id": "P-01"},
        {"kind": "customer", "id": "C-1", "provider": "P-01", "household": "H-1"},
        {"kind": "tag", "uid": "04A1B2C3D4E5F6", "customer": "C-1"},
        {"kind": "staff", "id": "S-1", "provider": "P-01", "reader": "runs-s1"},
        {"kind": "visit", "staff": "S-1", "tag": "04A1B2C3D4E5F6", "start": 60, "end": 1800},
    )
)


def cli_run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverHTTPServer]:
    with running_receiver(tmp_path) as (server, _secret_file):
        yield server


def test_report_selects_one_replay_of_several(tmp_path: Path, receiver: ReceiverHTTPServer):
    day = tmp_path / "day.jsonl"
    day.write_text(SCENARIO + "\n")
    replay = ["rig", "run", str(day), "--speed", "1000", "--max-idle", "0.01", "--min-hold",
              "0.02", "--retap-gap", "0.05", "--standalone", "--forward-to", receiver.url,
              "--secret-file", str(tmp_path / "whsec.txt"), "--json"]  # fmt: skip
    first = json.loads(cli_run(*replay).stdout)["run"]
    second = json.loads(cli_run(*replay, "--run-id", "second-try").stdout)["run"]
    assert first.startswith("two-doors-") and second == "second-try"
    db = str(tmp_path / "rx.db")
    runs = json.loads(cli_run("receiver", "runs", "--db", db, "--json").stdout)
    assert [(r["run"], r["events"]) for r in runs] == [(first, 2), (second, 2)]
    both = cli_run("receiver", "report", "--db", db, "--expect", str(day), code=2)
    assert "holds 2 replays" in both.output and "--run" in both.output
    for choice in (first, second, "last"):
        one = cli_run("receiver", "report", "--db", db, "--expect", str(day), "--run", choice)
        assert "against the scenario: equal" in one.stdout
    cli_run("receiver", "report", "--db", db, "--run", "nope", code=2)


def test_a_tap_through_the_control_socket_carries_its_run(tmp_path: Path):
    daemon = Daemon(load_settings(config(tmp_path, reader="mock:runs-ctl")), notify=SdNotify(""))
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        assert daemon.ready.wait(20)
        sock = daemon.settings.control_socket
        tap = {"op": "tap", "reader": "rig", "uid": "04A1B2C3D4E5F6", "hold": 0.05}
        assert request(sock, {**tap, "run": "replay-7"})["ok"]
        bad = request(sock, {**tap, "run": "no spaces"})
        assert not bad["ok"] and "'run'" in bad["error"]
        (stored,) = daemon.outbox.events()
        assert json.loads(stored.payload)["run"] == "replay-7"
    finally:
        daemon.request_stop()
        thread.join(30)
