"""The daemon as a subprocess: a backend down for the whole tapping phase gets every event,
in sequence order per reader, once it is up; SIGTERM exits 0; status and metrics answer."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from nfcbridge.cli.main import cli
from nfcbridge.control import request as control_request
from nfcbridge.outbox import Outbox
from tests.support.harness import (
    RecordingBackend,
    free_port,
    new_secret,
    start_daemon,
    stop_daemon,
    uid_for,
    wait_ready,
    webhook_forwarder,
    write_config,
)


def test_backend_down_while_tapping_then_everything_arrives_in_order(tmp_path: Path) -> None:
    secret = new_secret()
    (tmp_path / "hook.secret").write_text(secret)
    port, metrics_port = free_port(), free_port()
    config = write_config(
        tmp_path,
        readers=[("left", "mock:outage-left"), ("right", "mock:outage-right")],
        forwarders=webhook_forwarder(f"http://127.0.0.1:{port}/taps", tmp_path / "hook.secret"),
        extra=f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n',
    )
    sock = tmp_path / "control.sock"
    proc = start_daemon(config, tmp_path / "daemon.log")
    backend = RecordingBackend(secret, port=port)
    try:
        wait_ready(proc, sock)
        acked = []
        for i in range(30):
            reader = ("left", "right")[i % 2]
            answer = control_request(
                sock, {"op": "tap", "reader": reader, "uid": uid_for(i), "hold": 0.01}
            )
            assert answer["ok"] and answer["event_id"], answer
            acked.append(answer["event_id"])
        result = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
        status = json.loads(result.stdout)
        assert status["running"] and result.exit_code == 11  # backend down: unhealthy
        assert not status["healthy"] and "backend failing" in status["problems"][0]
        assert status["outbox"]["forwarders"][0]["pending"] > 0
        assert {r["state"] for r in status["readers"]} == {"ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as r:
            text = r.read().decode()
        assert 'nfcbridge_taps_total{origin="simulated",reader="left"} 15.0' in text
        assert "nfcbridge_outbox_pending" in text
        backend.start()  # the backend comes up only now
        deadline = time.monotonic() + 60
        while backend.ids() != set(acked):
            assert time.monotonic() < deadline, len(backend.ids())
            time.sleep(0.05)
        assert stop_daemon(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        backend.stop()
    for reader in ("left", "right"):
        seqs = [
            backend.stored[i]["seq"] for i in backend.order if backend.stored[i]["reader"] == reader
        ]
        assert seqs == list(range(1, 16))  # every one, in order, first arrivals
    assert all(backend.stored[i]["origin"] == "simulated" for i in backend.order)
    box = Outbox.open(tmp_path / "outbox.db")
    assert box.event_ids() == set(acked) and box.progress("backend").pending == 0
    box.close()
    out = CliRunner().invoke(cli, ["--config", str(config), "status"]).output
    assert "daemon: not running" in out and "0 pending" in out


def test_sigterm_drains_what_the_backend_accepts_and_exits_0(tmp_path: Path) -> None:
    secret = new_secret()
    (tmp_path / "hook.secret").write_text(secret)
    backend = RecordingBackend(secret).start()
    config = write_config(
        tmp_path,
        readers=[("desk", "mock:drain-desk")],
        forwarders=webhook_forwarder(backend.url, tmp_path / "hook.secret"),
    )
    proc = start_daemon(config, tmp_path / "daemon.log")
    try:
        wait_ready(proc, tmp_path / "control.sock")
        ids = [
            control_request(
                tmp_path / "control.sock",
                {"op": "tap", "reader": "desk", "uid": uid_for(i), "hold": 0.0},
            )["event_id"]
            for i in range(10)
        ]
        assert stop_daemon(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        backend.stop()
    assert backend.ids() == set(ids)
