"""Replaying scenarios: the timeline and the control-channel client. A standalone replay of
a district day into a real receiver is in tests/integration/test_district_days.py."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from nfcbridge.rig.control_client import ControlClient, ControlRefused, ControlUnavailable
from nfcbridge.rig.generator import DayParameters, generate_day
from nfcbridge.rig.replay import ControlSink, Timeline, replay


def test_timeline_scales_and_skips_idle_stretches() -> None:
    line = Timeline([0.0, 100.0, 10_000.0, 10_050.0], speed=100, max_idle=None)
    assert [line[t] for t in (0.0, 100.0, 10_000.0, 10_050.0)] == [0.0, 1.0, 100.0, 100.5]
    idle = Timeline([0.0, 100.0, 10_000.0, 10_050.0], speed=100, max_idle=0.5)
    assert [idle[t] for t in (0.0, 100.0, 10_000.0, 10_050.0)] == [0.0, 0.5, 1.0, 1.5]


def test_replay_stops_at_the_first_refused_tap_and_names_its_line() -> None:
    day = generate_day(DayParameters(customers=4, staff=2, seed=2))

    class Refusing:
        def tap(self, reader: str, uid: str, hold: float, at: datetime | None) -> dict[str, Any]:
            raise ControlRefused("no reader named " + reader)

    result = replay(day, Refusing(), speed=1000, max_idle=0.01)
    assert result.errors and result.errors[0].startswith("line ")
    assert result.taps == 0


class StubDaemon:
    """A Unix socket answering like the daemon's control channel, recording requests."""

    def __init__(self, path: Path, answer: dict[str, Any]) -> None:
        self.requests: list[dict[str, Any]] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            for line in conn.makefile("rb"):
                self.requests.append(json.loads(line))
                try:
                    conn.sendall(json.dumps(self.answer).encode() + b"\n")
                except OSError:
                    return


def test_control_client_sends_tap_with_scenario_time(tmp_path: Path) -> None:
    stub = StubDaemon(tmp_path / "c.sock", {"ok": True, "event_id": "e1", "seq": 1})
    client = ControlClient(tmp_path / "c.sock")
    day = generate_day(DayParameters(customers=2, staff=2, seed=1, visits_per_customer=1))
    result = replay(day, ControlSink(client), speed=1000, max_idle=0.01, retap_gap=0.0)
    client.close()
    stub.sock.close()
    assert result.errors == [] and result.taps == len(day.taps())
    first = min(stub.requests, key=lambda r: r["at"])
    tap = day.taps()[0]
    assert first == {
        "op": "tap",
        "reader": tap.reader,
        "uid": tap.uid,
        "hold": 0.1,
        "at": day.at(tap.t).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def test_control_client_errors(tmp_path: Path) -> None:
    with pytest.raises(ControlUnavailable, match="control socket"):
        ControlClient(tmp_path / "none.sock").request({"op": "ping"})
    stub = StubDaemon(tmp_path / "r.sock", {"ok": False, "error": "no reader named 'x'"})
    with pytest.raises(ControlRefused, match="no reader named"):
        ControlClient(tmp_path / "r.sock").tap("x", "04A1B2C3D4E5F6", 0.1)
    stub.sock.close()
