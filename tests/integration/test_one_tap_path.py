"""One tap path: the rig's standalone replay and a daemon fed through its control socket
send byte-identical event bodies for the same scenario (apart from the event ids)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nfcbridge import events as ev
from nfcbridge.config import load_settings
from nfcbridge.daemon import Daemon
from nfcbridge.rig.control_client import ControlClient
from nfcbridge.rig.generator import DayParameters, generate_day
from nfcbridge.rig.replay import ControlSink, replay
from nfcbridge.rig.scenario import Scenario
from nfcbridge.rig.seed import seed_registry
from nfcbridge.rig.standalone import Station, jsonl
from provisioning.registry import Registry

OPTIONS = {"speed": 1000, "max_idle": 0.02, "min_hold": 0.02, "retap_gap": 0.05}
EVENT_ID = re.compile(r'"event_id":\s*"[^"]*"')


def bodies(path: Path) -> list[str]:
    """The lines as sent, event ids blanked, in a stable order (reader, seq)."""
    lines = [EVENT_ID.sub('"event_id":"-"', line) for line in path.read_text().splitlines()]
    return sorted(lines, key=lambda line: (json.loads(line)["reader"], json.loads(line)["seq"]))


def through_the_daemon(day: Scenario, tmp_path: Path, out: Path) -> int:
    """What a rig run against a station does: `rig seed`, `nfcbridge run`, `rig run`."""
    registry_url = f"sqlite:///{tmp_path / 'rig-registry.db'}"
    with Registry.open(registry_url) as registry:
        seed_registry(registry, day, operator="rig")
    readers = "".join(
        f'[[readers]]\nname = "{s.reader}"\nurl = "mock:{s.reader}"\nretap_window = 0.0\n'
        for s in day.staff.values()
    )
    config = tmp_path / "station.toml"
    config.write_text(
        f'[station]\nname = "{day.station}"\ndata_dir = "{tmp_path / "daemon"}"\n'
        f'[registry]\nurl = "{registry_url}"\n'
        f'[control]\nsocket = "{tmp_path / "c.sock"}"\n'
        f'{readers}[[forwarders]]\ntype = "jsonl"\nname = "file"\npath = "{out}"\n'
    )
    daemon = Daemon(load_settings(config), drain_timeout=10.0)
    daemon.prepare()
    daemon.start()
    client = ControlClient(tmp_path / "c.sock")
    try:
        result = replay(day, ControlSink(client), **OPTIONS)  # type: ignore[arg-type]
    finally:
        client.close()
        daemon.shutdown()  # drains the forwarder
    assert result.errors == []
    return result.taps


def test_standalone_and_daemon_paths_send_byte_identical_event_bodies(tmp_path: Path) -> None:
    day = generate_day(DayParameters(customers=6, staff=3, anomalies=0.3, seed=7))
    standalone = tmp_path / "standalone.jsonl"
    with Station(day, jsonl(standalone), retap_window=0.0) as station:
        result = replay(day, station, **OPTIONS)  # type: ignore[arg-type]
    assert result.errors == []
    daemon = tmp_path / "daemon.jsonl"
    assert through_the_daemon(day, tmp_path, daemon) == result.taps == len(day.taps())

    assert bodies(standalone) == bodies(daemon)
    events = [json.loads(line) for line in bodies(standalone)]
    kinds = {kind for e in events for kind in e["anomalies"]}
    assert kinds <= {ev.UNKNOWN_TAG, ev.RETIRED_TAG} and kinds  # the daemon's names
    assert all(e["registry"]["customer"].startswith("ext:") for e in events if e["registry"])
